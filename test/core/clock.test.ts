import { describe, expect, test } from "bun:test";
import { RealScheduler } from "../../src/core/clock.ts";
import { MaintenanceWindow } from "../../src/health/maintenance.ts";

const DAY = 86_400_000;

describe("RealScheduler: deadlines beyond setTimeout's 24.8-day limit", () => {
  // setTimeout takes a signed 32-bit delay: anything longer fires after 1 ms.
  test("a timer 30 days out does not fire now, and cancelling it leaves nothing pending", async () => {
    const s = new RealScheduler();
    let fired = 0;
    const cancel = s.setTimer(Date.now() + 30 * DAY, () => fired++);
    await Bun.sleep(40);
    expect(fired).toBe(0);
    expect(s.pendingCount()).toBe(1);
    cancel();
    expect(s.pendingCount()).toBe(0);
  });

  test("a monthly maintenance window (next run > 24.8 days away) does not reset the modem in a loop", async () => {
    const s = new RealScheduler();
    const runs: string[] = [];
    const w = new MaintenanceWindow({
      scheduler: s,
      // "0 3 1 * *" started on the 2nd: the next window is about 30 days away.
      schedule: { next: (after) => after + 30 * DAY, description: "monthly" },
      action: "reset-modem",
      onMaintenance: (rung) => runs.push(rung),
    });
    w.start();
    await Bun.sleep(40);
    w.stop();
    expect(runs).toEqual([]);
    expect(s.pendingCount()).toBe(0);
  });

  test("near timers still fire", async () => {
    const s = new RealScheduler();
    let fired = 0;
    s.setTimer(Date.now() + 5, () => fired++);
    await Bun.sleep(40);
    expect(fired).toBe(1);
    expect(s.pendingCount()).toBe(0);
  });
});

import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { MaintenanceWindow, maintenanceRung } from "../../src/health/maintenance.ts";
import { cronSchedule } from "../../src/health/schedule.ts";
import { RecoveryLadder } from "../../src/health/ladder.ts";
import type { RecoveryActionEvent } from "../../src/core/agent-events.ts";

const iso = (s: string) => Date.parse(s);

describe("maintenance window", () => {
  test("fires at the cron time every night, in fake time, with the configured action", () => {
    const sched = new ManualScheduler(iso("2026-03-01T12:00:00Z"));
    const fired: { rung: string; at: number }[] = [];
    const events: unknown[] = [];
    const w = new MaintenanceWindow({
      scheduler: sched,
      schedule: cronSchedule("30 4 * * *", { timezone: "UTC" }),
      action: "reset-modem",
      onMaintenance: (rung) => fired.push({ rung, at: sched.now() }),
      emit: (e) => events.push(e),
    });
    w.start();
    expect(w.nextAt).toBe(iso("2026-03-02T04:30:00Z"));
    sched.advanceTo(iso("2026-03-02T04:29:59Z"));
    expect(fired).toHaveLength(0);
    sched.advanceTo(iso("2026-03-04T00:00:00Z"));
    expect(fired).toEqual([
      { rung: "module-reset", at: iso("2026-03-02T04:30:00Z") },
      { rung: "module-reset", at: iso("2026-03-03T04:30:00Z") },
    ]);
    expect(events[0]).toEqual({ type: "recovery.maintenance", at: iso("2026-03-02T04:30:00Z"), action: "reset-modem", rung: "module-reset" });
    w.stop();
    expect(sched.pendingCount()).toBe(0);
  });

  test("a throwing callback does not stop later windows", () => {
    const sched = new ManualScheduler(iso("2026-03-01T00:00:00Z"));
    let n = 0;
    const w = new MaintenanceWindow({
      scheduler: sched,
      schedule: cronSchedule("0 * * * *", { timezone: "UTC" }),
      action: "redial",
      onMaintenance: () => {
        n++;
        throw new Error("supervisor busy");
      },
    });
    w.start();
    expect(() => sched.advanceTo(iso("2026-03-01T01:00:00Z"))).toThrow("supervisor busy");
    expect(w.nextAt).toBe(iso("2026-03-01T02:00:00Z"));
    try {
      sched.advanceTo(iso("2026-03-01T02:00:00Z"));
    } catch {}
    expect(n).toBe(2);
    w.stop();
  });

  test("wired to the ladder: the planned reset is reported forced and does not climb the backoff", () => {
    const sched = new ManualScheduler(iso("2026-03-01T00:00:00Z"));
    const actions: RecoveryActionEvent[] = [];
    const ladder = new RecoveryLadder({ backoffMs: [0, 600_000], dialFailures: 3, stableAfterMs: 600_000, powerCycle: false, reboot: false }, null, sched.now(), {
      emit: (e) => {
        if (e.type === "recovery.action") actions.push(e);
      },
    });
    ladder.onConnected(sched.now());
    const w = new MaintenanceWindow({
      scheduler: sched,
      schedule: cronSchedule("0 3 * * *", { timezone: "UTC" }),
      action: "reset-modem",
      onMaintenance: (rung) => {
        ladder.markNextForced(rung, "maintenance window");
        ladder.onActionStarted(rung, sched.now()); // what the supervisor does
      },
    });
    w.start();
    sched.advanceTo(iso("2026-03-01T03:00:00Z"));
    expect(actions).toEqual([{ type: "recovery.action", at: iso("2026-03-01T03:00:00Z"), rung: "module-reset", reason: "maintenance window", forced: true }]);
    expect(ladder.snapshot().resets).toBe(0);
    expect(maintenanceRung("redial")).toBe("redial");
    w.stop();
  });
});

/**
 * The health area wired as the agent will wire it, with a stand-in supervisor:
 * failed probes → onUnhealthy → linkLost → the ladder's decisions, then a
 * connection that stays up → the ladder resets by its own timer. Fake time.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause, type Cause } from "../../src/core/cause.ts";
import type { RecoveryRung, RecoveryStateEvent } from "../../src/core/agent-events.ts";
import { HealthMonitor } from "../../src/health/monitor.ts";
import { everySchedule } from "../../src/health/schedule.ts";
import { runMonitorUntil } from "./fake-time.ts";
import { IcmpProbe } from "../../src/health/probes.ts";
import { openPersistentLadder, ScheduledLadder } from "../../src/health/persistent-ladder.ts";

const dir = mkdtempSync(join(tmpdir(), "cellkeep-p2l-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("probe → ladder", () => {
  test("3 failed rounds → redial; dials fail → radio cycle → reset; link up 10 min → ladder reset", async () => {
    const sched = new ManualScheduler();
    const t0 = sched.now();
    const states: RecoveryStateEvent[] = [];
    const { ladder } = openPersistentLadder({
      stateFile: join(dir, "recovery.json"),
      ladder: { backoffMs: [0, 600_000], dialFailures: 3, stableAfterMs: 600_000, powerCycle: false, reboot: false },
      now: () => sched.now(),
      emit: (e) => {
        if (e.type === "recovery.state") states.push(e);
      },
    });
    const policy = new ScheduledLadder(ladder, sched);
    let pathWorks = false;
    let dialsWork = false;
    const actions: { rung: RecoveryRung; at: number }[] = [];
    const monitor = new HealthMonitor({
      scheduler: sched,
      schedule: everySchedule(30_000),
      probes: [new IcmpProbe({ ping: async () => (pathWorks ? { ok: true, rttMs: 50 } : { ok: false, rttMs: null, detail: "timeout" }) }, "8.8.8.8")],
      timeoutMs: 5000,
      failures: 3,
      onUnhealthy: (c) => supervisor.linkLost(c),
    });
    // The stand-in supervisor: acts on decisions at their time; each action's dial ends 20 s later.
    const supervisor = {
      linkLost(c: Cause) {
        monitor.setLinkUp(false);
        this.follow(policy.onLinkLost(c, sched.now()));
      },
      follow(d: { action: RecoveryRung; notBefore: number }) {
        sched.setTimer(d.notBefore, () => {
          policy.onActionStarted(d.action, sched.now(), false);
          actions.push({ rung: d.action, at: sched.now() });
          sched.setTimer(sched.now() + 20_000, () => {
            if (dialsWork) {
              policy.onConnected(sched.now());
              monitor.setLinkUp(true);
            } else this.follow(policy.onBringUpFailure(cause("no-carrier"), sched.now()));
          });
        });
      },
    };
    policy.onConnected(t0);
    monitor.start();
    monitor.setLinkUp(true);
    const runUntil = (t: number) => runMonitorUntil(sched, monitor, t);
    // Rounds at 30, 60, 90 s fail → link lost at 90 s.
    await runUntil(t0 + 154_000);
    expect(actions).toEqual([
      { rung: "redial", at: t0 + 90_000 }, // a lost link is redialled at once
      { rung: "radio-cycle", at: t0 + 115_000 }, // failed at 110 s, 5 s pause
      { rung: "module-reset", at: t0 + 135_000 }, // 3rd failure: reset at once
    ]);
    // After the reset, the network is back: the dial that ends at 155 s connects.
    dialsWork = true;
    pathWorks = true;
    await runUntil(t0 + 156_000);
    expect(monitor.nextRoundAt).toBe(t0 + 185_000);
    expect(ladder.snapshot().consecutiveFailures).toBe(3);
    // Up for stable_after (10 min from 155 s): the ladder resets by its own timer and says so.
    await runUntil(t0 + 155_000 + 600_000);
    expect(ladder.snapshot()).toMatchObject({ consecutiveFailures: 0, resets: 0, phase: "connected" });
    expect(states.at(-1)).toMatchObject({ at: t0 + 755_000, consecutiveFailures: 0, rung: null, nextActionAt: null });
    expect(JSON.parse(readFileSync(join(dir, "recovery.json"), "utf8")).consecutiveFailures).toBe(0);
    expect(monitor.consecutiveFailures).toBe(0);
    monitor.stop();
    policy.stop();
    expect(sched.pendingCount()).toBe(0);
  });
});

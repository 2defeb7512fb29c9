import type { ManualScheduler } from "../../src/core/clock.ts";

/**
 * Move fake time forward to `t` one deadline at a time, letting each probe
 * round (which awaits promises) finish before the next timer fires.
 */
export async function runMonitorUntil(sched: ManualScheduler, monitor: { settled(): Promise<void> }, t: number): Promise<void> {
  for (;;) {
    const next = sched.nextDeadline();
    if (next === null || next > t) break;
    sched.advanceTo(next);
    await monitor.settled();
  }
  sched.advanceTo(t);
  await monitor.settled();
}

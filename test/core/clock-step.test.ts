/**
 * Waits run on a monotonic clock (issue 17, "modem time"): a step of the
 * system clock (NTP, NITZ, `date -s`) must neither shorten nor stretch a
 * back-off, a ladder wait or a probe interval. The real scheduler is checked
 * with Date.now patched (the wall clock jumps, performance.now does not);
 * the fake scheduler's wall clock steps while its agent time stays.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler, RealScheduler, monotonicNow, wallOffset } from "../../src/core/clock.ts";
import { openPersistentLadder } from "../../src/health/persistent-ladder.ts";
import type { LadderOptions } from "../../src/health/ladder.ts";
import { cronSchedule } from "../../src/health/schedule.ts";
import { StatusModel } from "../../src/status/model.ts";

const M = 60_000;
const H = 60 * M;
const realDateNow = Date.now;
afterEach(() => {
  Date.now = realDateNow;
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("RealScheduler runs on monotonic time", () => {
  test("a forward step of the system clock does not fire a pending timer early", async () => {
    const s = new RealScheduler();
    let fired = 0;
    const cancel = s.setTimer(s.now() + 2_000, () => fired++);
    const before = s.now();
    Date.now = () => realDateNow() + H;
    // A far deadline is re-armed in steps; a new timer armed after the step is measured the same way.
    const cancel2 = s.setTimer(s.now() + 2_000, () => fired++);
    await Bun.sleep(50);
    expect(fired).toBe(0);
    expect(s.now() - before).toBeLessThan(30 * 60_000);
    expect(s.wallNow() - s.now()).toBeGreaterThan(H - 60_000);
    cancel();
    cancel2();
  });

  test("a backward step does not stretch a timer", async () => {
    const s = new RealScheduler();
    Date.now = () => realDateNow() - H;
    let fired = 0;
    s.setTimer(s.now() + 20, () => fired++);
    for (let i = 0; i < 100 && fired === 0; i++) await Bun.sleep(10);
    expect(fired).toBe(1);
    expect(wallOffset(s)).toBeLessThan(-H + 60_000);
  });

  test("agent time starts on the system clock", () => {
    expect(Math.abs(monotonicNow() - realDateNow())).toBeLessThan(5_000);
  });
});

describe("ManualScheduler: the wall clock steps, agent time does not", () => {
  test("stepWall moves wallNow only; timers keep their deadlines", () => {
    const s = new ManualScheduler(1_000_000);
    let fired = 0;
    s.setTimer(1_000_000 + 10 * M, () => fired++);
    s.stepWall(2 * H);
    expect(s.wallNow()).toBe(1_000_000 + 2 * H);
    expect(s.now()).toBe(1_000_000);
    s.advance(10 * M - 1);
    expect(fired).toBe(0);
    s.advance(1);
    expect(fired).toBe(1);
  });
});

describe("the ladder's waits across a clock step", () => {
  const OPTS: LadderOptions = { backoffMs: [0, 10 * M, 30 * M, 1 * H], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: false, reboot: false };

  test("a step while running changes no wait; the state file holds wall-clock times, read back after a restart", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-step-"));
    dirs.push(dir);
    const file = join(dir, "recovery.json");
    const s = new ManualScheduler(1_700_000_000_000);
    const { ladder } = openPersistentLadder({ stateFile: file, ladder: OPTS, now: () => s.now(), wallOffset: () => wallOffset(s) });
    ladder.onActionStarted("module-reset", s.now(), false);
    ladder.onActionStarted("module-reset", s.now(), false);
    const resetAt = s.now();
    // Two resets: the next waits backoff[2] = 30 min after the last one.
    expect(ladder.resetAllowedAt(s.now())).toBe(resetAt + 30 * M);
    // NTP steps the clock forward an hour: the wait is still 30 min of real time.
    s.stepWall(H);
    expect(ladder.resetAllowedAt(s.now())).toBe(resetAt + 30 * M);
    s.advance(5 * M);
    ladder.onConnected(s.now()); // any change saves the file
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved.lastResetAt).toBe(resetAt + H);

    // Restart 5 minutes later on the stepped clock: 20 min of the wait remain.
    const s2 = new ManualScheduler(s.wallNow() + 5 * M);
    const { ladder: again } = openPersistentLadder({ stateFile: file, ladder: OPTS, now: () => s2.now(), wallOffset: () => wallOffset(s2) });
    expect(again.resetAllowedAt(s2.now())).toBe(s2.now() + 20 * M);
  });
});

describe("calendar times for views", () => {
  test("a cron pattern is matched on the wall clock and returned in agent time", () => {
    const agent = Date.UTC(2025, 0, 1, 0, 0, 0);
    const sched = cronSchedule("0 3 * * *", { timezone: "UTC", wallOffset: () => H });
    // The wall clock reads 01:00: the next 03:00 is two hours of agent time away.
    expect(sched.next(agent)).toBe(agent + 2 * H);
  });

  test("/status shows absolute times on the stepped system clock", () => {
    const s = new ManualScheduler(Date.UTC(1970, 0, 2));
    const model = new StatusModel({ clock: s, version: "t", startedAt: s.now() });
    model.view.apply({ type: "modem.state", at: s.now(), state: "waiting", previous: "starting", cause: null } as never);
    // A gateway without RTC: NITZ sets the clock to 2025.
    s.setWall(Date.UTC(2025, 4, 1, 12, 0, 0));
    s.advance(1000);
    const snap = model.snapshot();
    expect(snap.now).toBe("2025-05-01T12:00:01.000Z");
    expect(snap.since).toBe("2025-05-01T12:00:00.000Z");
    expect(snap.uptime).toBe(1);
  });
});

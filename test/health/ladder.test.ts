import { describe, expect, test, afterAll } from "bun:test";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause, type CauseCode } from "../../src/core/cause.ts";
import type { RecoveryRung, RecoveryActionEvent, RecoveryStateEvent } from "../../src/core/agent-events.ts";
import type { RecoveryDecision } from "../../src/core/recovery-policy.ts";
import {
  RecoveryLadder,
  rungForFailures,
  resetRungFor,
  backoffFor,
  parseLadderSnapshot,
  freshSnapshot,
  type LadderEvent,
  type LadderOptions,
} from "../../src/health/ladder.ts";
import { openPersistentLadder } from "../../src/health/persistent-ladder.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const VENDOR: LadderOptions = { backoffMs: [0, 10 * M, 30 * M, 1 * H], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: false, reboot: false };

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cellkeep-ladder-"));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A stand-in for the modem supervisor: runs each decision at its notBefore on
 * the fake clock, tells the ladder it started, and reports the dial's outcome
 * `dialMs` later (failing while `failing()` is true).
 */
class FakeSupervisor {
  actions: { rung: RecoveryRung; at: number }[] = [];
  private cancel: (() => void) | null = null;
  constructor(
    readonly sched: ManualScheduler,
    public ladder: RecoveryLadder,
    readonly dialMs: number,
    public failing: () => boolean,
    readonly failCause: CauseCode = "no-carrier",
  ) {}
  follow(d: RecoveryDecision): void {
    this.cancel = this.sched.setTimer(d.notBefore, () => {
      const now = this.sched.now();
      this.ladder.onActionStarted(d.action, now);
      this.actions.push({ rung: d.action, at: now });
      this.cancel = this.sched.setTimer(now + this.dialMs, () => {
        const t = this.sched.now();
        if (this.failing()) this.follow(this.ladder.onBringUpFailure(cause(this.failCause), t));
        else this.ladder.onConnected(t);
      });
    });
  }
  stop(): void {
    this.cancel?.();
  }
}

describe("rung table (pure)", () => {
  const c = cause("no-carrier");
  test.each([
    // failuresSinceReset, resets, expected
    [1, 0, "redial"],
    [2, 0, "radio-cycle"],
    [3, 0, "module-reset"],
    [4, 0, "module-reset"],
    [1, 3, "redial"],
    [3, 3, "module-reset"],
  ] as const)("%i failures after %i resets → %s", (f, r, want) => {
    expect(rungForFailures(f, r, VENDOR, c)).toBe(want);
  });
  test("dial_failures = 1: reset on the first failure; = 2: redial then reset (no room for a radio cycle)", () => {
    expect(rungForFailures(1, 0, { ...VENDOR, dialFailures: 1 }, c)).toBe("module-reset");
    expect(rungForFailures(1, 0, { ...VENDOR, dialFailures: 2 }, c)).toBe("redial");
    expect(rungForFailures(2, 0, { ...VENDOR, dialFailures: 2 }, c)).toBe("module-reset");
    expect(rungForFailures(3, 0, { ...VENDOR, dialFailures: 5 }, c)).toBe("redial");
    expect(rungForFailures(4, 0, { ...VENDOR, dialFailures: 5 }, c)).toBe("radio-cycle");
  });
  test("a hung modem goes straight to a reset", () => {
    expect(rungForFailures(1, 0, VENDOR, cause("modem-hung"))).toBe("module-reset");
  });
  test("reset rungs: module resets per backoff step, then power cycle and reboot only when configured", () => {
    expect([0, 1, 2, 3, 4, 5].map((r) => resetRungFor(r, VENDOR))).toEqual(Array(6).fill("module-reset"));
    const both = { ...VENDOR, powerCycle: true, reboot: true };
    expect([0, 1, 2, 3, 4, 5, 6].map((r) => resetRungFor(r, both))).toEqual([
      "module-reset", "module-reset", "module-reset", "module-reset", "power-cycle", "reboot", "module-reset",
    ]);
    expect(resetRungFor(4, { ...VENDOR, reboot: true })).toBe("reboot");
  });
  test("backoff: listed steps, the last repeats", () => {
    expect([0, 1, 2, 3, 4, 9].map((r) => backoffFor(r, VENDOR))).toEqual([0, 10 * M, 30 * M, H, H, H]);
  });
});

describe("the whole ladder under a fake clock", () => {
  test("first failed probe → redial → radio cycle → reset at once → 10 m → 30 m → 1 h → 1 h (power cycle)", () => {
    const sched = new ManualScheduler();
    const t0 = sched.now();
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder({ ...VENDOR, powerCycle: true }, null, t0, { emit: (e) => events.push(e) });
    const sup = new FakeSupervisor(sched, ladder, 30 * S, () => true);
    // The first failed probe round makes the agent call supervisor.linkLost → the policy.
    sup.follow(ladder.onLinkLost(cause("probe-failed"), t0));
    const at = (s: number) => t0 + s * S;
    sched.advanceTo(at(10_100)); // just past the 5th reset and the tries after it
    sup.stop();
    expect(sup.actions).toEqual([
      { rung: "redial", at: at(0) },
      { rung: "radio-cycle", at: at(30) },
      { rung: "module-reset", at: at(60) }, // 3 failures → reset at once (backoff 0 s)
      { rung: "redial", at: at(90) },
      { rung: "radio-cycle", at: at(120) },
      { rung: "module-reset", at: at(150 + 600) }, // still failing → wait 10 min
      { rung: "redial", at: at(780) },
      { rung: "radio-cycle", at: at(810) },
      { rung: "module-reset", at: at(840 + 1800) }, // 30 min
      { rung: "redial", at: at(2670) },
      { rung: "radio-cycle", at: at(2700) },
      { rung: "module-reset", at: at(2730 + 3600) }, // 1 h
      { rung: "redial", at: at(6360) },
      { rung: "radio-cycle", at: at(6390) },
      { rung: "power-cycle", at: at(6420 + 3600) }, // the last step repeats; power cycle when configured
      { rung: "redial", at: at(10050) },
      { rung: "radio-cycle", at: at(10080) },
    ]);
    // Every action is a recovery.action event at its time, not forced.
    const acts = events.filter((e): e is RecoveryActionEvent => e.type === "recovery.action");
    expect(acts.map((a) => ({ rung: a.rung, at: a.at }))).toEqual(sup.actions);
    expect(acts.every((a) => !a.forced && a.reason.length > 0)).toBe(true);
    expect(acts[5]!.reason).toContain("10m");
    // While waiting for the 10-minute step, the state says so.
    const waiting = events.find(
      (e): e is RecoveryStateEvent => e.type === "recovery.state" && e.nextActionAt === at(750) && e.waitingReason !== null,
    );
    expect(waiting).toBeDefined();
    expect(waiting!.rung).toBe("module-reset");
    expect(waiting!.waitingReason).toContain("backoff");
    const last = events.filter((e) => e.type === "recovery.state").at(-1) as RecoveryStateEvent;
    expect(last.lastResetAt).toBe(at(10020));
    expect(last.consecutiveFailures).toBe(17);
  });

  test("a connection that stays up stable_after resets the ladder; one that drops sooner keeps counting", () => {
    const sched = new ManualScheduler();
    const ladder = new RecoveryLadder(VENDOR, null, sched.now());
    ladder.onLinkLost(cause("peer-dead"), sched.now());
    ladder.onActionStarted("redial", sched.now());
    ladder.onConnected(sched.now());
    sched.advance(5 * M);
    // dropped after 5 min (< 10 min): a second failure → radio cycle
    expect(ladder.onLinkLost(cause("peer-dead"), sched.now()).action).toBe("radio-cycle");
    ladder.onActionStarted("radio-cycle", sched.now());
    ladder.onConnected(sched.now());
    expect(ladder.nextDeadline()).toBe(sched.now() + 10 * M);
    sched.advance(10 * M);
    ladder.poll(sched.now());
    expect(ladder.snapshot().consecutiveFailures).toBe(0);
    expect(ladder.nextDeadline()).toBeNull();
    expect(ladder.onLinkLost(cause("peer-dead"), sched.now()).action).toBe("redial");
  });

  test("the stable reset also applies lazily when the link is lost without a poll", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    ladder.onLinkLost(cause("carrier-lost"), 0);
    ladder.onActionStarted("redial", 0);
    ladder.onBringUpFailure(cause("no-carrier"), 1);
    ladder.onActionStarted("radio-cycle", 2);
    ladder.onConnected(3);
    const d = ladder.onLinkLost(cause("carrier-lost"), 3 + 10 * M);
    expect(d.action).toBe("redial");
    expect(ladder.snapshot().consecutiveFailures).toBe(1);
  });

  test("network back-off: a named waiting state until the timer ends, no counting, no reset", () => {
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(VENDOR, null, 0, { emit: (e) => events.push(e) });
    // two failures already
    ladder.onBringUpFailure(cause("not-registered"), 0);
    ladder.onActionStarted("redial", 0);
    ladder.onBringUpFailure(cause("not-registered"), 1000);
    ladder.onActionStarted("radio-cycle", 1000);
    const until = 2000 + 12 * M;
    const d = ladder.onNetworkBackoff(until, 2000);
    expect(d).toEqual({ action: "redial", notBefore: until, reason: expect.stringContaining("network back-off") });
    expect(ladder.phase).toBe("network-backoff");
    // more failures reported while waiting (e.g. registration polls) get the same wait back
    for (const t of [3000, 60_000, 5 * M]) {
      expect(ladder.onBringUpFailure(cause("registration-denied"), t)).toEqual(d);
    }
    expect(ladder.snapshot().consecutiveFailures).toBe(2);
    const st = events.filter((e): e is RecoveryStateEvent => e.type === "recovery.state").at(-1)!;
    expect(st.waitingReason).toContain("network back-off");
    expect(st.nextActionAt).toBe(until);
    expect(events.some((e) => e.type === "recovery.action" && e.rung !== "redial" && e.rung !== "radio-cycle")).toBe(false);
    // the timer ends: redial; if that fails, the vendor count goes on from where it was
    ladder.onActionStarted("redial", until);
    expect(ladder.onBringUpFailure(cause("no-carrier"), until + 1000).action).toBe("module-reset");
  });

  test("a hung modem resets, but still waits for the backoff", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    expect(ladder.onBringUpFailure(cause("modem-hung"), 0)).toMatchObject({ action: "module-reset", notBefore: 0 });
    ladder.onActionStarted("module-reset", 0);
    expect(ladder.onBringUpFailure(cause("modem-hung"), 90 * S)).toMatchObject({ action: "module-reset", notBefore: 90 * S + 10 * M });
  });

  test("redials the supervisor makes during a reset's backoff do not push the reset further out", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    for (let i = 0; i < 3; i++) ladder.onActionStarted(ladder.onBringUpFailure(cause("no-carrier"), i).action, i); // reset #1 at t=2
    ladder.onBringUpFailure(cause("no-carrier"), 100);
    ladder.onActionStarted("redial", 100);
    ladder.onBringUpFailure(cause("no-carrier"), 200);
    ladder.onActionStarted("radio-cycle", 200);
    const d = ladder.onBringUpFailure(cause("no-carrier"), 300);
    expect(d).toMatchObject({ action: "module-reset", notBefore: 300 + 10 * M });
    // the supervisor dials anyway while waiting, and that fails again
    ladder.onActionStarted("redial", 5 * M);
    expect(ladder.onBringUpFailure(cause("no-carrier"), 6 * M)).toMatchObject({ action: "module-reset", notBefore: 300 + 10 * M });
    ladder.onActionStarted("module-reset", 300 + 10 * M);
    expect(ladder.snapshot()).toMatchObject({ resets: 2, resetDueAt: null, lastResetAt: 300 + 10 * M });
  });

  test("a planned (forced) action is reported forced and does not climb the backoff", () => {
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(VENDOR, null, 0, { emit: (e) => events.push(e) });
    ladder.onConnected(0);
    ladder.markNextForced("module-reset", "maintenance window");
    ladder.onActionStarted("module-reset", H);
    const act = events.find((e): e is RecoveryActionEvent => e.type === "recovery.action")!;
    expect(act).toMatchObject({ rung: "module-reset", forced: true, reason: "maintenance window", at: H });
    expect(ladder.snapshot().resets).toBe(0);
    expect(ladder.snapshot().lastResetAt).toBe(H);
  });

  test("a forced mark the supervisor never acted on lapses at the next failure", () => {
    const ladder = new RecoveryLadder({ ...VENDOR, dialFailures: 1 }, null, 0);
    ladder.markNextForced("module-reset", "reset requested");
    const d = ladder.onBringUpFailure(cause("no-carrier"), 10); // the request was dropped; the ladder decides a reset itself
    ladder.onActionStarted(d.action, 10);
    expect(ladder.snapshot().resets).toBe(1); // counted: the backoff climbs
  });

  test("an action the supervisor runs on request is reported once, forced, and does not climb the backoff", () => {
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(VENDOR, null, 0, { emit: (e) => events.push(e) });
    ladder.onActionStarted("module-reset", 0, true);
    const actions = events.filter((e): e is RecoveryActionEvent => e.type === "recovery.action");
    expect(actions).toEqual([{ type: "recovery.action", at: 0, rung: "module-reset", reason: "module-reset requested", forced: true }]);
    expect(ladder.snapshot().resets).toBe(0);
    expect(ladder.snapshot().lastResetAt).toBe(0);
  });
});

describe("persistence across restarts", () => {
  test("restart in the middle of a backoff waits the remainder and repeats no reset", () => {
    const dir = tmp();
    const file = join(dir, "sub", "recovery.json"); // directory does not exist yet
    const sched = new ManualScheduler();
    const t0 = sched.now();
    const a = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => sched.now() });
    const sup = new FakeSupervisor(sched, a.ladder, 30 * S, () => true);
    sup.follow(a.ladder.onLinkLost(cause("peer-dead"), t0));
    // reset #1 at t0+60s; the 3rd failure after it at t0+150s decides reset #2 at t0+750s
    sched.advanceTo(t0 + 400 * S);
    sup.stop(); // the process dies
    expect(existsSync(file)).toBe(true);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved.pending).toMatchObject({ action: "module-reset", notBefore: t0 + 750 * S });
    expect(saved.lastResetAt).toBe(t0 + 60 * S);

    // A new process with the same state file.
    const events: LadderEvent[] = [];
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => sched.now(), emit: (e) => void events.push(e as LadderEvent) });
    const first = events.find((e): e is RecoveryStateEvent => e.type === "recovery.state")!;
    expect(first).toMatchObject({ rung: "module-reset", nextActionAt: t0 + 750 * S, lastResetAt: t0 + 60 * S });
    expect(b.ladder.pending()?.notBefore).toBe(t0 + 750 * S);
    // Its first bring-up fails: the same reset, at the same time (the remainder), not a new escalation.
    const sup2 = new FakeSupervisor(sched, b.ladder, 30 * S, () => true);
    const d = b.ladder.onBringUpFailure(cause("no-carrier"), sched.now());
    expect(d).toMatchObject({ action: "module-reset", notBefore: t0 + 750 * S });
    sup2.follow(d);
    sched.advanceTo(t0 + 900 * S);
    sup2.stop();
    const resets = sup2.actions.filter((x) => x.rung === "module-reset");
    expect(resets).toEqual([{ rung: "module-reset", at: t0 + 750 * S }]);
  });

  test("a crash during a reset does not repeat it: the next failure is a redial", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    const a = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 0 });
    for (let i = 0; i < 3; i++) {
      const d = a.ladder.onBringUpFailure(cause("no-carrier"), i);
      a.ladder.onActionStarted(d.action, i);
    }
    expect(a.ladder.snapshot().rung).toBe("module-reset");
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 100 });
    expect(b.ladder.onBringUpFailure(cause("port-vanished"), 100).action).toBe("redial");
    expect(b.ladder.snapshot().resets).toBe(1);
  });

  test("a snapshot saved while connected and already stable restarts clean", () => {
    const snap = { ...freshSnapshot(0), phase: "connected" as const, consecutiveFailures: 2, failuresSinceReset: 2, connectedSince: 0, updatedAt: 20 * M };
    const l = new RecoveryLadder(VENDOR, snap, 30 * M);
    expect(l.snapshot()).toMatchObject({ phase: "idle", consecutiveFailures: 0 });
    const notYet = new RecoveryLadder(VENDOR, { ...snap, updatedAt: M }, 30 * M);
    expect(notYet.snapshot()).toMatchObject({ phase: "retrying", consecutiveFailures: 2, connectedSince: null });
  });

  test("a restart with the clock behind the saved state (no RTC, before NTP) waits the saved remainder, not decades", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    const real = Date.parse("2026-11-21T06:00:00Z");
    const a = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => real });
    a.ladder.onActionStarted("module-reset", real - 60 * S); // reset #1
    for (let i = 1; i <= 2; i++) a.ladder.onActionStarted(a.ladder.onBringUpFailure(cause("no-carrier"), real).action, real); // redial, radio cycle
    a.ladder.onBringUpFailure(cause("no-carrier"), real); // 3rd failure: reset #2 at real + 10 min
    expect(a.ladder.pending()?.notBefore).toBe(real + 10 * M);
    a.ladder.onActionStarted("redial", real + 4 * M); // dials anyway; still failing at +4 min, 6 min left
    a.ladder.onBringUpFailure(cause("no-carrier"), real + 4 * M);
    const boot = Date.parse("1970-01-01T00:00:30Z");
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => boot });
    expect(b.ladder.pending()).toMatchObject({ action: "module-reset", notBefore: boot + 6 * M });
    expect(b.ladder.onBringUpFailure(cause("no-carrier"), boot + M)).toMatchObject({ action: "module-reset", notBefore: boot + 6 * M });
  });

  test("corrupt state file: reported, kept as .corrupt, replaced by a valid fresh state", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    writeFileSync(file, "{ this is not json");
    const events: { type: string; problem?: string; message?: string; keptAs?: string | null }[] = [];
    const { ladder } = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 5, emit: (e) => void events.push(e) });
    const problem = events.find((e) => e.type === "recovery.state-file")!;
    expect(problem.problem).toBe("corrupt");
    expect(problem.message).toContain("corrupt");
    expect(problem.keptAs).toBe(`${file}.corrupt`);
    expect(readFileSync(`${file}.corrupt`, "utf8")).toBe("{ this is not json");
    expect(ladder.snapshot().consecutiveFailures).toBe(0);
    // the replacement is a valid snapshot
    expect(typeof parseLadderSnapshot(JSON.parse(readFileSync(file, "utf8")))).toBe("object");
  });

  test("valid JSON with the wrong shape is corrupt too", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    writeFileSync(file, JSON.stringify({ ...freshSnapshot(0), resets: -1 }));
    const events: { type: string; message?: string }[] = [];
    openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 5, emit: (e) => void events.push(e) });
    expect(events.find((e) => e.type === "recovery.state-file")?.message).toContain("bad resets");
    expect(parseLadderSnapshot({ ...freshSnapshot(0), pending: { action: "explode", notBefore: 1, reason: "" } })).toBe("bad pending.action");
    expect(parseLadderSnapshot([])).toBe("not a JSON object");
  });

  test("an unreadable state file (a directory in its place) is reported and replaced", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    require("node:fs").mkdirSync(file);
    const events: { type: string; problem?: string }[] = [];
    const { file: sf } = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 5, emit: (e) => void events.push(e) });
    expect(events.find((e) => e.type === "recovery.state-file")?.problem).toBe("unreadable");
    expect(existsSync(`${file}.corrupt`)).toBe(true);
    expect(sf.save(freshSnapshot(6))).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8")).updatedAt).toBe(6);
  });

  test("a write failure is reported once, not on every change", () => {
    const dir = tmp();
    const blocker = join(dir, "file-not-dir");
    writeFileSync(blocker, "x");
    const events: { type: string; problem?: string }[] = [];
    const { ladder } = openPersistentLadder({ stateFile: join(blocker, "recovery.json"), ladder: VENDOR, now: () => 0, emit: (e) => void events.push(e) });
    ladder.onBringUpFailure(cause("no-carrier"), 1);
    ladder.onActionStarted("redial", 2);
    expect(events.filter((e) => e.type === "recovery.state-file" && e.problem === "write-failed")).toHaveLength(1);
  });
});

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
  linkRungFor,
  resetRungFor,
  hardwareRungFor,
  backoffFor,
  redialPauseFor,
  operatorRetryFor,
  parseLadderSnapshot,
  freshSnapshot,
  RESET_RUNGS,
  type LadderEvent,
  type LadderOptions,
} from "../../src/health/ladder.ts";
import { CAUSE_HINTS } from "../../src/core/cause.ts";
import { causeClass } from "../../src/core/remedy.ts";
import { openPersistentLadder } from "../../src/health/persistent-ladder.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const VENDOR: LadderOptions = { backoffMs: [0, 10 * M, 30 * M, 1 * H], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: false, reboot: false };
const PC: LadderOptions = { ...VENDOR, powerCycle: true };

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
    public failCause: CauseCode = "no-carrier",
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

describe("pure tables", () => {
  test("every cause code has a remedy class", () => {
    for (const code of Object.keys(CAUSE_HINTS) as CauseCode[]) expect(["link", "network", "operator", "backoff", "module", "local"]).toContain(causeClass(code));
  });
  test.each([
    ["auth-rejected", "operator"],
    ["sim-pin-wrong", "operator"],
    ["sim-missing", "operator"],
    ["sim-puk-required", "operator"],
    ["apn-rejected", "operator"],
    ["pdp-rejected", "operator"],
    ["registration-barred", "operator"],
    ["registration-denied", "network"],
    ["not-registered", "network"],
    ["network-backoff", "backoff"],
    ["modem-hung", "module"],
    ["port-vanished", "module"],
    ["reset-undelivered", "module"],
    ["peer-dead", "link"],
    ["carrier-lost", "link"],
    ["no-carrier", "link"],
    ["terminated-after-auth", "link"],
  ] as const)("%s → %s", (code, cls) => {
    expect(causeClass(code)).toBe(cls);
  });
  test("redial pauses ramp 0, 5 s, 15 s, 30 s, 60 s, then redial_max (which also caps the ramp)", () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => redialPauseFor(n, VENDOR))).toEqual([0, 5 * S, 15 * S, 30 * S, 60 * S, 5 * M, 5 * M]);
    expect([1, 4, 5, 6].map((n) => redialPauseFor(n, { ...VENDOR, redialMaxMs: 20 * S }))).toEqual([0, 20 * S, 20 * S, 20 * S]);
  });
  test("operator faults: 1 min doubling to 1 h", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => operatorRetryFor(n, VENDOR))).toEqual([M, 2 * M, 4 * M, 8 * M, 16 * M, 32 * M, H, H, H]);
  });
  test("link rung below the reset threshold: a radio cycle just before the reset, once", () => {
    expect([1, 2].map((f) => linkRungFor(f, false, VENDOR))).toEqual(["redial", "radio-cycle"]);
    expect(linkRungFor(2, true, VENDOR)).toBe("redial");
    expect(linkRungFor(1, false, { ...VENDOR, dialFailures: 2 })).toBe("redial"); // no room for one
    expect([3, 4].map((f) => linkRungFor(f, false, { ...VENDOR, dialFailures: 5 }))).toEqual(["redial", "radio-cycle"]);
  });
  test("reset rungs of a module that answers: module resets per backoff step, then power cycle and reboot when configured", () => {
    expect([0, 1, 2, 3, 4, 5].map((r) => resetRungFor(r, VENDOR))).toEqual(Array(6).fill("module-reset"));
    const both = { ...VENDOR, powerCycle: true, reboot: true };
    expect([0, 1, 2, 3, 4, 5, 6].map((r) => resetRungFor(r, both))).toEqual([
      "module-reset", "module-reset", "module-reset", "module-reset", "power-cycle", "reboot", "module-reset",
    ]);
  });
  test("reset rungs of a module that does not answer: hardware only, none without a command", () => {
    expect(hardwareRungFor(0, VENDOR)).toBeNull();
    expect([0, 1, 4].map((r) => hardwareRungFor(r, PC))).toEqual(["power-cycle", "power-cycle", "power-cycle"]);
    expect([0, 1].map((r) => hardwareRungFor(r, { ...VENDOR, reboot: true }))).toEqual(["reboot", "reboot"]);
    expect([3, 4].map((r) => hardwareRungFor(r, { ...PC, reboot: true }))).toEqual(["power-cycle", "reboot"]);
  });
  test("backoff: listed steps, the last repeats", () => {
    expect([0, 1, 2, 3, 4, 9].map((r) => backoffFor(r, VENDOR))).toEqual([0, 10 * M, 30 * M, H, H, H]);
  });
});

describe("link faults under a fake clock", () => {
  test("redial → radio cycle → reset at once; then spaced redials, resets only at the vendor's 10 m / 30 m / 1 h spacing", () => {
    const sched = new ManualScheduler();
    const t0 = sched.now();
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(PC, null, t0, { emit: (e) => events.push(e) });
    const sup = new FakeSupervisor(sched, ladder, 30 * S, () => true);
    sup.follow(ladder.onLinkLost(cause("probe-failed"), t0));
    const at = (s: number) => t0 + s * S;
    sched.advanceTo(at(3 * 3600));
    sup.stop();
    expect(sup.actions.slice(0, 8)).toEqual([
      { rung: "redial", at: at(0) }, // a lost link is redialled at once
      { rung: "radio-cycle", at: at(35) }, // 2nd failure at 30 s, 5 s pause
      { rung: "module-reset", at: at(65) }, // 3rd failure: reset at once (backoff 0 s)
      { rung: "redial", at: at(125) }, // 30 s pause
      { rung: "redial", at: at(215) }, // 60 s
      { rung: "redial", at: at(545) }, // redial_max 5 min: reset #2 not before 65 + 600
      { rung: "redial", at: at(875) },
      { rung: "module-reset", at: at(905) }, // the first failure after 665 s
    ]);
    const resets = sup.actions.filter((a) => RESET_RUNGS.has(a.rung));
    // Spacing between resets is at least the vendor's step: 10 m, 30 m, 1 h ...
    for (let k = 1; k < resets.length; k++) expect(resets[k]!.at - resets[k - 1]!.at).toBeGreaterThanOrEqual(backoffFor(k, PC));
    expect(resets.slice(0, 4).map((r) => r.rung)).toEqual(["module-reset", "module-reset", "module-reset", "module-reset"]);
    expect(resets.length).toBeGreaterThanOrEqual(4);
    // Never a burst, never a long silence: consecutive actions are ≥ dial time apart and ≤ redial_max + dial time.
    for (let k = 1; k < sup.actions.length; k++) {
      const gap = sup.actions[k]!.at - sup.actions[k - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(30 * S);
      expect(gap).toBeLessThanOrEqual(5 * M + 30 * S);
    }
    // One radio cycle per escalation.
    expect(sup.actions.filter((a) => a.rung === "radio-cycle")).toHaveLength(1);
    const acts = events.filter((e): e is RecoveryActionEvent => e.type === "recovery.action");
    expect(acts.map((a) => ({ rung: a.rung, at: a.at }))).toEqual(sup.actions);
    expect(acts[5]!.reason).toContain("vendor's reset spacing");
    const last = events.filter((e) => e.type === "recovery.state").at(-1) as RecoveryStateEvent;
    expect(last.causeClass).toBe("link");
  });

  test("a connection that stays up stable_after ends the escalation; one that drops sooner keeps counting", () => {
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
    expect(ladder.snapshot()).toMatchObject({ consecutiveFailures: 0, radioCycled: false });
    expect(ladder.nextDeadline()).toBeNull();
    expect(ladder.onLinkLost(cause("peer-dead"), sched.now())).toMatchObject({ action: "redial", notBefore: sched.now() });
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

  test("every wait is cut short by registration returning (the decision says to watch it)", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    expect(ladder.onLinkLost(cause("carrier-lost"), 0).watchRegistration).toBe(true);
  });
});

describe("network faults", () => {
  test("registration denied: wait for the network, one radio cycle, never a reset", () => {
    const sched = new ManualScheduler();
    const ladder = new RecoveryLadder(PC, null, sched.now());
    const sup = new FakeSupervisor(sched, ladder, 2 * S, () => true, "registration-denied");
    const d = ladder.onBringUpFailure(cause("registration-denied"), sched.now());
    expect(d).toMatchObject({ action: "redial", watchRegistration: true });
    expect(ladder.phase).toBe("waiting-for-network");
    sup.follow(d);
    sched.advance(6 * H);
    sup.stop();
    expect(sup.actions.filter((a) => RESET_RUNGS.has(a.rung))).toEqual([]);
    expect(sup.actions.filter((a) => a.rung === "radio-cycle")).toHaveLength(1);
    expect(sup.actions[1]!.rung).toBe("radio-cycle");
    // polls of the network every ≤ redial_max (+ the try itself), never a burst
    for (let k = 1; k < sup.actions.length; k++) expect(sup.actions[k]!.at - sup.actions[k - 1]!.at).toBeLessThanOrEqual(5 * M + 2 * S);
    expect(ladder.stateEvent(sched.now()).waitingReason).toContain("waiting for the network");
  });

  test("a modem that stays unregistered (searching) counts toward the vendor's reset", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = ladder.onBringUpFailure(cause("not-registered"), i * 200 * S);
      seen.push(d.action);
      ladder.onActionStarted(d.action, d.notBefore);
    }
    expect(seen).toEqual(["redial", "radio-cycle", "module-reset"]);
  });

  test("network back-off: a named waiting state until the timer ends, no counting, no reset, registration not watched", () => {
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(VENDOR, null, 0, { emit: (e) => events.push(e) });
    ladder.onBringUpFailure(cause("no-carrier"), 0);
    ladder.onActionStarted("redial", 0);
    ladder.onBringUpFailure(cause("no-carrier"), 1000);
    ladder.onActionStarted("radio-cycle", 6000);
    const until = 7000 + 12 * M;
    const d = ladder.onNetworkBackoff(until, 7000);
    expect(d).toEqual({ action: "redial", notBefore: until, reason: expect.stringContaining("network back-off"), watchRegistration: false });
    expect(ladder.phase).toBe("network-backoff");
    for (const t of [8000, 60_000, 5 * M]) expect(ladder.onBringUpFailure(cause("registration-denied"), t)).toEqual(d);
    expect(ladder.snapshot().consecutiveFailures).toBe(2);
    expect(ladder.resetAllowedAt(8000)).toBe(until);
    const st = events.filter((e): e is RecoveryStateEvent => e.type === "recovery.state").at(-1)!;
    expect(st).toMatchObject({ nextActionAt: until, phase: "network-backoff" });
    expect(st.waitingReason).toContain("network back-off");
    // the timer ends: redial; if that fails, the vendor count goes on from where it was
    ladder.onActionStarted("redial", until);
    expect(ladder.onBringUpFailure(cause("no-carrier"), until + 1000).action).toBe("module-reset");
  });
});

describe("operator faults (credentials, SIM, subscription)", () => {
  test.each(["auth-rejected", "sim-pin-wrong", "apn-rejected", "registration-barred", "sim-missing"] as const)(
    "%s: blocked, retries 1 m doubling to 1 h, never a reset in 12 h",
    (code) => {
      const sched = new ManualScheduler();
      const ladder = new RecoveryLadder({ ...PC, reboot: true }, null, sched.now());
      const sup = new FakeSupervisor(sched, ladder, 3 * S, () => true, code);
      const t0 = sched.now();
      const d = ladder.onBringUpFailure(cause(code), t0);
      expect(ladder.phase).toBe("blocked");
      expect(d.reason).toContain("needs a person");
      sup.follow(d);
      sched.advance(12 * H);
      sup.stop();
      expect(sup.actions.every((a) => a.rung === "redial")).toBe(true);
      const gaps = sup.actions.map((a, k) => (k === 0 ? a.at - t0 : a.at - sup.actions[k - 1]!.at - 3 * S));
      expect(gaps.slice(0, 8)).toEqual([M, 2 * M, 4 * M, 8 * M, 16 * M, 32 * M, H, H]);
    },
  );

  test("a config reload retries now and starts the slow retry over; connecting clears it", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    ladder.onBringUpFailure(cause("auth-rejected"), 0);
    ladder.onActionStarted("redial", M);
    ladder.onBringUpFailure(cause("auth-rejected"), M);
    expect(ladder.pending()!.notBefore).toBe(3 * M);
    ladder.onConfigChanged(2 * M);
    expect(ladder.pending()).toMatchObject({ action: "redial", notBefore: 2 * M });
    ladder.onActionStarted("redial", 2 * M, true);
    expect(ladder.onBringUpFailure(cause("auth-rejected"), 2 * M + 1).notBefore).toBe(3 * M + 1); // 1 min again
    ladder.onActionStarted("redial", 3 * M + 1);
    ladder.onConnected(3 * M + 2);
    expect(ladder.snapshot().operatorFailures).toBe(0);
  });

  test("operator faults between link faults do not push the vendor count toward a reset", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    ladder.onActionStarted(ladder.onBringUpFailure(cause("no-carrier"), 0).action, 0);
    ladder.onActionStarted(ladder.onBringUpFailure(cause("auth-rejected"), 1).action, M + 1);
    ladder.onActionStarted(ladder.onBringUpFailure(cause("auth-rejected"), M + 2).action, 3 * M + 2);
    expect(ladder.snapshot().failuresSinceReset).toBe(1);
  });
});

describe("module faults", () => {
  test("a hung module with a power-cycle command: the hardware rung at once, the next one at the vendor's spacing", () => {
    const ladder = new RecoveryLadder(PC, null, 0);
    expect(ladder.onBringUpFailure(cause("modem-hung"), 0)).toMatchObject({ action: "power-cycle", notBefore: 0 });
    ladder.onActionStarted("power-cycle", 0);
    // still hung 90 s later: re-sync spaced, the next power cycle not before 10 min after the first
    const d = ladder.onBringUpFailure(cause("modem-hung"), 90 * S);
    expect(d).toMatchObject({ action: "redial", notBefore: 95 * S });
    expect(d.reason).toContain("not before");
    ladder.onActionStarted("redial", 95 * S);
    let t = 155 * S;
    let next = ladder.onBringUpFailure(cause("modem-hung"), t);
    while (next.action === "redial") {
      t = next.notBefore + 60 * S; // each sync waits out the 60 s hung limit
      ladder.onActionStarted("redial", next.notBefore);
      next = ladder.onBringUpFailure(cause("modem-hung"), t);
    }
    expect(next.action).toBe("power-cycle");
    expect(next.notBefore).toBeGreaterThanOrEqual(10 * M);
    expect(next.notBefore).toBeLessThan(10 * M + 5 * M + 60 * S);
  });

  test("without a power-cycle command no AT reset is sent into silence: spaced re-syncs only", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    const rungs: string[] = [];
    let t = 0;
    for (let i = 0; i < 10; i++) {
      const d = ladder.onBringUpFailure(cause("modem-hung"), t);
      rungs.push(d.action);
      ladder.onActionStarted(d.action, d.notBefore);
      t = d.notBefore + 60 * S;
    }
    expect(new Set(rungs)).toEqual(new Set(["redial"]));
    expect(ladder.pending()).toBeNull();
    expect(ladder.onBringUpFailure(cause("modem-hung"), t).reason).toContain("no recovery.power_cycle");
  });

  test("an AT reset that cannot be delivered does not count: the power cycle follows at once, not 10 min later", () => {
    const events: LadderEvent[] = [];
    const ladder = new RecoveryLadder(PC, null, 0, { emit: (e) => events.push(e) });
    for (let i = 0; i < 2; i++) ladder.onActionStarted(ladder.onBringUpFailure(cause("lcp-timeout"), i * S).action, i * S);
    const d = ladder.onBringUpFailure(cause("lcp-timeout"), 2 * S);
    expect(d.action).toBe("module-reset");
    ladder.onActionStarted("module-reset", 2 * S);
    expect(ladder.snapshot()).toMatchObject({ resets: 1, lastResetAt: 2 * S });
    // the module went silent: the supervisor's pre-check finds no AT answer for the hung limit
    ladder.onActionUndelivered("module-reset", 62 * S);
    expect(ladder.snapshot()).toMatchObject({ resets: 0, lastResetAt: null });
    expect(ladder.onBringUpFailure(cause("reset-undelivered"), 62 * S)).toMatchObject({ action: "power-cycle", notBefore: 62 * S });
  });

  test("a reset that ran counts even if the failure after it is a hung module", () => {
    const ladder = new RecoveryLadder(PC, null, 0);
    ladder.onActionStarted("module-reset", 0);
    ladder.onBringUpFailure(cause("modem-hung"), 100 * S);
    expect(ladder.snapshot()).toMatchObject({ resets: 1, lastResetAt: 0 });
  });
});

describe("requests and restarts of decisions", () => {
  test("a decided action answers every further failure until it starts", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    const d = ladder.onBringUpFailure(cause("auth-rejected"), 0);
    expect(ladder.onBringUpFailure(cause("auth-rejected"), 1)).toEqual(d);
    expect(ladder.onBringUpFailure(cause("no-carrier"), 2)).toEqual(d);
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

  test("resetAllowedAt follows the vendor's spacing after the last reset", () => {
    const ladder = new RecoveryLadder(VENDOR, null, 0);
    expect(ladder.resetAllowedAt(0)).toBeNull();
    ladder.onActionStarted("module-reset", 0);
    expect(ladder.resetAllowedAt(M)).toBe(10 * M);
    expect(ladder.resetAllowedAt(10 * M)).toBeNull();
  });
});

describe("persistence across restarts", () => {
  test("restart in the middle of a wait keeps the decision and the reset spacing, repeats no reset", () => {
    const dir = tmp();
    const file = join(dir, "sub", "recovery.json"); // directory does not exist yet
    const sched = new ManualScheduler();
    const t0 = sched.now();
    const a = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => sched.now() });
    const sup = new FakeSupervisor(sched, a.ladder, 30 * S, () => true);
    sup.follow(a.ladder.onLinkLost(cause("peer-dead"), t0));
    // reset #1 at t0+65s; the 3rd failure after it (t0+245s) decides a redial at t0+545s (reset #2 not before t0+665s)
    sched.advanceTo(t0 + 400 * S);
    sup.stop(); // the process dies
    expect(existsSync(file)).toBe(true);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved.pending).toMatchObject({ action: "redial", notBefore: t0 + 545 * S });
    expect(saved.lastResetAt).toBe(t0 + 65 * S);

    // A new process with the same state file.
    const events: LadderEvent[] = [];
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => sched.now(), emit: (e) => void events.push(e as LadderEvent) });
    const first = events.find((e): e is RecoveryStateEvent => e.type === "recovery.state")!;
    expect(first).toMatchObject({ rung: "redial", nextActionAt: t0 + 545 * S, lastResetAt: t0 + 65 * S, resets: 1 });
    expect(b.ladder.resetAllowedAt(sched.now())).toBe(t0 + 665 * S);
    // Its first bring-up fails: the same decision, not a new escalation.
    expect(b.ladder.onBringUpFailure(cause("no-carrier"), sched.now())).toMatchObject({ action: "redial", notBefore: t0 + 545 * S });
    const sup2 = new FakeSupervisor(sched, b.ladder, 30 * S, () => true);
    sup2.follow(b.ladder.pending()!);
    sched.advanceTo(t0 + 1000 * S);
    sup2.stop();
    expect(sup2.actions.filter((x) => x.rung === "module-reset")).toEqual([{ rung: "module-reset", at: t0 + 905 * S }]);
  });

  test("a rejected SIM PIN's fingerprint survives a restart and a stable connection", () => {
    const dir = tmp();
    const file = join(dir, "recovery.json");
    const a = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 0 });
    a.ladder.rememberRejectedPin({ salt: "ab", hash: "c".repeat(64) }, 0);
    expect(readFileSync(file, "utf8")).not.toContain("1234");
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => 10 });
    expect(b.ladder.rejectedPin()).toEqual({ salt: "ab", hash: "c".repeat(64) });
    b.ladder.onLinkLost(cause("carrier-lost"), 10);
    b.ladder.onActionStarted("redial", 10);
    b.ladder.onConnected(20);
    b.ladder.poll(20 + 10 * M);
    expect(b.ladder.rejectedPin()).not.toBeNull();
  });

  test("a version 1 state file (cellkeep 0.1) is read: counters and times carry over", () => {
    const v1 = {
      version: 1, phase: "resetting", consecutiveFailures: 4, failuresSinceReset: 1, resets: 2, lastResetAt: 1000, rung: "module-reset",
      pending: { action: "module-reset", notBefore: 5000, reason: "old" }, resetDueAt: 5000, connectedSince: null, updatedAt: 2000,
    };
    const snap = parseLadderSnapshot(v1);
    expect(typeof snap).toBe("object");
    expect(snap).toMatchObject({ version: 2, resets: 2, lastResetAt: 1000, pending: { action: "module-reset", notBefore: 5000, watchRegistration: true }, radioCycled: false, rejectedPin: null });
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
    a.ladder.onBringUpFailure(cause("auth-rejected"), real); // slow retry at real + 1 min
    expect(a.ladder.pending()?.notBefore).toBe(real + M);
    const boot = Date.parse("1970-01-01T00:00:30Z");
    const b = openPersistentLadder({ stateFile: file, ladder: VENDOR, now: () => boot });
    expect(b.ladder.pending()).toMatchObject({ action: "redial", notBefore: boot + M });
    expect(b.ladder.resetAllowedAt(boot)).toBe(boot - 60 * S + 10 * M);
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

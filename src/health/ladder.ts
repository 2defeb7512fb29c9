/**
 * The recovery ladder: decides what the modem supervisor does after a failure
 * and when. A protocol-style core: no I/O, no clock; `now` comes in with every
 * input, decisions (with their "not before" time) go out, and every change is
 * handed to injected sinks (events, persistence).
 *
 * Rungs, lightest first: redial → radio-cycle → module-reset → power-cycle
 * (only when `recovery.power_cycle` is configured) → reboot (only when
 * `recovery.reboot_command` is configured).
 *
 * The remedy follows the cause (src/core/remedy.ts has the classes):
 *  - link faults redial, spaced 0, 5 s, 15 s, 30 s, 60 s, then
 *    `recovery.redial_max` (never a burst). After `recovery.dial_failures`
 *    consecutive failures (vendor rule: 3) a module reset, the try just before
 *    it being a radio cycle (CFUN=0/1 clears network-side state a redial
 *    keeps, without a module reboot);
 *  - network faults wait for registration (the supervisor watches it and dials
 *    the moment it returns); one radio cycle per escalation; only a modem that
 *    stays unregistered (`not-registered`) counts toward a reset;
 *  - operator faults (credentials, SIM, subscription) never reset: a named
 *    state ("blocked") with retries 1 min, 2, 4 ... up to 1 h, restarted by a
 *    config reload;
 *  - module faults (no AT answer, port gone) take the hardware rung directly:
 *    an AT reset cannot reach a module that does not answer;
 *  - a network back-off (T3346/T3396) is a waiting state: no counting and no
 *    resets, because a module restart only restarts the network's timer
 *    (3GPP TS 24.301 §6.5.1.4 keeps T3396 running across re-attach).
 *
 * Vendor rule (Quectel "PPP Application Note", DESIGN.md "Resets"): reset at
 * once after 3 consecutive failed dials; if dialling still fails, the next
 * resets wait 10 min, 30 min, 1 h. Here that spaces *resets* only: the k-th
 * reset of an escalation is allowed `recovery.backoff[k]` after the previous
 * one, and until then the ladder keeps deciding spaced redials, so the link
 * comes back as soon as the network allows, whatever rung the ladder is on.
 *
 * A link that drops before it has been up `recovery.stable_after` counts as a
 * failure too (otherwise a link that connects but passes no traffic would
 * redial forever and never reach the reset the vendor recommends); staying up
 * that long ends the escalation.
 *
 * A decided action stays pending until the supervisor starts it: more failures
 * reported meanwhile (e.g. a restarted agent whose first dial failed) get the
 * same decision back instead of escalating. Together with the persisted
 * snapshot this makes restarts neither reset the backoff nor repeat a reset.
 */
import type { Cause } from "../core/cause.ts";
import { RECOVERY_RUNGS, type RecoveryActionEvent, type RecoveryRung, type RecoveryStateEvent } from "../core/agent-events.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../core/recovery-policy.ts";
import { CAUSE_CLASSES, causeClass, type CauseClass } from "../core/remedy.ts";
import type { Config } from "../config/schema.ts";
import { formatDuration } from "../config/duration.ts";

/** Where the ladder stands. */
export type LadderPhase =
  /** No failure on record (fresh, or reset by a stable connection). */
  | "idle"
  /** The link is up; failures still count until it has been up `stable_after`. */
  | "connected"
  /** A redial or radio cycle is decided or running. */
  | "retrying"
  /** A reset-class action (module reset, power cycle, reboot) is decided or running. */
  | "resetting"
  /** The network is not usable (not registered, denied): waiting for registration to return. */
  | "waiting-for-network"
  /** Credentials, SIM or subscription: only a person can fix it; slow retries, never a reset. */
  | "blocked"
  /** The network asked us to back off: wait, do not reset. */
  | "network-backoff";

export const LADDER_PHASES: readonly LadderPhase[] = ["idle", "connected", "retrying", "resetting", "waiting-for-network", "blocked", "network-backoff"];

export const RESET_RUNGS: ReadonlySet<RecoveryRung> = new Set<RecoveryRung>(["module-reset", "power-cycle", "reboot"]);
const RUNGS: readonly RecoveryRung[] = RECOVERY_RUNGS;

export interface PendingAction {
  action: RecoveryRung;
  /** Absolute ms. */
  notBefore: number;
  reason: string;
  /** The supervisor cuts the wait short when registration returns (see RecoveryDecision). */
  watchRegistration: boolean;
}

/** A salted fingerprint of a SIM PIN the SIM rejected: that PIN is never sent again, across restarts. */
export interface RejectedPin {
  salt: string;
  hash: string;
}

/** Everything the ladder remembers; persisted to `recovery.state_file` on every change. */
export interface LadderSnapshot {
  version: 2;
  phase: LadderPhase;
  /** Failures since the ladder last reset (a stable connection). */
  consecutiveFailures: number;
  /** Of those, the ones since the last reset-class action (the vendor's "consecutive failed dials"). */
  failuresSinceReset: number;
  /** Reset-class actions in this escalation; indexes `recovery.backoff`. */
  resets: number;
  /** When the last reset-class action started (ms), null if none. */
  lastResetAt: number | null;
  /** The last action started. */
  rung: RecoveryRung | null;
  /** The decided action not yet started ("next allowed action" and its time). */
  pending: PendingAction | null;
  /** When the link last came up (phase "connected"). */
  connectedSince: number | null;
  /** A radio cycle ran in this escalation (at most one). */
  radioCycled: boolean;
  /** Operator-class failures in a row: the slow retry doubles with each. */
  operatorFailures: number;
  /** The class of the last failure. */
  lastClass: CauseClass | null;
  /** The counts before the reset now running, to put back if it turns out undelivered. */
  resetUndo: { resets: number; lastResetAt: number | null } | null;
  /** The SIM PIN the SIM rejected (never sent again). */
  rejectedPin: RejectedPin | null;
  /** `now` of the input that produced this snapshot. */
  updatedAt: number;
}

export interface LadderOptions {
  /** recovery.backoff in ms; non-empty; the k-th reset waits backoffMs[k] after the previous one, the last entry repeats. */
  backoffMs: readonly number[];
  /** recovery.dial_failures (vendor: 3). */
  dialFailures: number;
  /** recovery.stable_after in ms. */
  stableAfterMs: number;
  /** recovery.power_cycle is configured. */
  powerCycle: boolean;
  /** recovery.reboot_command is configured. */
  reboot: boolean;
  /** recovery.redial_max: the longest pause between redials (default 5 min). */
  redialMaxMs?: number;
  /** recovery.operator_retry: the first slow retry after an operator fault (default 1 min). */
  operatorRetryMs?: number;
  /** recovery.operator_retry_max: the slow retry doubles up to this (default 1 h). */
  operatorRetryMaxMs?: number;
}

/** The pauses before the 1st, 2nd ... redial of an escalation; `redial_max` after the list (and caps it). */
export const REDIAL_RAMP_MS: readonly number[] = [0, 5_000, 15_000, 30_000, 60_000];
export const DEFAULT_REDIAL_MAX_MS = 5 * 60_000;
export const DEFAULT_OPERATOR_RETRY_MS = 60_000;
export const DEFAULT_OPERATOR_RETRY_MAX_MS = 60 * 60_000;

export function ladderOptionsFromConfig(recovery: Config["recovery"]): LadderOptions {
  return {
    backoffMs: recovery.backoff,
    dialFailures: recovery.dial_failures,
    stableAfterMs: recovery.stable_after,
    powerCycle: recovery.power_cycle !== undefined,
    reboot: recovery.reboot_command !== undefined,
    redialMaxMs: recovery.redial_max,
    operatorRetryMs: recovery.operator_retry,
    operatorRetryMaxMs: recovery.operator_retry_max,
  };
}

export type LadderEvent = RecoveryActionEvent | RecoveryStateEvent;

export interface LadderSinks {
  /** Every "recovery.state" and "recovery.action" event. */
  emit?: (event: LadderEvent) => void;
  /** Called with the new snapshot after every change (the state file adapter writes it). */
  persist?: (snapshot: LadderSnapshot) => void;
}

export function freshSnapshot(now: number): LadderSnapshot {
  return {
    version: 2,
    phase: "idle",
    consecutiveFailures: 0,
    failuresSinceReset: 0,
    resets: 0,
    lastResetAt: null,
    rung: null,
    pending: null,
    connectedSince: null,
    radioCycled: false,
    operatorFailures: 0,
    lastClass: null,
    resetUndo: null,
    rejectedPin: null,
    updatedAt: now,
  };
}

/**
 * The reset-class rung for the r-th reset of an escalation (0-based) of a
 * module that answers AT: module resets for each backoff step, then power
 * cycle and reboot when configured, then round again.
 */
export function resetRungFor(r: number, opts: LadderOptions): RecoveryRung {
  const cycle: RecoveryRung[] = opts.backoffMs.map(() => "module-reset" as RecoveryRung);
  if (opts.powerCycle) cycle.push("power-cycle");
  if (opts.reboot) cycle.push("reboot");
  return cycle[r % cycle.length] ?? "module-reset";
}

/**
 * The reset for a module that does not answer AT (or whose port is gone):
 * only hardware reaches it. Power cycles for each backoff step, then a reboot
 * when configured; null when neither is configured.
 */
export function hardwareRungFor(r: number, opts: LadderOptions): RecoveryRung | null {
  const cycle: RecoveryRung[] = opts.powerCycle ? opts.backoffMs.map(() => "power-cycle" as RecoveryRung) : [];
  if (opts.reboot) cycle.push("reboot");
  return cycle.length === 0 ? null : cycle[r % cycle.length]!;
}

/** The spacing before the r-th reset (0-based), counted from the previous one; the last entry repeats. */
export function backoffFor(r: number, opts: LadderOptions): number {
  const list = opts.backoffMs;
  return list[Math.min(r, list.length - 1)] ?? 0;
}

/** The pause before the redial that follows the n-th consecutive failure (1-based). */
export function redialPauseFor(n: number, opts: LadderOptions): number {
  const max = opts.redialMaxMs ?? DEFAULT_REDIAL_MAX_MS;
  const step = REDIAL_RAMP_MS[n - 1];
  return Math.min(step ?? max, max);
}

/** The slow retry after the n-th operator fault in a row (1-based): 1 min doubling to 1 h by default. */
export function operatorRetryFor(n: number, opts: LadderOptions): number {
  const first = opts.operatorRetryMs ?? DEFAULT_OPERATOR_RETRY_MS;
  const max = opts.operatorRetryMaxMs ?? DEFAULT_OPERATOR_RETRY_MAX_MS;
  return Math.min(first * 2 ** Math.min(Math.max(n - 1, 0), 30), max);
}

/** The rung a link-class failure leads to when no reset is due (pure, for the table test). */
export function linkRungFor(failuresSinceReset: number, radioCycled: boolean, opts: LadderOptions): "redial" | "radio-cycle" {
  return failuresSinceReset >= 2 && failuresSinceReset === opts.dialFailures - 1 && !radioCycled ? "radio-cycle" : "redial";
}

const ORDINAL = (n: number) => `#${n}`;
const at = (t: number) => new Date(t).toISOString();

export class RecoveryLadder implements RecoveryPolicy {
  private s: LadderSnapshot;
  private lastEmittedState = "";
  private forcedNext: { rung: RecoveryRung; reason: string } | null = null;

  /**
   * `initial` is the snapshot read from the state file (null on a first start).
   * A snapshot saved while connected is loaded as "retrying": the old process's
   * link did not survive it, but the counters do.
   */
  constructor(
    private readonly opts: LadderOptions,
    initial: LadderSnapshot | null,
    now: number,
    private readonly sinks: LadderSinks = {},
  ) {
    if (opts.backoffMs.length === 0) throw new Error("recovery.backoff must have at least one entry");
    if (initial === null) {
      this.s = freshSnapshot(now);
    } else {
      this.s = rebaseIfClockWentBack({ ...initial, pending: initial.pending ? { ...initial.pending } : null }, now);
      // A reset the old process started and never finished is not known undelivered: it counts.
      this.s.resetUndo = null;
      if (this.s.phase === "connected") {
        // The link that was up belonged to the previous process. Did it make it to stable first?
        if (this.isStable(initial.updatedAt)) this.s = { ...freshSnapshot(now), lastResetAt: this.s.lastResetAt, rejectedPin: this.s.rejectedPin };
        else this.s.phase = this.s.consecutiveFailures > 0 || this.s.resets > 0 ? "retrying" : "idle";
        this.s.connectedSince = null;
      }
    }
    this.commit(now);
  }

  // --- RecoveryPolicy ------------------------------------------------------------

  onBringUpFailure(cause: Cause, now: number): RecoveryDecision {
    return this.onFailure(cause, now, "bring-up failed");
  }

  onLinkLost(cause: Cause, now: number): RecoveryDecision {
    this.poll(now);
    return this.onFailure(cause, now, "link lost");
  }

  onNetworkBackoff(untilMs: number, now: number): RecoveryDecision {
    this.forcedNext = null;
    const until = Math.max(untilMs, now);
    this.s.phase = "network-backoff";
    this.s.lastClass = "backoff";
    this.s.connectedSince = null;
    this.s.pending = {
      action: "redial",
      notBefore: until,
      reason: `network back-off: waiting ${formatDuration(until - now)} (until ${at(until)}) without resets`,
      watchRegistration: false,
    };
    this.commit(now);
    return this.decision();
  }

  /**
   * `requested`: the supervisor runs an operator's or maintenance request. A
   * `markNextForced` mark for the same rung counts too and supplies the reason.
   */
  onActionStarted(action: RecoveryRung, now: number, requested = false): void {
    const marked = this.forcedNext !== null && this.forcedNext.rung === action;
    const forced = marked || requested;
    const reason = marked
      ? this.forcedNext!.reason
      : requested
        ? `${action} requested`
        : this.s.pending && this.s.pending.action === action
          ? this.s.pending.reason
          : `${action} started by the supervisor`;
    if (marked) this.forcedNext = null;
    if (RESET_RUNGS.has(action)) {
      this.s.resetUndo = { resets: this.s.resets, lastResetAt: this.s.lastResetAt };
      // A forced (planned) reset does not climb the backoff, but it is a reset: the count of failed dials starts over.
      if (!forced) this.s.resets++;
      this.s.failuresSinceReset = 0;
      this.s.lastResetAt = now;
      this.s.phase = "resetting";
    } else {
      if (action === "radio-cycle") this.s.radioCycled = true;
      if (this.s.phase !== "blocked" && this.s.phase !== "waiting-for-network") this.s.phase = "retrying";
    }
    this.s.connectedSince = null;
    this.s.rung = action;
    this.s.pending = null;
    this.sinks.emit?.({ type: "recovery.action", at: now, rung: action, reason, forced });
    this.commit(now);
  }

  /**
   * The reset could not reach the module: put the counts back, so the next
   * reset-class rung (the hardware one, chosen by the failure that follows)
   * is not held back by the vendor's spacing after a reset that never happened.
   */
  onActionUndelivered(action: RecoveryRung, now: number): void {
    const undo = this.s.resetUndo;
    if (RESET_RUNGS.has(action) && undo) {
      this.s.resets = undo.resets;
      this.s.lastResetAt = undo.lastResetAt;
    }
    if (action === "radio-cycle") this.s.radioCycled = false;
    this.s.resetUndo = null;
    this.commit(now);
  }

  onConnected(now: number): void {
    this.s.phase = "connected";
    this.s.connectedSince = now;
    this.s.pending = null;
    this.s.resetUndo = null;
    // Whatever a person had to fix is fixed.
    this.s.operatorFailures = 0;
    this.commit(now);
  }

  /** New credentials, PIN or APN: the slow retry starts over and a pending one is due now. */
  onConfigChanged(now: number): void {
    this.s.operatorFailures = 0;
    if (this.s.phase === "blocked" && this.s.pending && this.s.pending.notBefore > now) {
      this.s.pending = { ...this.s.pending, notBefore: now, reason: "configuration changed: retrying now" };
    }
    this.commit(now);
  }

  // --- extras for the agent ------------------------------------------------------

  /**
   * The next action the supervisor starts is a planned one (maintenance window,
   * user request): it is reported with `forced: true` and does not climb the
   * backoff. The mark lapses at the next failure the supervisor reports (the
   * request was not run), so it can never excuse a reset the ladder decided.
   */
  markNextForced(rung: RecoveryRung, reason: string): void {
    this.forcedNext = { rung, reason };
  }

  /**
   * A maintenance window asks for `rung`: refused (the reason is returned)
   * while the network's back-off (T3346/T3396) runs, since a module restart
   * only restarts the network's timer (TS 24.301 §6.5.1.4) and a dial through
   * it is futile; the next window comes soon enough. Otherwise the rung is
   * marked forced (it does not climb the backoff) and null is returned.
   */
  acceptMaintenance(rung: RecoveryRung, now: number): string | null {
    const backoffUntil = this.networkBackoffUntil(now);
    if (backoffUntil !== null) return `maintenance ${rung} skipped: the network's back-off runs until ${new Date(backoffUntil).toISOString()}`;
    this.markNextForced(rung, "maintenance window");
    return null;
  }

  /** When `poll` has something to do (the stable-connection reset), or null. */
  nextDeadline(): number | null {
    if (this.s.phase !== "connected" || this.s.connectedSince === null || this.isClean()) return null;
    return this.s.connectedSince + this.opts.stableAfterMs;
  }

  /** Apply time-driven transitions: a connection up `stable_after` ends the escalation. */
  poll(now: number): void {
    if (this.s.phase === "connected" && !this.isClean() && this.isStable(now)) {
      const since = this.s.connectedSince;
      this.s = { ...freshSnapshot(now), phase: "connected", connectedSince: since, lastResetAt: this.s.lastResetAt, rejectedPin: this.s.rejectedPin };
      this.commit(now);
    }
  }

  /** The decided action not yet started (what a restarted agent must wait for), or null. */
  pending(): RecoveryDecision | null {
    return this.s.pending ? { ...this.s.pending } : null;
  }

  /** True when a reset-class action is decided but its time has not come. */
  isWaitingForReset(now: number): boolean {
    return this.s.pending !== null && RESET_RUNGS.has(this.s.pending.action) && this.s.pending.notBefore > now;
  }

  /**
   * When the vendor's spacing next allows a reset-class action, or null if it
   * does now: the end of a network back-off, a decided reset's time, and the
   * backoff step after this escalation's last reset (the k-th reset waits
   * backoff[k] after the previous one), so an operator's request cannot slip a
   * reset in right after the ladder's own.
   */
  resetAllowedAt(now: number): number | null {
    let t = -Infinity;
    if (this.isWaitingForReset(now)) t = Math.max(t, this.s.pending!.notBefore);
    // A network back-off: a module restart would only restart the network's timer.
    t = Math.max(t, this.networkBackoffUntil(now) ?? -Infinity);
    t = Math.max(t, this.vendorResetAllowedAt());
    return t > now ? t : null;
  }

  /**
   * The end of the network's back-off (T3346/T3396) when one is running at
   * `now`, else null. The one place that answers "may we dial or reset now
   * as far as the network is concerned" for the agent's requests, the
   * maintenance window and config reloads.
   */
  networkBackoffUntil(now: number): number | null {
    const p = this.s.pending;
    return this.s.phase === "network-backoff" && p && p.notBefore > now ? p.notBefore : null;
  }

  /** The SIM PIN the SIM rejected, as a salted fingerprint (the supervisor never sends it again). */
  rejectedPin(): RejectedPin | null {
    return this.s.rejectedPin ? { ...this.s.rejectedPin } : null;
  }

  rememberRejectedPin(pin: RejectedPin | null, now: number): void {
    this.s.rejectedPin = pin ? { ...pin } : null;
    this.commit(now);
  }

  snapshot(): LadderSnapshot {
    return {
      ...this.s,
      pending: this.s.pending ? { ...this.s.pending } : null,
      resetUndo: this.s.resetUndo ? { ...this.s.resetUndo } : null,
      rejectedPin: this.s.rejectedPin ? { ...this.s.rejectedPin } : null,
    };
  }

  get phase(): LadderPhase {
    return this.s.phase;
  }

  /** The "recovery.state" view of the ladder at `now`. */
  stateEvent(now: number): RecoveryStateEvent {
    const p = this.s.pending;
    return {
      type: "recovery.state",
      at: now,
      rung: p ? p.action : this.s.rung,
      consecutiveFailures: this.s.consecutiveFailures,
      lastResetAt: this.s.lastResetAt,
      nextActionAt: p ? p.notBefore : null,
      waitingReason: p && (p.notBefore > now || this.s.phase === "network-backoff" || this.s.phase === "blocked") ? p.reason : null,
      phase: this.s.phase,
      causeClass: this.s.lastClass,
      resets: this.s.resets,
    };
  }

  // --- transitions ---------------------------------------------------------------

  private onFailure(cause: Cause, now: number, what: string): RecoveryDecision {
    // A planned action the supervisor never ran must not later pass for one of ours (it would skip the backoff).
    this.forcedNext = null;
    // A decided action that has not started yet answers every further failure: no escalation, no duplicate.
    if (this.s.pending) {
      this.commit(now);
      return this.decision();
    }
    // Whatever reset ran before this failure did reach the module.
    this.s.resetUndo = null;
    const cls = causeClass(cause);
    this.s.lastClass = cls;
    this.s.consecutiveFailures++;
    this.s.connectedSince = null;
    switch (cls) {
      case "operator":
        this.decideOperator(cause, now);
        break;
      case "module":
        this.decideModule(cause, now);
        break;
      case "network":
        this.decideNetwork(cause, now);
        break;
      case "backoff": // a back-off without its timer (the supervisor normally reports onNetworkBackoff)
      case "link":
      case "local":
        this.decideLink(cause, now, what);
        break;
    }
    this.commit(now);
    return this.decision();
  }

  private decideLink(cause: Cause, now: number, what: string): void {
    const f = ++this.s.failuresSinceReset;
    const pause = redialPauseFor(this.s.consecutiveFailures, this.opts);
    if (f >= this.opts.dialFailures) {
      const allowedAt = this.vendorResetAllowedAt();
      const rung = resetRungFor(this.s.resets, this.opts);
      if (allowedAt <= now) {
        this.setPending("resetting", rung, now, `${f} consecutive failures (last: ${cause.code}): ${rung} ${ORDINAL(this.s.resets + 1)} ${this.spacingText()}`);
        return;
      }
      this.setPending(
        "retrying",
        "redial",
        now + pause,
        `${what} (${cause.code}); ${rung} ${ORDINAL(this.s.resets + 1)} not before ${at(allowedAt)} (vendor's reset spacing): redialling meanwhile${this.inText(pause)}`,
      );
      return;
    }
    const rung = linkRungFor(f, this.s.radioCycled, this.opts);
    this.setPending("retrying", rung, now + pause, `${what} (${cause.code}), failure ${f} of ${this.opts.dialFailures} before a module reset: ${rung}${this.inText(pause)}`);
  }

  private decideNetwork(cause: Cause, now: number): void {
    const pause = redialPauseFor(this.s.consecutiveFailures, this.opts);
    // A modem that stays unregistered may be stuck in its firmware: that counts toward the vendor's
    // reset. A network that answers "denied" is not helped by one.
    if (cause.code === "not-registered") {
      const f = ++this.s.failuresSinceReset;
      if (f >= this.opts.dialFailures && this.vendorResetAllowedAt() <= now) {
        const rung = resetRungFor(this.s.resets, this.opts);
        this.setPending("resetting", rung, now, `not registered ${f} times in a row: ${rung} ${ORDINAL(this.s.resets + 1)} ${this.spacingText()}`);
        return;
      }
    }
    if (!this.s.radioCycled && this.s.consecutiveFailures >= 2) {
      this.setPending("waiting-for-network", "radio-cycle", now + pause, `${cause.code}: a radio cycle for a fresh attach (once per escalation)${this.inText(pause)}`);
      return;
    }
    this.setPending(
      "waiting-for-network",
      "redial",
      now + pause,
      `${cause.code}: waiting for the network (registration is watched; dialling as soon as it returns)${pause > 0 ? `, next try in ${formatDuration(pause)}` : ""}`,
    );
  }

  private decideOperator(cause: Cause, now: number): void {
    const n = ++this.s.operatorFailures;
    const wait = operatorRetryFor(n, this.opts);
    this.setPending(
      "blocked",
      "redial",
      now + wait,
      `${cause.code} needs a person (no reset can fix it): retrying in ${formatDuration(wait)}; a config reload (SIGHUP) or a redial request retries at once`,
    );
  }

  private decideModule(cause: Cause, now: number): void {
    this.s.failuresSinceReset++;
    const pause = redialPauseFor(this.s.consecutiveFailures, this.opts);
    const rung = hardwareRungFor(this.s.resets, this.opts);
    const why = cause.code === "modem-hung" || cause.code === "reset-undelivered" ? "the module does not answer AT" : `the module's port is gone (${cause.code})`;
    if (rung === null) {
      this.setPending(
        "retrying",
        "redial",
        now + pause,
        `${why} and no recovery.power_cycle is configured (an AT reset cannot reach it): trying again${this.inText(pause)}`,
      );
      return;
    }
    const allowedAt = this.vendorResetAllowedAt();
    if (allowedAt <= now + pause) {
      this.setPending("resetting", rung, Math.max(now, allowedAt), `${why}: ${rung} ${ORDINAL(this.s.resets + 1)} ${this.spacingText()}`);
      return;
    }
    this.setPending("retrying", "redial", now + pause, `${why}; ${rung} ${ORDINAL(this.s.resets + 1)} not before ${at(allowedAt)} (vendor's reset spacing): trying again${this.inText(pause)}`);
  }

  private setPending(phase: LadderPhase, action: RecoveryRung, notBefore: number, reason: string): void {
    this.s.phase = phase;
    this.s.pending = { action, notBefore, reason, watchRegistration: true };
  }

  /** The earliest time the vendor's spacing allows the next reset-class action (-Infinity: any time). */
  private vendorResetAllowedAt(): number {
    if (this.s.lastResetAt === null || this.s.resets === 0) return -Infinity;
    return this.s.lastResetAt + backoffFor(this.s.resets, this.opts);
  }

  private spacingText(): string {
    const wait = backoffFor(this.s.resets, this.opts);
    return this.s.resets === 0 || wait === 0 ? "at once" : `(vendor's ${formatDuration(wait)} spacing after the previous reset)`;
  }

  private inText(ms: number): string {
    return ms > 0 ? ` in ${formatDuration(ms)}` : " now";
  }

  private decision(): RecoveryDecision {
    const p = this.s.pending!;
    return { action: p.action, notBefore: p.notBefore, reason: p.reason, watchRegistration: p.watchRegistration };
  }

  private isClean(): boolean {
    return this.s.consecutiveFailures === 0 && this.s.resets === 0 && this.s.failuresSinceReset === 0 && this.s.rung === null && !this.s.radioCycled;
  }

  private isStable(now: number): boolean {
    return this.s.connectedSince !== null && now - this.s.connectedSince >= this.opts.stableAfterMs;
  }

  /** Persist and announce the state if it changed. */
  private commit(now: number): void {
    const ev = this.stateEvent(now);
    const key = JSON.stringify({ ...ev, at: 0, s: { ...this.s, updatedAt: 0 } });
    if (key === this.lastEmittedState) return;
    this.lastEmittedState = key;
    this.s.updatedAt = now;
    this.sinks.persist?.(this.snapshot());
    this.sinks.emit?.(ev);
  }
}

/**
 * A gateway without a battery-backed clock boots at 1970 (or its build date)
 * and only learns the time from NTP once the link is up. Read with such a
 * clock, absolute deadlines saved in real time would mean decades of waiting.
 * When `now` is before the snapshot's save time, shift every saved time by the
 * difference: each wait keeps what remained of it at save time (as if no time
 * had passed while we were down), which never shortens a backoff and never
 * waits longer than the backoff itself.
 */
export function rebaseIfClockWentBack(s: LadderSnapshot, now: number): LadderSnapshot {
  if (s.updatedAt <= now) return s;
  return shiftSnapshot(s, now - s.updatedAt);
}

/**
 * Every time in the snapshot moved by `d` ms: from agent time to the wall
 * clock and back at the state file (src/health/state-file.ts), and for the
 * rebase above.
 */
export function shiftSnapshot(s: LadderSnapshot, d: number): LadderSnapshot {
  if (d === 0) return s;
  const shift = (t: number | null) => (t === null ? null : t + d);
  return {
    ...s,
    lastResetAt: shift(s.lastResetAt),
    connectedSince: shift(s.connectedSince),
    pending: s.pending ? { ...s.pending, notBefore: s.pending.notBefore + d } : null,
    resetUndo: s.resetUndo ? { ...s.resetUndo, lastResetAt: shift(s.resetUndo.lastResetAt) } : null,
    updatedAt: s.updatedAt + d,
  };
}

/**
 * Check untrusted JSON (the state file) against the snapshot shape; returns
 * the snapshot or a message. Version 1 files (cellkeep 0.1) are read too:
 * their counters and times carry over, the new fields start empty.
 */
export function parseLadderSnapshot(value: unknown): LadderSnapshot | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const o = value as Record<string, unknown>;
  if (o.version !== 1 && o.version !== 2) return `unknown version ${JSON.stringify(o.version)}`;
  if (typeof o.phase !== "string" || !(LADDER_PHASES as readonly string[]).includes(o.phase)) return `bad phase ${JSON.stringify(o.phase)}`;
  const count = (k: string) => typeof o[k] === "number" && Number.isInteger(o[k]) && (o[k] as number) >= 0;
  const timeOrNull = (x: unknown) => x === null || (typeof x === "number" && Number.isFinite(x));
  for (const k of ["consecutiveFailures", "failuresSinceReset", "resets"]) if (!count(k)) return `bad ${k}`;
  if (!timeOrNull(o.lastResetAt)) return "bad lastResetAt";
  if (!timeOrNull(o.connectedSince)) return "bad connectedSince";
  if (typeof o.updatedAt !== "number" || !Number.isFinite(o.updatedAt)) return "bad updatedAt";
  if (o.rung !== null && !(RUNGS as readonly unknown[]).includes(o.rung)) return `bad rung ${JSON.stringify(o.rung)}`;
  let pending: PendingAction | null = null;
  if (o.pending !== null) {
    const p = o.pending as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) return "bad pending";
    if (!(RUNGS as readonly unknown[]).includes(p.action)) return "bad pending.action";
    if (typeof p.notBefore !== "number" || !Number.isFinite(p.notBefore)) return "bad pending.notBefore";
    if (typeof p.reason !== "string") return "bad pending.reason";
    if (p.watchRegistration !== undefined && typeof p.watchRegistration !== "boolean") return "bad pending.watchRegistration";
    pending = { action: p.action as RecoveryRung, notBefore: p.notBefore, reason: p.reason, watchRegistration: p.watchRegistration !== false };
  }
  const base: LadderSnapshot = {
    ...freshSnapshot(o.updatedAt),
    phase: o.phase as LadderPhase,
    consecutiveFailures: o.consecutiveFailures as number,
    failuresSinceReset: o.failuresSinceReset as number,
    resets: o.resets as number,
    lastResetAt: o.lastResetAt as number | null,
    rung: o.rung as RecoveryRung | null,
    pending,
    connectedSince: o.connectedSince as number | null,
  };
  if (o.version === 1) return base;
  if (typeof o.radioCycled !== "boolean") return "bad radioCycled";
  if (!count("operatorFailures")) return "bad operatorFailures";
  if (o.lastClass !== null && !(CAUSE_CLASSES as readonly unknown[]).includes(o.lastClass)) return `bad lastClass ${JSON.stringify(o.lastClass)}`;
  let resetUndo: LadderSnapshot["resetUndo"] = null;
  if (o.resetUndo !== null && o.resetUndo !== undefined) {
    const u = o.resetUndo as Record<string, unknown>;
    if (typeof u !== "object" || !(typeof u.resets === "number" && Number.isInteger(u.resets) && u.resets >= 0) || !timeOrNull(u.lastResetAt)) return "bad resetUndo";
    resetUndo = { resets: u.resets, lastResetAt: u.lastResetAt as number | null };
  }
  let rejectedPin: RejectedPin | null = null;
  if (o.rejectedPin !== null && o.rejectedPin !== undefined) {
    const r = o.rejectedPin as Record<string, unknown>;
    if (typeof r !== "object" || typeof r.salt !== "string" || typeof r.hash !== "string" || !/^[0-9a-f]{64}$/.test(r.hash)) return "bad rejectedPin";
    rejectedPin = { salt: r.salt, hash: r.hash };
  }
  return {
    ...base,
    version: 2,
    radioCycled: o.radioCycled,
    operatorFailures: o.operatorFailures as number,
    lastClass: o.lastClass as CauseClass | null,
    resetUndo,
    rejectedPin,
  };
}

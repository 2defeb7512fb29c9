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
 * Vendor rule (Quectel "PPP Application Note", also DESIGN.md "Resets"): after
 * 3 consecutive failed dials reset the module at once; if dialling still fails,
 * wait 10 minutes before the second reset, 30 minutes before the third and
 * 1 hour before the fourth. The module must not be power-cycled often. So:
 *  - failures count from the last reset-class action (`failuresSinceReset`);
 *    reaching `recovery.dial_failures` chooses a reset-class rung;
 *  - the k-th reset-class action of an escalation waits `recovery.backoff[k]`
 *    from the moment dialling is known to still fail (the last entry repeats);
 *  - below the threshold we redial, and the try just before the reset is a
 *    radio cycle (CFUN=0/1 re-registers, which clears network-side state a plain
 *    redial keeps, without a module reboot);
 *  - a link that drops before it has been up `recovery.stable_after` counts as
 *    a failure too (otherwise a link that connects but passes no traffic would
 *    redial forever and never reach the reset the vendor recommends); staying
 *    up that long resets the ladder;
 *  - a network back-off (T3396 and friends) is a named waiting state: no
 *    counting and no resets, because a module restart only restarts the
 *    network's timer (3GPP TS 24.301 §6.5.1.4 keeps T3396 running across
 *    re-attach).
 *
 * A decided action stays pending until the supervisor starts it: more failures
 * reported meanwhile (e.g. a restarted agent whose first dial failed) get the
 * same decision back instead of escalating. Together with the persisted
 * snapshot this makes restarts neither reset the backoff nor repeat a reset.
 */
import type { Cause } from "../core/cause.ts";
import type { RecoveryActionEvent, RecoveryRung, RecoveryStateEvent } from "../core/agent-events.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../core/recovery-policy.ts";
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
  /** A reset-class action (module reset, power cycle, reboot) is decided, waiting for its backoff, or running. */
  | "resetting"
  /** The network asked us to back off: wait, do not reset. */
  | "network-backoff";

export const LADDER_PHASES: readonly LadderPhase[] = ["idle", "connected", "retrying", "resetting", "network-backoff"];

export const RESET_RUNGS: ReadonlySet<RecoveryRung> = new Set<RecoveryRung>(["module-reset", "power-cycle", "reboot"]);
const RUNGS: readonly RecoveryRung[] = ["redial", "radio-cycle", "module-reset", "power-cycle", "reboot"];

export interface PendingAction {
  action: RecoveryRung;
  /** Absolute ms. */
  notBefore: number;
  reason: string;
}

/** Everything the ladder remembers; persisted to `recovery.state_file` on every change. */
export interface LadderSnapshot {
  version: 1;
  phase: LadderPhase;
  /** Failed bring-ups and unstable link losses since the ladder last reset. */
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
  /**
   * When the next reset-class action is allowed, fixed when it is first decided
   * and kept until a reset starts: redials the supervisor makes meanwhile do not
   * push the reset further out.
   */
  resetDueAt: number | null;
  /** When the link last came up (phase "connected"). */
  connectedSince: number | null;
  /** `now` of the input that produced this snapshot. */
  updatedAt: number;
}

export interface LadderOptions {
  /** recovery.backoff in ms; non-empty; the k-th reset waits backoffMs[k], the last entry repeats. */
  backoffMs: readonly number[];
  /** recovery.dial_failures (vendor: 3). */
  dialFailures: number;
  /** recovery.stable_after in ms. */
  stableAfterMs: number;
  /** recovery.power_cycle is configured. */
  powerCycle: boolean;
  /** recovery.reboot_command is configured. */
  reboot: boolean;
  /** Pause before a redial after a failed bring-up (a lost link is redialled at once). Default 0. */
  redialPauseMs?: number;
}

export function ladderOptionsFromConfig(recovery: Config["recovery"]): LadderOptions {
  return {
    backoffMs: recovery.backoff,
    dialFailures: recovery.dial_failures,
    stableAfterMs: recovery.stable_after,
    powerCycle: recovery.power_cycle !== undefined,
    reboot: recovery.reboot_command !== undefined,
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
    version: 1,
    phase: "idle",
    consecutiveFailures: 0,
    failuresSinceReset: 0,
    resets: 0,
    lastResetAt: null,
    rung: null,
    pending: null,
    resetDueAt: null,
    connectedSince: null,
    updatedAt: now,
  };
}

/** The reset-class rung for the r-th reset of an escalation (0-based): module resets for each backoff step, then power cycle and reboot when configured, then round again. */
export function resetRungFor(r: number, opts: LadderOptions): RecoveryRung {
  const cycle: RecoveryRung[] = opts.backoffMs.map(() => "module-reset" as RecoveryRung);
  if (opts.powerCycle) cycle.push("power-cycle");
  if (opts.reboot) cycle.push("reboot");
  return cycle[r % cycle.length] ?? "module-reset";
}

/** The wait before the r-th reset (0-based); the last entry repeats. */
export function backoffFor(r: number, opts: LadderOptions): number {
  const list = opts.backoffMs;
  return list[Math.min(r, list.length - 1)] ?? 0;
}

/**
 * Which rung follows `failuresSinceReset` failures (already counting the new
 * one). Pure, so the table is tested directly.
 */
export function rungForFailures(failuresSinceReset: number, resets: number, opts: LadderOptions, cause: Cause): RecoveryRung {
  // DESIGN.md bring-up step 7: no answer to AT for 60 s → the module is hung → reset, no redials.
  if (cause.code === "modem-hung" || failuresSinceReset >= opts.dialFailures) return resetRungFor(resets, opts);
  if (failuresSinceReset >= 2 && failuresSinceReset === opts.dialFailures - 1) return "radio-cycle";
  return "redial";
}

const ORDINAL = (n: number) => `#${n}`;

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
      if (this.s.phase === "connected") {
        // The link that was up belonged to the previous process. Did it make it to stable first?
        if (this.isStable(initial.updatedAt)) this.s = { ...freshSnapshot(now) };
        else this.s.phase = this.s.consecutiveFailures > 0 || this.s.resets > 0 ? "retrying" : "idle";
        this.s.connectedSince = null;
      }
    }
    this.commit(now);
  }

  // --- RecoveryPolicy ------------------------------------------------------------

  onBringUpFailure(cause: Cause, now: number): RecoveryDecision {
    return this.onFailure(cause, now, this.opts.redialPauseMs ?? 0, "bring-up failed");
  }

  onLinkLost(cause: Cause, now: number): RecoveryDecision {
    this.poll(now);
    return this.onFailure(cause, now, 0, "link lost");
  }

  onNetworkBackoff(untilMs: number, now: number): RecoveryDecision {
    this.forcedNext = null;
    const until = Math.max(untilMs, now);
    this.s.phase = "network-backoff";
    this.s.connectedSince = null;
    this.s.pending = {
      action: "redial",
      notBefore: until,
      reason: `network back-off: waiting ${formatDuration(until - now)} (until ${new Date(until).toISOString()}) without resets`,
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
      // A forced (planned) reset does not climb the backoff, but it is a reset: the count of failed dials starts over.
      if (!forced) this.s.resets++;
      this.s.failuresSinceReset = 0;
      this.s.resetDueAt = null;
      this.s.lastResetAt = now;
      this.s.phase = "resetting";
    } else {
      this.s.phase = "retrying";
    }
    this.s.connectedSince = null;
    this.s.rung = action;
    this.s.pending = null;
    this.sinks.emit?.({ type: "recovery.action", at: now, rung: action, reason, forced });
    this.commit(now);
  }

  onConnected(now: number): void {
    this.s.phase = "connected";
    this.s.connectedSince = now;
    this.s.pending = null;
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

  /** When `poll` has something to do (the stable-connection reset), or null. */
  nextDeadline(): number | null {
    if (this.s.phase !== "connected" || this.s.connectedSince === null || this.isClean()) return null;
    return this.s.connectedSince + this.opts.stableAfterMs;
  }

  /** Apply time-driven transitions: a connection up `stable_after` resets the ladder. */
  poll(now: number): void {
    if (this.s.phase === "connected" && !this.isClean() && this.isStable(now)) {
      const since = this.s.connectedSince;
      this.s = { ...freshSnapshot(now), phase: "connected", connectedSince: since, lastResetAt: this.s.lastResetAt };
      this.commit(now);
    }
  }

  /** The decided action not yet started (what a restarted agent must wait for), or null. */
  pending(): RecoveryDecision | null {
    return this.s.pending ? { ...this.s.pending } : null;
  }

  /** True when a reset-class action is decided but its backoff has not ended. */
  isWaitingForReset(now: number): boolean {
    return this.s.pending !== null && RESET_RUNGS.has(this.s.pending.action) && this.s.pending.notBefore > now;
  }

  /**
   * When the vendor's spacing next allows a reset-class action, or null if it
   * does now: the end of a network back-off, a decided reset's time, the due time fixed for one being counted
   * toward, and the backoff step after this escalation's last reset (the k-th
   * reset waits backoff[k]), so an operator's request cannot slip a reset in
   * right after the ladder's own.
   */
  resetAllowedAt(now: number): number | null {
    let at = -Infinity;
    if (this.isWaitingForReset(now)) at = Math.max(at, this.s.pending!.notBefore);
    // A network back-off: a module restart would only restart the network's timer.
    if (this.s.phase === "network-backoff" && this.s.pending) at = Math.max(at, this.s.pending.notBefore);
    if (this.s.resetDueAt !== null) at = Math.max(at, this.s.resetDueAt);
    if (this.s.resets > 0 && this.s.lastResetAt !== null) at = Math.max(at, this.s.lastResetAt + backoffFor(this.s.resets, this.opts));
    return at > now ? at : null;
  }

  snapshot(): LadderSnapshot {
    return { ...this.s, pending: this.s.pending ? { ...this.s.pending } : null };
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
      waitingReason: p && (p.notBefore > now || this.s.phase === "network-backoff") ? p.reason : null,
    };
  }

  // --- transitions ---------------------------------------------------------------

  private onFailure(cause: Cause, now: number, pauseMs: number, what: string): RecoveryDecision {
    // A planned action the supervisor never ran must not later pass for one of ours (it would skip the backoff).
    this.forcedNext = null;
    // A decided action that has not started yet answers every further failure: no escalation, no duplicate.
    if (this.s.pending) {
      this.commit(now);
      return this.decision();
    }
    this.s.consecutiveFailures++;
    this.s.failuresSinceReset++;
    this.s.connectedSince = null;
    const rung = rungForFailures(this.s.failuresSinceReset, this.s.resets, this.opts, cause);
    if (RESET_RUNGS.has(rung)) {
      const wait = backoffFor(this.s.resets, this.opts);
      if (this.s.resetDueAt === null) this.s.resetDueAt = now + wait;
      const notBefore = Math.max(now, this.s.resetDueAt);
      const why =
        cause.code === "modem-hung"
          ? "the modem is hung (no AT answer)"
          : `${this.s.failuresSinceReset} consecutive failures (last: ${cause.code})`;
      this.s.phase = "resetting";
      this.s.pending = {
        action: rung,
        notBefore,
        reason: `${why}: ${rung} ${ORDINAL(this.s.resets + 1)}${wait > 0 ? ` after the vendor's ${formatDuration(wait)} backoff` : " at once"}`,
      };
    } else {
      this.s.phase = "retrying";
      this.s.pending = {
        action: rung,
        notBefore: now + pauseMs,
        reason: `${what} (${cause.code}), failure ${this.s.failuresSinceReset} of ${this.opts.dialFailures} before a module reset: ${rung}`,
      };
    }
    this.commit(now);
    return this.decision();
  }

  private decision(): RecoveryDecision {
    const p = this.s.pending!;
    return { action: p.action, notBefore: p.notBefore, reason: p.reason };
  }

  private isClean(): boolean {
    return this.s.consecutiveFailures === 0 && this.s.resets === 0 && this.s.failuresSinceReset === 0 && this.s.rung === null;
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
  const d = now - s.updatedAt;
  const shift = (t: number | null) => (t === null ? null : t + d);
  return {
    ...s,
    lastResetAt: shift(s.lastResetAt),
    resetDueAt: shift(s.resetDueAt),
    connectedSince: shift(s.connectedSince),
    pending: s.pending ? { ...s.pending, notBefore: s.pending.notBefore + d } : null,
    updatedAt: now,
  };
}

/** Check untrusted JSON (the state file) against the snapshot shape; returns the snapshot or a message. */
export function parseLadderSnapshot(value: unknown): LadderSnapshot | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const o = value as Record<string, unknown>;
  if (o.version !== 1) return `unknown version ${JSON.stringify(o.version)}`;
  if (typeof o.phase !== "string" || !(LADDER_PHASES as readonly string[]).includes(o.phase)) return `bad phase ${JSON.stringify(o.phase)}`;
  const count = (k: string) => typeof o[k] === "number" && Number.isInteger(o[k]) && (o[k] as number) >= 0;
  const timeOrNull = (x: unknown) => x === null || (typeof x === "number" && Number.isFinite(x));
  for (const k of ["consecutiveFailures", "failuresSinceReset", "resets"]) if (!count(k)) return `bad ${k}`;
  if (!timeOrNull(o.lastResetAt)) return "bad lastResetAt";
  if (!timeOrNull(o.connectedSince)) return "bad connectedSince";
  if (o.resetDueAt !== undefined && !timeOrNull(o.resetDueAt)) return "bad resetDueAt";
  if (typeof o.updatedAt !== "number" || !Number.isFinite(o.updatedAt)) return "bad updatedAt";
  if (o.rung !== null && !(RUNGS as readonly unknown[]).includes(o.rung)) return `bad rung ${JSON.stringify(o.rung)}`;
  let pending: PendingAction | null = null;
  if (o.pending !== null) {
    const p = o.pending as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) return "bad pending";
    if (!(RUNGS as readonly unknown[]).includes(p.action)) return "bad pending.action";
    if (typeof p.notBefore !== "number" || !Number.isFinite(p.notBefore)) return "bad pending.notBefore";
    if (typeof p.reason !== "string") return "bad pending.reason";
    pending = { action: p.action as RecoveryRung, notBefore: p.notBefore, reason: p.reason };
  }
  return {
    version: 1,
    phase: o.phase as LadderPhase,
    consecutiveFailures: o.consecutiveFailures as number,
    failuresSinceReset: o.failuresSinceReset as number,
    resets: o.resets as number,
    lastResetAt: o.lastResetAt as number | null,
    rung: o.rung as RecoveryRung | null,
    pending,
    resetDueAt: (o.resetDueAt as number | null | undefined) ?? null,
    connectedSince: o.connectedSince as number | null,
    updatedAt: o.updatedAt,
  };
}

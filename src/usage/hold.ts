/**
 * The `stop` cap as recovery policy: a link hung up for data-cap-reached (or
 * a bring-up refused before dialling for it) stays down until the cycle ends
 * or a person resumes. It wraps the recovery policy (the ladder) and answers
 * those failures itself, so a cap never counts as a link fault, never climbs
 * the ladder and never triggers a reset; every other report goes to the
 * ladder unchanged.
 *
 * The supervisor sits in "waiting" (cause data-cap-reached) until the
 * decision's time; a resume raises a redial, which ends the wait at once.
 */
import type { Cause } from "../core/cause.ts";
import type { RecoveryRung } from "../core/agent-events.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../core/recovery-policy.ts";

export interface UsageHoldSource {
  /** While `stop` is enforced: when it ends by itself; null when the link may come up. */
  holdUntil(now: number): number | null;
}

export class UsageHoldPolicy implements RecoveryPolicy {
  /** The last decision was a hold: the redial that ends it is ours, not the ladder's escalation. */
  private isHolding = false;

  constructor(
    private readonly inner: RecoveryPolicy,
    private readonly usage: UsageHoldSource,
    /** Reports the redial after a hold as a planned one (ladder.markNextForced); optional. */
    private readonly markPlanned?: (reason: string) => void,
  ) {}

  /** The supervisor waits on this policy's hold (not on a ladder decision). */
  get holding(): boolean {
    return this.isHolding;
  }

  /** While held: when the hold ends (for the watchdog's notion of progress); else null. */
  heldUntil(now: number): number | null {
    return this.isHolding ? this.usage.holdUntil(now) : null;
  }

  onBringUpFailure(cause: Cause, now: number): RecoveryDecision {
    return this.hold(cause, now) ?? this.inner.onBringUpFailure(cause, now);
  }

  onLinkLost(cause: Cause, now: number): RecoveryDecision {
    return this.hold(cause, now) ?? this.inner.onLinkLost(cause, now);
  }

  onNetworkBackoff(untilMs: number, now: number): RecoveryDecision {
    this.isHolding = false;
    return this.inner.onNetworkBackoff(untilMs, now);
  }

  onActionStarted(action: RecoveryRung, now: number, forced: boolean): void {
    if (this.isHolding && action === "redial") this.markPlanned?.("data usage: the cap no longer holds the link (new cycle or resumed)");
    this.isHolding = false;
    this.inner.onActionStarted(action, now, forced);
  }

  onActionUndelivered(action: RecoveryRung, now: number): void {
    this.inner.onActionUndelivered(action, now);
  }

  onConnected(now: number): void {
    this.isHolding = false;
    this.inner.onConnected(now);
  }

  onConfigChanged(now: number): void {
    this.inner.onConfigChanged(now);
  }

  private hold(cause: Cause, now: number): RecoveryDecision | null {
    if (cause.code !== "data-cap-reached") {
      this.isHolding = false;
      return null;
    }
    this.isHolding = true;
    const until = this.usage.holdUntil(now);
    // Lifted meanwhile (resumed, or the cycle ended during the hang-up): dial again now.
    if (until === null) return { action: "redial", notBefore: now, reason: "data cap lifted", watchRegistration: false };
    return { action: "redial", notBefore: until, reason: `data cap reached: the link stays down until ${new Date(until).toISOString()} (next cycle) or POST /actions/usage-resume`, watchRegistration: false };
  }
}

/**
 * The seam between the modem supervisor (which knows how to act) and the
 * recovery ladder (which decides what to do next and when). The supervisor
 * reports what happened; the policy answers with the next action and the
 * earliest time it may run. The ladder in src/health implements this.
 */
import type { Cause } from "./cause.ts";
import type { RecoveryRung } from "./agent-events.ts";

export interface RecoveryDecision {
  action: RecoveryRung;
  /** Absolute ms: do not act before this time (the supervisor sits in "waiting" until then). */
  notBefore: number;
  /** For a person: why this action, why this wait. */
  reason: string;
  /**
   * While waiting, watch registration (URCs and polls) and cut the wait short
   * when the network becomes usable again: dialling is never held back by a
   * wait that registration returning makes pointless. False only while the
   * network itself asked us to wait (T3346/T3396).
   */
  watchRegistration?: boolean;
}

export interface RecoveryPolicy {
  /** A bring-up attempt failed (before the link was open). */
  onBringUpFailure(cause: Cause, now: number): RecoveryDecision;
  /** An open link was lost (peer-dead, carrier-lost, probe failures...). */
  onLinkLost(cause: Cause, now: number): RecoveryDecision;
  /** The network imposed a back-off (e.g. T3396); wait without resetting. */
  onNetworkBackoff(untilMs: number, now: number): RecoveryDecision;
  /**
   * The supervisor is about to run `action` (persist "last reset at"; report the
   * action). `forced`: an operator's or maintenance request rather than the
   * policy's own decision — it does not climb the backoff.
   */
  onActionStarted(action: RecoveryRung, now: number, forced: boolean): void;
  /**
   * The action could not reach the module (an AT reset or radio cycle into a
   * module that does not answer): it does not count as done, so the next
   * reset-class rung is the hardware one without waiting a backoff for a
   * reset that never happened.
   */
  onActionUndelivered(action: RecoveryRung, now: number): void;
  /** The link opened. */
  onConnected(now: number): void;
  /** A person changed the configuration (SIGHUP): slow retries for operator faults start over. */
  onConfigChanged(now: number): void;
}

/** Redial forever after a fixed pause; the default until a ladder is plugged in, and for tests. */
export class AlwaysRedial implements RecoveryPolicy {
  constructor(private readonly pauseMs = 1000) {}
  onBringUpFailure(cause: Cause, now: number): RecoveryDecision {
    return { action: "redial", notBefore: now + this.pauseMs, reason: `redial after ${cause.code}` };
  }
  onLinkLost(cause: Cause, now: number): RecoveryDecision {
    return { action: "redial", notBefore: now + this.pauseMs, reason: `redial after ${cause.code}` };
  }
  onNetworkBackoff(untilMs: number): RecoveryDecision {
    return { action: "redial", notBefore: untilMs, reason: "network back-off" };
  }
  onActionStarted(): void {}
  onActionUndelivered(): void {}
  onConnected(): void {}
  onConfigChanged(): void {}
}

/**
 * Actions a person can ask of the agent from any view (POST /actions/* today;
 * a future MQTT command topic the same way). The agent owns what they do
 * (src/agent/actions.ts puts them through the recovery ladder); a view only
 * forwards the request and shows the result in its own terms (HTTP: a status
 * code per outcome).
 */
import type { Cause } from "../core/cause.ts";

/**
 * What a requested action did:
 *   done            the action ran to completion
 *   started         the action was started and runs in the background
 *   refused-backoff the ladder's backoff forbids it now; retry after nextActionAt, or force it
 *   busy            another action or a bring-up is in progress
 *   unavailable     cannot act now (agent stopping, no modem)
 *   failed          the action was attempted and failed (cause says why)
 */
export type ActionOutcome = "done" | "started" | "refused-backoff" | "busy" | "unavailable" | "failed";

export interface ActionResult {
  outcome: ActionOutcome;
  /** One line for a person. Never a secret. */
  message: string;
  /** For refused-backoff: absolute ms when the ladder allows the action again. */
  nextActionAt?: number | null;
  cause?: Cause | null;
}

export interface OperatorActions {
  /** Hang up (if up) and dial again. `force` bypasses the recovery ladder's backoff. */
  redial(force: boolean): Promise<ActionResult>;
  /** Reset the modem module (AT+CFUN=1,1 or the profile's reset). `force` bypasses backoff. */
  resetModem(force: boolean): Promise<ActionResult>;
  /**
   * Lift the data caps reached in this billing cycle (usage.quiet_at, stop_at) and,
   * when the stop cap holds the link down, dial again. Absent where data usage is not wired.
   */
  resumeUsage?(): Promise<ActionResult>;
}

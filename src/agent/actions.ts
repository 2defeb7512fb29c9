/**
 * Operator actions (POST /actions/*, the maintenance window): they go through
 * the recovery ladder so a person cannot undo the vendor's backoff by
 * accident. Without `force`, a reset is refused while the ladder is waiting
 * out a reset backoff or while the backoff step after its last reset runs
 * (README: "during the vendor's 10 min / 30 min / 1 h waits after a module
 * reset the request is refused"), and a redial is refused only during the
 * network's back-off (dialling then is futile); otherwise it runs at once. With `force` the action runs now and is
 * recorded as forced (it does not climb the ladder).
 */
import type { Clock } from "../core/clock.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import type { ActionResult, OperatorActions } from "../status/actions.ts";
import type { LinkState } from "../core/agent-events.ts";
import { holdsCall } from "../modem/states.ts";

export interface ActionTarget {
  readonly state: LinkState;
  requestRedial(): void;
  requestModemReset(): void;
}

export function ladderGuardedActions(supervisor: ActionTarget, ladder: RecoveryLadder, clock: Clock): OperatorActions {
  const unavailable = (): ActionResult | null =>
    supervisor.state === "stopped" ? { outcome: "unavailable", message: "the agent is stopping or stopped" } : null;

  return {
    async redial(force) {
      const no = unavailable();
      if (no) return no;
      const now = clock.now();
      // A redial never undoes the vendor's spacing of resets, so it is refused only where dialling
      // itself is futile: during the network's back-off (T3346/T3396). A person who fixed the SIM or
      // the credentials gets the retry at once.
      const backoffUntil = ladder.networkBackoffUntil(now);
      if (!force && backoffUntil !== null) {
        return {
          outcome: "refused-backoff",
          message: `the network's back-off runs until ${new Date(backoffUntil).toISOString()} (${ladder.pending()?.reason ?? "network back-off"}); add ?force=1 to redial anyway`,
          nextActionAt: backoffUntil,
        };
      }
      if (!holdsCall(supervisor.state) && supervisor.state !== "waiting") {
        return { outcome: "busy", message: `bring-up in progress (state ${supervisor.state}); a dial follows on its own` };
      }
      ladder.markNextForced("redial", force ? "redial requested (forced)" : "redial requested");
      supervisor.requestRedial();
      return { outcome: "started", message: "hanging up and dialling again" };
    },
    async resetModem(force) {
      const no = unavailable();
      if (no) return no;
      const now = clock.now();
      const dueAt = ladder.resetAllowedAt(now);
      if (!force && dueAt !== null) {
        const why = ladder.networkBackoffUntil(now) !== null ? "the network's back-off (a reset would only restart its timer) ends" : "the vendor backoff allows the next module reset";
        return {
          outcome: "refused-backoff",
          message: `${why} at ${new Date(dueAt).toISOString()}; add ?force=1 to reset anyway`,
          nextActionAt: dueAt,
        };
      }
      ladder.markNextForced("module-reset", force ? "module reset requested (forced)" : "module reset requested");
      supervisor.requestModemReset();
      return { outcome: "started", message: "resetting the modem module" };
    },
  };
}

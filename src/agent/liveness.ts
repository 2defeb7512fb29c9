/**
 * When may the agent tell systemd "WATCHDOG=1"? Only while it is making
 * progress, so a wedged agent gets restarted. A healthy agent can be silent
 * for a long time (a 1 h reset backoff, an idle link), so each state has its
 * own notion of progress:
 *  - connected: the data bearer keeps receiving bytes (its keepalive, PPP's
 *    LCP echo, guarantees some within interval × failures); a bearer without
 *    a keepalive may be silent as long as the link is idle, so there the tick
 *    alone counts;
 *  - waiting: until the decided action's time, plus a margin;
 *  - bring-up states: a state change within the longest AT step
 *    (+COPS 180 s) with a wide margin.
 * A false "dead" makes systemd kill a healthy link, so every bound errs long.
 */
import type { LinkState } from "../core/agent-events.ts";

export interface LivenessInputs {
  state: LinkState;
  /** When the supervisor last changed state (ms). */
  stateSince: number;
  /** When the data bearer last received bytes (ms), or null without a bearer. */
  lastRxAt: number | null;
  /** The recovery decision the supervisor waits for, if any (ms). */
  waitingUntil: number | null;
  /** The bearer's keepalive: a request every intervalMs, `failures` unanswered end the link; null without one. */
  keepalive: { intervalMs: number; failures: number } | null;
}

export const BRINGUP_SILENCE_MS = 15 * 60_000;
export const WAIT_MARGIN_MS = 5 * 60_000;

export function isAgentAlive(i: LivenessInputs, now: number): boolean {
  switch (i.state) {
    case "stopped":
      return false;
    case "connected": {
      if (!i.keepalive) return true;
      const bound = i.keepalive.intervalMs * (i.keepalive.failures + 2) + 60_000;
      const last = Math.max(i.lastRxAt ?? 0, i.stateSince);
      return now - last <= bound;
    }
    case "hanging-up":
      // Bounded by the hang-up procedure (PPP stop, DTR, +++ and ATH limits): a few seconds.
      return now - i.stateSince <= WAIT_MARGIN_MS;
    case "waiting":
      return now <= Math.max(i.waitingUntil ?? 0, i.stateSince) + WAIT_MARGIN_MS;
    default:
      return now - i.stateSince <= BRINGUP_SILENCE_MS;
  }
}

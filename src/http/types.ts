/**
 * Types at the seam between the HTTP views and the rest of the agent. The
 * HTTP layer only reads: events come from the bus, counters are pulled at
 * request time, and actions are callbacks owned by the supervisor/ladder.
 */
import type { Cause } from "../core/cause.ts";
import type { Clock } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";

/**
 * PPP link counters, read when /status or /metrics is served. The integrator
 * fills them from the HDLC decoder/encoder and the session. Totals since the
 * agent started are preferred (Prometheus counters must not go backwards;
 * a reset is tolerated but shows as one).
 */
export interface PppCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /**
   * Receive-side error counters by kind, camelCase keys, e.g. the HDLC
   * decoder's { badFcs, runts, oversize, aborted, malformed, noCarrier }.
   * Exposed as cellkeep_ppp_errors_total{kind="bad_fcs"} etc.
   */
  errors: Record<string, number>;
}

/**
 * What a requested action did. The callback (supervisor + recovery ladder)
 * decides; the HTTP layer only maps the outcome to a status code:
 *   done            → 200  the action ran to completion
 *   started         → 202  the action was started and runs in the background
 *   refused-backoff → 409  the ladder's backoff forbids it now; retry after nextActionAt or use ?force=1
 *   busy            → 409  another action is in progress
 *   unavailable     → 503  cannot act now (agent stopping, no modem)
 *   failed          → 500  the action was attempted and failed (cause says why)
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

export interface HttpActions {
  /** Hang up (if up) and dial again. `force` bypasses the recovery ladder's backoff. */
  redial(force: boolean): Promise<ActionResult>;
  /** Reset the modem module (AT+CFUN=1,1 or the profile's reset). `force` bypasses backoff. */
  resetModem(force: boolean): Promise<ActionResult>;
}

export interface HttpDeps {
  /** The agent's event bus (any event types; unknown ones are ignored by the views). */
  events: EventBus<EventBase>;
  clock: Clock;
  version: string;
  /** ms since the epoch when the agent started (for `uptime`). */
  startedAt: number;
  /** PPP counters pulled at request time; null while there is no PPP session. */
  counters?: () => PppCounters | null;
  actions?: HttpActions;
  /** Bearer token for POST /actions/*, read from http.token_file by the caller; null disables actions (403). */
  token: string | null;
  /**
   * Whether health probes are configured. When false, /healthz only needs
   * the link to be connected (there is no probe to wait for). Default true.
   */
  probesEnabled?: boolean;
  /** Max concurrent SSE clients (default 32). */
  maxSseClients?: number;
  /** SSE keep-alive comment interval in ms (default 8 000: below Bun's 10 s idle timeout). */
  sseKeepAliveMs?: number;
}

export type { Cause };

/**
 * What the HTTP views need from the agent. The HTTP layer only reads: the
 * status model (src/status/) says what /status, /metrics, /healthz and
 * /history show; the bus feeds /events and the SSE stream; actions are
 * callbacks the agent owns (src/status/actions.ts).
 */
import type { Clock } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { OperatorActions } from "../status/actions.ts";
import type { PppCounters } from "../status/counters.ts";
import type { StatusModel } from "../status/model.ts";

export interface HttpDeps {
  /** The agent's event bus (any event types; unknown ones are ignored by the views). */
  events: EventBus<EventBase>;
  clock: Clock;
  /**
   * The agent's status model, which follows `events` already. Without it (tests, the
   * benchmark) the app builds a model of its own from `version`, `startedAt`,
   * `counters` and `probesEnabled` and has it follow `events`.
   */
  status?: StatusModel;
  /** Without `status`: the version shown. Required then. */
  version?: string;
  /** Without `status`: ms since the epoch when the agent started (for `uptime`). Required then. */
  startedAt?: number;
  /** Without `status`: PPP counters pulled at request time; null while there is no PPP session. */
  counters?: () => PppCounters | null;
  /** Without `status`: whether health probes are configured (see StatusSources). Default true. */
  probesEnabled?: boolean;
  actions?: OperatorActions;
  /** Bearer token for POST /actions/*, read from http.token_file by the caller; null disables actions (403). */
  token: string | null;
  /** Max concurrent SSE clients (default 32). */
  maxSseClients?: number;
  /** SSE keep-alive comment interval in ms (default 8 000: below Bun's 10 s idle timeout). */
  sseKeepAliveMs?: number;
}

/**
 * The HTTP app (Hono): routes only. Everything shown is read from the status
 * model (src/status/: the event stream folded by StatusView, plus counters
 * pulled at request time); actions are callbacks the supervisor owns. Every
 * non-streaming response body passes through `redact` as a last line of
 * defence against a leaked secret.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { nullLogger, redact, registerSecret, type Logger } from "../core/log.ts";
import { checkBearer } from "./auth.ts";
import { allowedHosts, hostAllowed } from "./host-check.ts";
import { TokenBucket } from "./rate-limit.ts";
import { safeJson } from "../core/mask.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { PAGE_CSP, statusPageHtml } from "./page.ts";
import { SseHub } from "./sse.ts";
import type { StatusView, StatusViewOptions } from "../status/status-view.ts";
import { StatusModel } from "../status/model.ts";
import type { ActionOutcome, ActionResult } from "../status/actions.ts";
import type { HttpDeps } from "./types.ts";

/** Largest request body accepted (actions take no body; anything bigger is abuse). */
export const MAX_BODY_BYTES = 4096;
export const DEFAULT_EVENTS_LIMIT = 100;
export const MAX_EVENTS_LIMIT = 1000;
/**
 * Forced actions skip the ladder's spacing between resets (the vendor warns
 * against frequent power cycles): at most one per minute, whoever asks.
 */
export const FORCED_ACTIONS = { capacity: 1, refillMs: 60_000 } as const;
/** A rebinding page may retry in a loop: log refused Hosts at most this often. */
const HOST_LOG_INTERVAL_MS = 60_000;

export interface HttpAppDeps extends HttpDeps {
  logger?: Logger;
  /** Plot ring-buffer sizing for a model of the app's own (tests use small buckets). */
  viewOptions?: StatusViewOptions;
  /** http.listen: its address is a served Host. Undefined: only the loopback names (and allowedHosts). */
  listen?: string;
  /** http.allowed_hosts: further Host names ("name" any port, "name:port" that port). */
  allowedHosts?: readonly string[];
}

export type HttpApp = Hono & {
  /** The status model the app reads (the agent's, or its own). */
  readonly status: StatusModel;
  /** Its event reducer (read-only for callers). */
  readonly view: StatusView;
  readonly sse: SseHub;
  /** Unsubscribe from the bus and end every SSE stream. */
  close(): void;
};

const ACTION_STATUS: Record<ActionOutcome, 200 | 202 | 409 | 500 | 503> = {
  done: 200,
  started: 202,
  "refused-backoff": 409,
  busy: 409,
  unavailable: 503,
  failed: 500,
};

type ErrStatus = 400 | 401 | 403 | 404 | 405 | 413 | 421 | 429 | 500 | 503;

function jsonText(c: Context, body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return c.body(safeJson(body), status as 200, { "content-type": "application/json; charset=utf-8", ...headers });
}

function problem(c: Context, status: ErrStatus, code: string, message: string, headers: Record<string, string> = {}): Response {
  return jsonText(c, { error: { code, message } }, status, headers);
}

/** ?force=1 / true / yes → true; absent, 0, false, no → false; anything else is a bad request. */
function parseForce(v: string | undefined): boolean | "bad" {
  if (v === undefined || v === "" || v === "0" || v === "false" || v === "no") return false;
  if (v === "1" || v === "true" || v === "yes") return true;
  return "bad";
}

function parseLimit(v: string | undefined): number | "bad" {
  if (v === undefined) return DEFAULT_EVENTS_LIMIT;
  if (!/^\d{1,6}$/.test(v)) return "bad";
  const n = Number(v);
  return n >= 1 && n <= MAX_EVENTS_LIMIT ? n : "bad";
}

/** The authority of an absolute request URL; undefined for the relative URL Bun gives a request without Host. */
function urlHost(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** The agent's model, or (without one) a model of the app's own that follows the bus; one source either way. */
function statusModelFor(deps: HttpAppDeps, log: Logger): { status: StatusModel; unfollow: () => void } {
  const own = { version: deps.version, startedAt: deps.startedAt, counters: deps.counters, probesEnabled: deps.probesEnabled, viewOptions: deps.viewOptions };
  if (deps.status) {
    const given = Object.entries(own).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length > 0) throw new TypeError(`createHttpApp: ${given.join(", ")} belong to the status model; pass them to it, not beside it`);
    return { status: deps.status, unfollow: () => {} };
  }
  if (own.version === undefined || own.startedAt === undefined) throw new TypeError("createHttpApp: version and startedAt are needed without a status model");
  const status = new StatusModel(
    { clock: deps.clock, version: own.version, startedAt: own.startedAt, counters: own.counters, probesEnabled: own.probesEnabled, logger: log },
    own.viewOptions,
  );
  return { status, unfollow: status.follow(deps.events) };
}

export function createHttpApp(deps: HttpAppDeps): HttpApp {
  const log = deps.logger ?? nullLogger;
  // The token is a secret like the PPP password: never echoed in any log line or response.
  registerSecret(deps.token);
  const { status, unfollow } = statusModelFor(deps, log);
  const view = status.view;
  const sse = new SseHub(deps.events, { maxClients: deps.maxSseClients ?? 32, keepAliveMs: deps.sseKeepAliveMs ?? 8_000 });

  const hostRules = allowedHosts(deps.listen, deps.allowedHosts ?? []);
  const forcedActions = new TokenBucket(FORCED_ACTIONS);
  let hostLoggedAt = -Infinity;
  let hostRefusedSince = 0;

  const app = new Hono();

  app.onError((err, c) => {
    log.error("http handler failed", { path: c.req.path, error: String(err) });
    return problem(c, 500, "internal", "internal error; see the agent log");
  });
  app.notFound((c) => problem(c, 404, "not-found", `no route ${c.req.method} ${c.req.path}`));

  // Last line of defence: no registered secret leaves in a response body.
  // Streams (SSE) redact per event instead and are passed through untouched.
  app.use("*", async (c, next) => {
    await next();
    c.header("x-content-type-options", "nosniff");
    const type = c.res.headers.get("content-type") ?? "";
    if (type.startsWith("text/event-stream") || !c.res.body) return;
    const text = await c.res.text();
    const res = new Response(redact(text), { status: c.res.status, headers: c.res.headers });
    c.res = undefined;
    c.res = res;
  });
  // DNS rebinding (src/http/host-check.ts): before any route, so no byte of status, no stream
  // and no action is served to a name this endpoint is not reached by. app.request() in tests
  // builds a Request without a Host header; its URL's host stands in. A real server builds the
  // URL from the Host header, and without one (HTTP/1.0) the URL has no host at all → 421.
  app.use("*", async (c, next) => {
    const host = c.req.header("host") ?? urlHost(c.req.url);
    if (hostAllowed(host, hostRules)) return next();
    hostRefusedSince++;
    const now = deps.clock.now();
    if (now - hostLoggedAt >= HOST_LOG_INTERVAL_MS) {
      log.warn("request refused: Host is not this endpoint (DNS rebinding?); add real names to http.allowed_hosts", {
        host: host ?? "(none)",
        refused: hostRefusedSince,
      });
      hostLoggedAt = now;
      hostRefusedSince = 0;
    }
    return problem(c, 421, "misdirected-request", "misdirected request: this Host is not served here (see http.allowed_hosts)");
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => problem(c, 413, "body-too-large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`),
    }),
  );

  app.get("/", (c) =>
    c.html(statusPageHtml(), 200, { "content-security-policy": PAGE_CSP, "cache-control": "no-store", "referrer-policy": "no-referrer" }),
  );

  app.get("/healthz", (c) => {
    const h = status.health();
    return c.text(`${view.state} ${h.reason}\n`, h.healthy ? 200 : 503, { "cache-control": "no-store" });
  });

  app.get("/status", (c) => jsonText(c, status.snapshot(), 200, { "cache-control": "no-store" }));

  app.get("/history", (c) => {
    const h = c.req.query("hours");
    let windowMs: number | undefined;
    if (h !== undefined) {
      const n = Number(h);
      if (!/^\d+(\.\d+)?$/.test(h) || !(n > 0 && n <= 24)) return problem(c, 400, "bad-request", "hours must be a number in (0, 24]");
      windowMs = n * 3_600_000;
    }
    return jsonText(c, status.history(windowMs), 200, { "cache-control": "no-store" });
  });

  app.get("/metrics", (c) =>
    c.body(
      renderMetrics({
        view,
        now: deps.clock.now(),
        startedAt: status.startedAt,
        version: status.version,
        counters: status.counters(),
        probesEnabled: status.probesEnabled,
        eventsTotal: deps.events.count(),
        sseClients: sse.clients,
        usage: status.usage(),
      }),
      200,
      { "content-type": METRICS_CONTENT_TYPE, "cache-control": "no-store" },
    ),
  );

  const stream = (c: Context) => {
    // HEAD must not open a stream (and leave a listener behind): answer with the headers only.
    if (c.req.method === "HEAD") return c.body(null, 200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" });
    const res = sse.open(c.req.raw.signal, c.req.header("last-event-id"));
    return res ?? problem(c, 503, "too-many-clients", "too many live event streams open; close one and retry", { "retry-after": "10" });
  };
  app.get("/events/stream", stream);
  app.get("/events", (c) => {
    if ((c.req.header("accept") ?? "").includes("text/event-stream")) return stream(c);
    const limit = parseLimit(c.req.query("limit"));
    if (limit === "bad") return problem(c, 400, "bad-request", `limit must be an integer from 1 to ${MAX_EVENTS_LIMIT}`);
    const type = c.req.query("type");
    let events = deps.events.recent();
    if (type) events = events.filter((e) => e.type === type || e.type.startsWith(type.endsWith(".") ? type : type + "."));
    return jsonText(c, { total: deps.events.count(), events: events.slice(-limit) }, 200, { "cache-control": "no-store" });
  });

  const action = (name: "redial" | "reset-modem" | "usage-resume", run: (force: boolean) => Promise<ActionResult>) => async (c: Context) => {
    const auth = checkBearer(c.req.header("authorization"), deps.token);
    if (auth === "no-token-configured") {
      return problem(c, 403, "actions-disabled", "actions are disabled: set http.token_file in the config to enable them");
    }
    if (auth !== "ok") {
      log.warn("action refused: bad or missing token", { action: name });
      return problem(c, 401, "unauthorized", "send Authorization: Bearer <token from http.token_file>", {
        "www-authenticate": 'Bearer realm="cellkeep"',
      });
    }
    const force = parseForce(c.req.query("force"));
    if (force === "bad") return problem(c, 400, "bad-request", "force must be 1 or 0");
    if (!deps.actions) return problem(c, 503, "unavailable", "actions are not available in this mode");
    // Only after the token check: a caller without the token cannot use up the allowance.
    if (force) {
      const taken = forcedActions.take(deps.clock.now());
      if (!taken.ok) {
        const retry = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        log.warn("forced action refused: rate limit", { action: name, retryAfterS: retry });
        return problem(c, 429, "rate-limited", `forced actions are limited to one per ${FORCED_ACTIONS.refillMs / 1000} s; retry in ${retry} s (unforced actions follow the recovery ladder)`, {
          "retry-after": String(retry),
          "cache-control": "no-store",
        });
      }
    }
    log.info("action requested", { action: name, force });
    const r = await run(force);
    // Nothing ran (another action in progress, agent stopping): the allowance is not used up.
    if (force && (r.outcome === "busy" || r.outcome === "unavailable")) forcedActions.refund(deps.clock.now());
    const status = ACTION_STATUS[r.outcome] ?? 500;
    const headers: Record<string, string> = { "cache-control": "no-store" };
    if (r.outcome === "refused-backoff" && typeof r.nextActionAt === "number") {
      headers["retry-after"] = String(Math.max(1, Math.ceil((r.nextActionAt - deps.clock.now()) / 1000)));
    }
    log.info("action result", { action: name, force, outcome: r.outcome });
    return jsonText(
      c,
      {
        action: name,
        forced: force,
        outcome: r.outcome,
        message: r.message,
        nextActionAt: typeof r.nextActionAt === "number" ? new Date(r.nextActionAt).toISOString() : null,
        cause: r.cause ?? null,
      },
      status,
      headers,
    );
  };
  app.post("/actions/redial", action("redial", (f) => deps.actions!.redial(f)));
  app.post("/actions/reset-modem", action("reset-modem", (f) => deps.actions!.resetModem(f)));
  // Lifts the data caps reached this cycle (force means nothing here: a resume never bypasses the ladder).
  app.post(
    "/actions/usage-resume",
    action("usage-resume", () => deps.actions!.resumeUsage?.() ?? Promise.resolve<ActionResult>({ outcome: "unavailable", message: "data usage is not counted by this agent" })),
  );

  // Known paths with the wrong method: 405 with Allow, as JSON.
  const allow: [string, string][] = [
    ["/", "GET, HEAD"],
    ["/healthz", "GET, HEAD"],
    ["/status", "GET, HEAD"],
    ["/history", "GET, HEAD"],
    ["/metrics", "GET, HEAD"],
    ["/events", "GET, HEAD"],
    ["/events/stream", "GET"],
    ["/actions/redial", "POST"],
    ["/actions/reset-modem", "POST"],
    ["/actions/usage-resume", "POST"],
  ];
  for (const [path, methods] of allow) {
    app.all(path, (c) => problem(c, 405, "method-not-allowed", `${path} accepts ${methods}`, { allow: methods }));
  }

  return Object.assign(app, {
    status,
    view,
    sse,
    close() {
      unfollow();
      sse.closeAll();
    },
  });
}

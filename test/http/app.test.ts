import { afterEach, describe, expect, test } from "bun:test";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause } from "../../src/core/cause.ts";
import { createHttpApp, type HttpApp, type HttpAppDeps } from "../../src/http/app.ts";
import type { ActionResult } from "../../src/status/actions.ts";
import { FakeLinkSource } from "../support/fake-source.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";

const T0 = 1_700_000_000_000;
const TOKEN = "s3cret-token-value";

const apps: HttpApp[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.close();
});

function setup(over: Partial<HttpAppDeps> = {}) {
  const bus = new EventBus<EventBase>(1000);
  const clock = { t: T0 };
  const src = new FakeLinkSource(bus, () => clock.t);
  const calls: { action: string; force: boolean }[] = [];
  let next: ActionResult = { outcome: "started", message: "redialling" };
  const app = createHttpApp({
    events: bus,
    clock: { now: () => clock.t },
    version: "9.9.9",
    startedAt: T0 - 60_000,
    token: TOKEN,
    counters: () => ({ bytesIn: 1, bytesOut: 2, packetsIn: 3, packetsOut: 4, errors: { badFcs: 0 } }),
    actions: {
      redial: async (force) => (calls.push({ action: "redial", force }), next),
      resetModem: async (force) => (calls.push({ action: "reset-modem", force }), next),
    },
    ...over,
  });
  apps.push(app);
  return { bus, clock, src, app, calls, setNext: (r: ActionResult) => (next = r) };
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe("GET /healthz", () => {
  test("503 before connecting, with state and cause on one line", async () => {
    const { app, src } = setup();
    let r = await app.request("/healthz");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("starting not-connected\n");
    src.setState("waiting", cause("not-registered"));
    r = await app.request("/healthz");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("waiting not-registered\n");
  });

  test("200 only when connected and the last probe succeeded", async () => {
    const { app, src, clock } = setup();
    src.bringUp();
    expect((await app.request("/healthz")).status).toBe(503);
    clock.t += 1000;
    src.probe(true);
    let r = await app.request("/healthz");
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("connected ok\n");
    clock.t += 1000;
    src.probe(false);
    r = await app.request("/healthz");
    expect(r.status).toBe(503);
    expect(await r.text()).toBe("connected probe-failed\n");
  });

  test("with probes disabled, connected is enough", async () => {
    const { app, src } = setup({ probesEnabled: false });
    src.bringUp();
    expect((await app.request("/healthz")).status).toBe(200);
  });
});

describe("GET /status", () => {
  test("has exactly the documented top-level fields and nested names", async () => {
    const { app, src, clock } = setup();
    src.bringUp();
    clock.t += 500;
    src.signal();
    src.probe(true);
    const r = await app.request("/status");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("application/json");
    const s = await r.json();
    expect(Object.keys(s)).toEqual(["state", "since", "cause", "modem", "registration", "signal", "ppp", "mux", "link", "health", "recovery", "timeline", "time", "sms", "uptime", "version", "now", "radio", "failover", "usage"]);
    expect(s.mux).toEqual({ state: "off", frameSize: null, dlcis: [], counts: null, lastFault: null, recovered: null, since: null });
    expect(Object.keys(s.modem)).toEqual(["manufacturer", "model", "firmware", "imei", "imsi", "iccid", "profile", "port"]);
    expect(Object.keys(s.registration)).toEqual(["stat", "status", "act", "operator", "band", "tac", "cell", "at"]);
    expect(Object.keys(s.signal)).toEqual(["rssi", "rsrp", "rsrq", "sinr", "act", "at"]);
    expect(Object.keys(s.ppp)).toEqual(["phase", "ipv4", "ipv6", "mru", "bytesIn", "bytesOut", "packetsIn", "packetsOut", "errors"]);
    expect(Object.keys(s.ppp.ipv4)).toEqual(["local", "remote", "dns"]);
    expect(Object.keys(s.health)).toEqual(["ok", "rttMs", "at", "probe", "target", "loss", "consecutiveFailures"]);
    expect(Object.keys(s.recovery)).toEqual(["rung", "consecutiveFailures", "lastResetAt", "nextActionAt", "waitingReason", "phase", "causeClass", "resets", "actions"]);
    expect(s.state).toBe("connected");
    expect(s.uptime).toBe(60);
    expect(s.version).toBe("9.9.9");
    expect(s.ppp.packetsOut).toBe(4);
    expect(s.modem.imsi).toBe("26201********10");
    expect(s.health.ok).toBe(true);
  });

  test("a throwing counters callback degrades to nulls instead of failing the request", async () => {
    const { app } = setup({ counters: () => { throw new Error("boom"); } });
    const r = await app.request("/status");
    expect(r.status).toBe(200);
    expect((await r.json()).ppp.bytesIn).toBeNull();
  });
});

describe("GET /events and /history", () => {
  test("recent events with ?limit and ?type, oldest first, IMSI masked", async () => {
    const { app, src } = setup();
    src.bringUp();
    const all = await (await app.request("/events?limit=1000")).json();
    expect(all.total).toBe(all.events.length);
    expect(all.events[0].type).toBe("agent.started");
    const ident = all.events.find((e: any) => e.type === "modem.identity");
    expect(ident.imsi).toBe("26201********10");
    expect(ident.iccid).toBe("89492************78");
    const last2 = await (await app.request("/events?limit=2")).json();
    expect(last2.events.map((e: any) => e.type)).toEqual(["modem.state", "recovery.state"]);
    const ppp = await (await app.request("/events?type=ppp")).json();
    expect(ppp.events.length).toBeGreaterThan(3);
    expect(ppp.events.every((e: any) => e.type.startsWith("ppp."))).toBe(true);
  });

  test("bad limits are 400 JSON", async () => {
    const { app } = setup();
    for (const q of ["0", "-1", "abc", "1001", "1e3"]) {
      const r = await app.request(`/events?limit=${q}`);
      expect(r.status).toBe(400);
      expect((await r.json()).error.code).toBe("bad-request");
    }
  });

  test("/history returns bucketed plot data; bad hours is 400", async () => {
    const { app, src } = setup();
    src.backfill(2 * 3_600_000, 60_000);
    const h = await (await app.request("/history")).json();
    expect(h.bucketMs).toBe(60_000);
    expect(h.signal.length).toBe(120);
    expect(h.probe.length).toBe(120);
    expect(typeof h.signal[0].avg.rsrp).toBe("number");
    const h1 = await (await app.request("/history?hours=1")).json();
    expect(h1.signal.length).toBeLessThanOrEqual(61);
    expect((await app.request("/history?hours=48")).status).toBe(400);
  });
});

describe("errors and hygiene", () => {
  test("unknown route is 404 JSON; wrong method is 405 JSON with Allow", async () => {
    const { app } = setup();
    const r = await app.request("/nope");
    expect(r.status).toBe(404);
    expect((await r.json()).error.code).toBe("not-found");
    const m = await app.request("/status", { method: "POST" });
    expect(m.status).toBe(405);
    expect(m.headers.get("allow")).toBe("GET, HEAD");
    const g = await app.request("/actions/redial");
    expect(g.status).toBe(405);
    expect(g.headers.get("allow")).toBe("POST");
  });

  test("a stalled SSE client is dropped once its queue is full, and its listener removed", async () => {
    const { app, bus, src } = setup();
    const listeners = bus.listenerCount();
    const res = await app.request("/events/stream");
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(app.sse.clients).toBe(1);
    // nobody reads the body: the stream's queue fills up
    for (let i = 0; i < 2000 && app.sse.clients > 0; i++) src.signal();
    expect(app.sse.clients).toBe(0);
    expect(bus.listenerCount()).toBe(listeners);
    await res.body?.cancel().catch(() => {});
  });

  test("HEAD works for probes and does not open an event stream", async () => {
    const { app, bus } = setup();
    const listeners = bus.listenerCount();
    expect((await app.request("/healthz", { method: "HEAD" })).status).toBe(503);
    const r = await app.request("/events/stream", { method: "HEAD" });
    expect(r.status).toBe(200);
    expect(app.sse.clients).toBe(0);
    expect(bus.listenerCount()).toBe(listeners);
  });

  test("request bodies are bounded (413 JSON)", async () => {
    const { app, calls } = setup();
    const r = await app.request("/actions/redial", { method: "POST", headers: auth, body: "x".repeat(10_000) });
    expect(r.status).toBe(413);
    expect((await r.json()).error.code).toBe("body-too-large");
    expect(calls).toHaveLength(0);
  });

  test("no CORS headers on any endpoint, even when asked", async () => {
    const { app } = setup();
    for (const p of ["/", "/status", "/metrics", "/healthz", "/events"]) {
      const r = await app.request(p, { headers: { origin: "http://evil.example" } });
      r.headers.forEach((_v, k) => expect(k.toLowerCase().startsWith("access-control-")).toBe(false));
    }
  });

  test("the page is self-contained: no external URLs, strict CSP", async () => {
    const { app } = setup();
    const r = await app.request("/");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    expect(r.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await r.text();
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toContain('id="plot-rsrp"');
  });
});

describe("POST /actions/*", () => {
  test("403 when no token is configured", async () => {
    const { app, calls } = setup({ token: null });
    const r = await app.request("/actions/redial", { method: "POST", headers: auth });
    expect(r.status).toBe(403);
    expect((await r.json()).error.code).toBe("actions-disabled");
    expect(calls).toHaveLength(0);
  });

  test("401 for a missing, malformed or wrong token (and a prefix of the right one)", async () => {
    const { app, calls } = setup();
    const headers: Record<string, string>[] = [
      {},
      { authorization: TOKEN },
      { authorization: "Basic Zm9vOmJhcg==" },
      { authorization: "Bearer wrong" },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: `Bearer ${TOKEN}x` },
    ];
    for (const h of headers) {
      const r = await app.request("/actions/reset-modem", { method: "POST", headers: h });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toContain("Bearer");
    }
    expect(calls).toHaveLength(0);
  });

  test("a good token runs the action; force is passed through; outcome maps to status", async () => {
    const { app, calls, setNext } = setup();
    let r = await app.request("/actions/redial", { method: "POST", headers: auth });
    expect(r.status).toBe(202);
    expect(await r.json()).toMatchObject({ action: "redial", forced: false, outcome: "started" });
    r = await app.request("/actions/reset-modem?force=1", { method: "POST", headers: { authorization: `bearer  ${TOKEN}` } });
    expect(r.status).toBe(202);
    expect(calls).toEqual([
      { action: "redial", force: false },
      { action: "reset-modem", force: true },
    ]);
    setNext({ outcome: "done", message: "ok" });
    expect((await app.request("/actions/redial", { method: "POST", headers: auth })).status).toBe(200);
    setNext({ outcome: "busy", message: "reset in progress" });
    expect((await app.request("/actions/redial", { method: "POST", headers: auth })).status).toBe(409);
    setNext({ outcome: "unavailable", message: "stopping" });
    expect((await app.request("/actions/redial", { method: "POST", headers: auth })).status).toBe(503);
    setNext({ outcome: "failed", message: "AT timeout", cause: cause("at-timeout") });
    r = await app.request("/actions/reset-modem", { method: "POST", headers: auth });
    expect(r.status).toBe(500);
    expect((await r.json()).cause.code).toBe("at-timeout");
  });

  test("refused by backoff → 409 with Retry-After and nextActionAt", async () => {
    const { app, setNext } = setup();
    setNext({ outcome: "refused-backoff", message: "the ladder waits 10 min after a reset", nextActionAt: T0 + 600_000 });
    const r = await app.request("/actions/reset-modem", { method: "POST", headers: auth });
    expect(r.status).toBe(409);
    expect(r.headers.get("retry-after")).toBe("600");
    const body = await r.json();
    expect(body.outcome).toBe("refused-backoff");
    expect(body.nextActionAt).toBe(new Date(T0 + 600_000).toISOString());
  });

  test("bad force value → 400; action callback throwing → 500 JSON", async () => {
    const { app, calls } = setup();
    expect((await app.request("/actions/redial?force=maybe", { method: "POST", headers: auth })).status).toBe(400);
    expect(calls).toHaveLength(0);
    const { app: app2 } = setup({
      actions: { redial: async () => { throw new Error("kaputt"); }, resetModem: async () => ({ outcome: "done", message: "" }) },
    });
    const r = await app2.request("/actions/redial", { method: "POST", headers: auth });
    expect(r.status).toBe(500);
    expect((await r.json()).error.code).toBe("internal");
  });
});

describe("Host check (DNS rebinding)", () => {
  const paths: [string, RequestInit?][] = [
    ["/"],
    ["/healthz"],
    ["/status"],
    ["/metrics"],
    ["/history"],
    ["/events"],
    ["/events/stream"],
    ["/nope"],
    ["/actions/reset-modem?force=1", { method: "POST", headers: auth }],
  ];

  test("a rebinding page's Host (evil.example:8080) gets 421 with a short body on every path, and no action runs", async () => {
    const { app, src, calls } = setup({ listen: "127.0.0.1:8080" });
    src.bringUp();
    for (const [p, init] of paths) {
      const headers = { ...(init?.headers as Record<string, string> | undefined), host: "evil.example:8080" };
      const r = await app.request(p, { ...init, headers });
      expect([p, r.status]).toEqual([p, 421]);
      const text = await r.text();
      expect(text.length).toBeLessThan(200);
      expect(JSON.parse(text).error.code).toBe("misdirected-request");
      expect(text).not.toContain("866349041234567"); // no IMEI or other status data
    }
    expect(calls).toHaveLength(0);
    expect(app.sse.clients).toBe(0);
  });

  test("the listen address, localhost, 127.0.0.1 and [::1] are served", async () => {
    const { app } = setup({ listen: "127.0.0.1:8080" });
    for (const host of ["127.0.0.1:8080", "127.0.0.1", "localhost:8080", "localhost", "[::1]:8080"]) {
      const r = await app.request("/status", { headers: { host } });
      expect([host, r.status]).toEqual([host, 200]);
    }
  });

  test("a LAN listen address serves its own Host but not other names; http.allowed_hosts adds names", async () => {
    const { app } = setup({ listen: "192.168.1.5:8080", allowedHosts: ["gateway.lan"] });
    expect((await app.request("/status", { headers: { host: "192.168.1.5:8080" } })).status).toBe(200);
    expect((await app.request("/status", { headers: { host: "gateway.lan:8080" } })).status).toBe(200);
    expect((await app.request("/status", { headers: { host: "printer.lan:8080" } })).status).toBe(421);
  });

  test("refusals are logged for the operator, naming the Host", async () => {
    const sink = new MemorySink();
    const { app } = setup({ listen: "127.0.0.1:8080", logger: createLogger({ level: "debug", format: "text", sink }) });
    await app.request("/status", { headers: { host: "evil.example:8080" } });
    expect(sink.lines.join("\n")).toContain("evil.example:8080");
  });
});

describe("forced actions are rate-limited", () => {
  const post = (app: HttpApp, path: string) => app.request(path, { method: "POST", headers: auth });

  test("one forced action per 60 s, shared by redial and reset-modem; 429 with Retry-After from the injected clock", async () => {
    const { app, clock, calls } = setup();
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(202);
    let r = await post(app, "/actions/redial?force=1");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("60");
    expect((await r.json()).error.code).toBe("rate-limited");
    clock.t += 45_500;
    r = await post(app, "/actions/reset-modem?force=1");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("15");
    clock.t += 14_500;
    expect((await post(app, "/actions/redial?force=1")).status).toBe(202);
    expect(calls).toEqual([
      { action: "reset-modem", force: true },
      { action: "redial", force: true },
    ]);
  });

  test("unforced actions are not limited by it (they keep the ladder's rules)", async () => {
    const { app, calls } = setup();
    expect((await post(app, "/actions/redial?force=1")).status).toBe(202);
    expect((await post(app, "/actions/redial?force=1")).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await post(app, "/actions/redial")).status).toBe(202);
    expect(calls.filter((c) => !c.force)).toHaveLength(3);
  });

  test("requests without the right token do not use up the forced-action allowance", async () => {
    const { app } = setup();
    for (let i = 0; i < 5; i++) {
      const r = await app.request("/actions/reset-modem?force=1", { method: "POST", headers: { authorization: "Bearer wrong" } });
      expect(r.status).toBe(401);
    }
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(202);
  });

  test("a forced request that did nothing (busy, unavailable) gives its allowance back", async () => {
    const { app, setNext } = setup();
    setNext({ outcome: "busy", message: "reset in progress" });
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(409);
    setNext({ outcome: "unavailable", message: "stopping" });
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(503);
    setNext({ outcome: "started", message: "resetting" });
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(202);
    expect((await post(app, "/actions/reset-modem?force=1")).status).toBe(429);
  });
});

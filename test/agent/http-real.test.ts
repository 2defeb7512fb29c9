/**
 * The HTTP area against the REAL agent (issue 9): src/agent.ts with the real
 * supervisor, PPP stack, health monitor and recovery ladder, the in-process
 * virtual modem behind it, HTTP on 127.0.0.1:<free port>. Checks every
 * endpoint on live data, the action guards against the ladder's backoff, that
 * the PAP password leaks nowhere (responses, SSE, log), and the status page
 * in headless Chromium (screenshot saved).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EventBase } from "../../src/core/events.ts";
import type { HealthProbeEvent, ModemStateEvent, RecoveryStateEvent } from "../../src/core/agent-events.ts";
import { checkStatusPage } from "../http/page-check.ts";
import type { ConfigParts } from "../support/agent-rig.ts";
import { removeDir, rigConfig, startRig, tempDir, type Rig } from "./rig.ts";
import { startAgent } from "../../src/agent.ts";
import { CellkeepError } from "../../src/core/cause.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";

const PASSWORD = "Pw-7f3Kq9-zebra-PAP";
const TOKEN = "tok-5b1e0c7d9a2f4e38";
const SCREENSHOT = process.env.CELLKEEP_SCREENSHOT ?? "/tmp/cellkeep-agent-status-page.png";

/** The rig's fast defaults (echo and probes every 1 s) plus PAP, and a ladder that resets after one failed dial, then waits 10 min. */
function tables(http: string): ConfigParts["tables"] {
  return {
    network: 'apn = "internet.agent-test"',
    auth: `method = "pap"\nusername = "gw-user"\npassword = "${PASSWORD}"`,
    recovery: 'backoff = ["0s", "10m"]\ndial_failures = 1',
    http,
  };
}

const isState = (s: string) => (e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === s;
const okProbe = (e: EventBase) => e.type === "health.probe" && (e as HealthProbeEvent).probe === "icmp" && (e as HealthProbeEvent).ok;

/** Every response body the test saw, for the secret check at the end. */
const outputs: string[] = [];

async function get(base: string, path: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(base + path, init);
  const text = await res.text();
  outputs.push(`${init?.method ?? "GET"} ${path} → ${res.status}\n${text}`);
  return { status: res.status, text, headers: res.headers };
}

describe("HTTP endpoints of the real agent", () => {
  let dir = "";
  let rig: Rig;
  let base = "";

  beforeAll(async () => {
    dir = tempDir();
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    rig = await startRig({
      dir,
      tables: tables(`listen = "127.0.0.1:18089"\ntoken_file = ${JSON.stringify(tokenFile)}`),
      auth: { username: "gw-user", password: PASSWORD },
      overrides: { httpListen: "127.0.0.1:0" },
    });
    base = rig.agent.httpUrl!.replace(/\/$/, "");
    await rig.waitFor(isState("connected"), 10_000, 0);
    await rig.waitFor(okProbe, 10_000, 0);
  });

  afterAll(async () => {
    await rig?.stop();
    if (dir) removeDir(dir);
  });

  test("GET /healthz is 200 with the state on one line", async () => {
    const r = await get(base, "/healthz");
    expect(r.status).toBe(200);
    expect(r.text.startsWith("connected")).toBe(true);
    expect(r.text.trim().split("\n")).toHaveLength(1);
  });

  test("GET /status: connected, the PPP address, modem identity with IMSI and ICCID masked", async () => {
    const r = await get(base, "/status");
    expect(r.status).toBe(200);
    const s = JSON.parse(r.text);
    expect(s.state).toBe("connected");
    expect(s.ppp.ipv4.local).toBe("10.64.0.2");
    expect(s.ppp.ipv4.remote).toBe("10.64.0.1");
    expect(s.modem.model).toContain("BG96");
    expect(s.modem.imei).toBe("866425031234567");
    // IMSI 001010123456789 and ICCID 89001012345678901234 (the sim's SIM): masked, never whole
    expect(s.modem.imsi).toBe("00101********89");
    expect(s.modem.iccid).toBe("89001*************34");
    expect(r.text).not.toContain("001010123456789");
    expect(r.text).not.toContain("89001012345678901234");
    expect(s.health.ok).toBe(true);
    expect(typeof s.uptime === "number" || typeof s.uptime === "string").toBe(true);
    expect(s.recovery.consecutiveFailures).toBe(0);
  });

  test("GET /metrics passes promtool check metrics", async () => {
    const r = await get(base, "/metrics");
    expect(r.status).toBe(200);
    expect(r.text).toContain("# TYPE");
    const file = join(dir, "metrics.txt");
    writeFileSync(file, r.text);
    const p = Bun.spawnSync(["/bin/sh", "-c", `promtool check metrics < ${JSON.stringify(file)}`], { stdout: "pipe", stderr: "pipe" });
    const said = `${p.stdout.toString()}${p.stderr.toString()}`;
    if (p.exitCode !== 0) console.error(said);
    expect(p.exitCode).toBe(0);
    expect(said.trim()).toBe("");
  });

  test("GET /events lists recent events; the SSE stream delivers live ones", async () => {
    const r = await get(base, "/events?limit=500");
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text) as { total: number; events: EventBase[] };
    const types = new Set(body.events.map((e) => e.type));
    expect(types.has("modem.state")).toBe(true);
    expect(types.has("ppp.up")).toBe(true);
    expect(types.has("health.probe")).toBe(true);

    // Live: probes run every second, so a health.probe arrives on the stream within a few.
    const ac = new AbortController();
    const res = await fetch(`${base}/events/stream`, { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type") ?? "").toContain("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    const deadline = Date.now() + 8_000;
    try {
      while (Date.now() < deadline && !/data: \{[^\n]*"type":"health\.probe"/.test(text)) {
        const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
        if (!chunk || chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
    } finally {
      ac.abort();
      await reader.cancel().catch(() => undefined);
    }
    outputs.push(`SSE\n${text}`);
    expect(text).toMatch(/id: \d+\ndata: \{[^\n]*"type":"health\.probe"/);
  });

  test("actions: wrong token 401, right token accepted; reset-modem refused (409) during the vendor's reset spacing and accepted with ?force=1", async () => {
    const post = (path: string, token?: string) =>
      get(base, path, { method: "POST", ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });

    expect((await post("/actions/redial")).status).toBe(401);
    expect((await post("/actions/redial", "not-the-token")).status).toBe(401);

    // Every call now drops 300 ms after CONNECT (a link fault): with dial_failures = 1 the first
    // drop resets the module at once (backoff 0 s); the next reset is not allowed for 10 min, and
    // the ladder keeps redialling meanwhile (resets are spaced, dialling is not).
    rig.modem.modem.behaviour.dropAfterMs = 300;
    const mark = rig.events.length;
    const accepted = await post("/actions/redial", TOKEN);
    expect(accepted.status).toBe(202);
    expect(JSON.parse(accepted.text).outcome).toBe("started");
    const spaced = await rig.waitFor<RecoveryStateEvent>(
      (e) => e.type === "recovery.state" && ((e as RecoveryStateEvent).waitingReason ?? "").includes("not before"),
      15_000,
      mark,
    );
    expect(spaced.rung).toBe("redial");
    expect(spaced.resets).toBe(1);

    // The calls hold again; the vendor's spacing after reset #1 still refuses a reset request.
    rig.modem.modem.behaviour.dropAfterMs = null;
    await rig.waitFor(isState("connected"), 15_000, rig.events.length);
    const refused = await post("/actions/reset-modem", TOKEN);
    expect(refused.status).toBe(409);
    const rb = JSON.parse(refused.text);
    expect(rb.outcome).toBe("refused-backoff");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(5 * 60);

    // A forced reset runs now and brings the link back.
    const forcedMark = rig.events.length;
    const forced = await post("/actions/reset-modem?force=1", TOKEN);
    expect(forced.status).toBe(202);
    expect(JSON.parse(forced.text).forced).toBe(true);
    await rig.waitFor((e) => e.type === "recovery.action" && (e as { rung?: string; forced?: boolean }).forced === true, 10_000, forcedMark);
    await rig.waitFor(isState("connected"), 15_000, forcedMark);
    await rig.waitFor(okProbe, 10_000, forcedMark);
    expect((await get(base, "/healthz")).status).toBe(200);
  }, 40_000);

  test("the status page in headless Chromium shows state, address and plots with data; screenshot saved", async () => {
    const html = await get(base, "/");
    expect(html.status).toBe(200);
    const r = await checkStatusPage(`${base}/`, { expectState: "connected", expectAddress: "10.64.0.2", screenshotPath: SCREENSHOT, timeoutMs: 15_000 });
    expect(r.state).toBe("connected");
    expect(r.address).toBe("10.64.0.2");
    expect(r.plotPoints.rtt).toBeGreaterThan(0);
    expect(r.plotPoints.rsrp).toBeGreaterThan(0);
    expect(r.plotPointsAfterLive!.rtt).toBeGreaterThan(r.plotPoints.rtt);
    expect(r.timelineSteps).toBeGreaterThan(0);
    expect(r.consoleErrors).toEqual([]);
    expect(await Bun.file(SCREENSHOT).exists()).toBe(true);
  }, 60_000);

  test("the PAP password appears in no endpoint's output and not in the debug log", async () => {
    // A last sweep of every read endpoint after all the activity above.
    for (const p of ["/healthz", "/status", "/metrics", "/events?limit=2000", "/history", "/"]) await get(base, p);
    expect(outputs.length).toBeGreaterThan(10);
    for (const o of outputs) expect(o).not.toContain(PASSWORD);
    expect(rig.logSink.lines.length).toBeGreaterThan(50);
    expect(rig.logSink.lines.some((l) => l.includes("debug") || l.includes("DEBUG"))).toBe(true);
    for (const l of rig.logSink.lines) expect(l).not.toContain(PASSWORD);
    // Nor in any event object (events feed /events, SSE and the log).
    expect(JSON.stringify(rig.events)).not.toContain(PASSWORD);
    // The token is a secret too.
    for (const o of outputs) expect(o).not.toContain(TOKEN);
    for (const l of rig.logSink.lines) expect(l).not.toContain(TOKEN);
  });
});

describe("actions without http.token_file", () => {
  test("POST /actions/redial → 403 with a JSON problem", async () => {
    const dir = tempDir();
    const rig = await startRig({
      dir,
      tables: tables(`listen = "127.0.0.1:18089"`),
      auth: { username: "gw-user", password: PASSWORD },
      controlPort: false,
      overrides: { httpListen: "127.0.0.1:0" },
    });
    try {
      const base = rig.agent.httpUrl!.replace(/\/$/, "");
      const r = await get(base, "/actions/redial", { method: "POST" });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.text)).toMatchObject({ error: { code: "actions-disabled" } });
      const withToken = await get(base, "/actions/reset-modem", { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
      expect(withToken.status).toBe(403);
    } finally {
      await rig.stop();
      removeDir(dir);
    }
  });
});

describe("hardening at start (issue 18)", () => {
  test("a token shorter than 16 characters stops the start with config-invalid naming http.token_file and the file; the modem is never opened", async () => {
    const dir = tempDir();
    try {
      const tokenFile = join(dir, "token");
      writeFileSync(tokenFile, "short-tok\n", { mode: 0o600 });
      const config = rigConfig({ dir, tables: tables(`token_file = ${JSON.stringify(tokenFile)}`) });
      const sink = new MemorySink();
      let opened = 0;
      let caught: unknown = null;
      try {
        await startAgent(config, {
          log: createLogger({ level: "debug", format: "text", sink }),
          openPort: async () => {
            opened++;
            throw new Error("must not be called");
          },
          httpListen: "127.0.0.1:0",
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(CellkeepError);
      const c = (caught as CellkeepError).causeInfo;
      expect(c.code).toBe("config-invalid");
      expect(c.detail).toContain(`http.token_file: ${tokenFile}`);
      expect(c.detail).toContain("at least 16");
      expect(opened).toBe(0);
      expect(`${c.detail} ${sink.lines.join("\n")}`).not.toContain("short-tok");
    } finally {
      removeDir(dir);
    }
  });

  test("a non-loopback listen address is warned about in the log; http.allowed_hosts names are served, others get 421", async () => {
    const dir = tempDir();
    const rig = await startRig({
      dir,
      tables: tables(`allowed_hosts = ["gateway.lan"]`),
      auth: { username: "gw-user", password: PASSWORD },
      controlPort: false,
      overrides: { httpListen: "0.0.0.0:0" },
    });
    try {
      const warning = rig.logSink.lines.find((l) => l.includes("not a loopback address"));
      expect(warning).toBeDefined();
      expect(warning).toContain("http.listen");
      expect(warning).toContain("0.0.0.0:0");
      const port = new URL(rig.agent.httpUrl!).port;
      const at = (host: string) => fetch(`http://127.0.0.1:${port}/status`, { headers: { host } });
      expect((await at(`gateway.lan:${port}`)).status).toBe(200);
      expect((await at(`127.0.0.1:${port}`)).status).toBe(200);
      const evil = await at(`evil.example:${port}`);
      expect(evil.status).toBe(421);
      expect(await evil.text()).not.toContain("imei");
    } finally {
      await rig.stop();
      removeDir(dir);
    }
  });
});

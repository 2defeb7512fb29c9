import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause } from "../../src/core/cause.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { statusCommand, statusTarget } from "../../src/cli/status.ts";
import { FakeLinkSource } from "../support/fake-source.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function agent(listen = "127.0.0.1:0") {
  const bus = new EventBus<EventBase>(1000);
  const src = new FakeLinkSource(bus, () => Date.now());
  const app = createHttpApp({
    events: bus,
    clock: { now: () => Date.now() },
    version: "0.1.0",
    startedAt: Date.now() - 7200_000,
    token: null,
    counters: () => ({ bytesIn: 2_500_000, bytesOut: 1234, packetsIn: 2000, packetsOut: 900, errors: { badFcs: 2, runts: 0 } }),
  });
  const server = startHttpServer(app, listen);
  cleanups.push(() => server.stop());
  return { src, server };
}

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await statusCommand(argv, { out: (t) => (out += t), err: (t) => (err += t), timeoutMs: 2000 });
  return { code, out, err };
}

describe("cellkeep status", () => {
  test("connected: exit 0 and a readable summary with address, masked SIM, signal, traffic", async () => {
    const { src, server } = agent();
    src.bringUp();
    src.signal();
    src.probe(true);
    const r = await run(["--url", server.url]);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^cellkeep 0\.1\.0, up 2\.0 h\n/);
    expect(r.out).toMatch(/^State +connected since /m);
    expect(r.out).toContain("10.64.12.34 peer 10.64.64.64");
    expect(r.out).toContain("IMSI 26201********10");
    expect(r.out).not.toContain("262019876543210");
    expect(r.out).toMatch(/^Signal +RSSI -?\d+ dBm, RSRP -\d+ dBm/m);
    expect(r.out).toContain("in 2.4 MiB (2000 pkts), out 1.2 KiB (900 pkts); errors: badFcs 2");
    expect(r.out).toMatch(/^Health +last probe ok, \d+ ms \(icmp 8\.8\.8\.8/m);
    expect(r.out).toMatch(/^Cause +—$/m);
  });

  test("not connected: exit 1 and the cause with its hint", async () => {
    const { src, server } = agent();
    src.bringUp();
    src.setState("waiting", cause("registration-denied"));
    const r = await run([`--url=${server.url}/`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^State +waiting/m);
    expect(r.out).toContain(`registration-denied: ${cause("registration-denied").hint}`);
  });

  test("--json prints the raw document", async () => {
    const { src, server } = agent();
    src.bringUp();
    const r = await run(["--url", server.url, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).ppp.ipv4.local).toBe("10.64.12.34");
  });

  test("unreachable: exit 3 with a hint", async () => {
    const { server } = agent();
    const url = server.url;
    await server.stop();
    const r = await run(["--url", url]);
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).toContain("cannot reach the agent");
  });

  test("something else answering (404) is exit 3", async () => {
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("nope", { status: 404 }) });
    cleanups.push(() => s.stop(true));
    const r = await run(["--url", `http://127.0.0.1:${s.port}`]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("HTTP 404");
  });

  test("unix socket URL forms", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-status-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "s.sock");
    const { src } = agent(path);
    src.bringUp();
    expect((await run(["--url", `unix:${path}`])).code).toBe(0);
    expect((await run(["--url", path])).code).toBe(0);
  });

  test("an agent that refuses the Host (421): exit 3 with a hint at http.allowed_hosts", async () => {
    const { server } = agent();
    const port = server.port!;
    // As if gateway.lan resolved to this agent: the request goes to 127.0.0.1 carrying Host gateway.lan.
    const viaName: typeof fetch = ((url: string, init?: RequestInit) =>
      fetch(url.replace("gateway.lan", "127.0.0.1"), { ...init, headers: { ...(init?.headers as Record<string, string>), host: `gateway.lan:${port}` } })) as typeof fetch;
    let err = "";
    const code = await statusCommand(["--url", `http://gateway.lan:${port}`], { out: () => {}, err: (t) => (err += t), timeoutMs: 2000, fetch: viaName });
    expect(code).toBe(3);
    expect(err).toContain("HTTP 421");
    expect(err).toContain("http.allowed_hosts");
  });

  test("usage errors: exit 2", async () => {
    expect((await run(["--bogus"])).code).toBe(2);
    expect((await run(["--url"])).code).toBe(2);
    expect((await run(["--url", "ftp://x"])).code).toBe(2);
    const h = await run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.out).toContain("exit: 0 connected");
  });

  test("statusTarget resolves the URL forms", () => {
    expect(statusTarget("http://10.0.0.1:9000")).toEqual({ href: "http://10.0.0.1:9000/status" });
    expect(statusTarget("http://h:1/status")).toEqual({ href: "http://h:1/status" });
    expect(statusTarget("unix:/run/ck.sock")).toEqual({ href: "http://localhost/status", unix: "/run/ck.sock" });
    expect(statusTarget("unix:")).toBeNull();
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { DnsProbe, HttpProbe, buildDnsQuery, parseDnsResponse } from "../../src/health/dns-probe.ts";

// Loopback only (network hygiene): a tiny DNS responder and an HTTP server on 127.0.0.1.
const answered: string[] = [];
let mode: "answer" | "silent" | "noise" | "held" = "answer";
/** In "held" mode the responder keeps its answer until the test calls this. */
let releaseHeld: (() => void) | null = null;
const dns = await Bun.udpSocket({
  hostname: "127.0.0.1",
  socket: {
    data(s, buf, port, addr) {
      if (mode === "silent") return;
      const q = new Uint8Array(buf);
      answered.push(addr);
      if (mode === "noise") {
        s.send(new Uint8Array([1, 2, 3]), port, addr); // garbage
        const wrongId = q.slice();
        wrongId[0]! ^= 0xff;
        wrongId[2]! |= 0x80;
        s.send(wrongId, port, addr); // someone else's answer
      }
      const r = q.slice();
      r[2]! |= 0x80; // QR
      r[3] = (r[3]! & 0xf0) | 3; // NXDOMAIN: still a round trip
      if (mode === "held") releaseHeld = () => s.send(r, port, addr);
      else s.send(r, port, addr);
    },
  },
});
let releaseHttp: (() => void) | null = null;
const http = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/held") {
      // Answer only when the test says so (after it moved the fake clock).
      await new Promise<void>((resolve) => (releaseHttp = resolve));
      return new Response("ok");
    }
    return path === "/ok" ? new Response("ok") : new Response("no", { status: 503 });
  },
});
afterAll(() => {
  dns.close();
  http.stop(true);
});

describe("DNS codec", () => {
  test("query layout (RFC 1035 §4.1)", () => {
    const q = buildDnsQuery(0x1234, "example.com")!;
    expect(Array.from(q.subarray(0, 12))).toEqual([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(q.subarray(12))).toEqual([7, ...Buffer.from("example"), 3, ...Buffer.from("com"), 0, 0, 1, 0, 1]);
    expect(buildDnsQuery(1, "a..b")).toBeNull();
    expect(buildDnsQuery(1, "x".repeat(64) + ".com")).toBeNull();
  });
  test("response header; garbage and queries are not responses", () => {
    expect(parseDnsResponse(new Uint8Array([0xab, 0xcd, 0x81, 0x83, 0, 1, 0, 2, 0, 0, 0, 0]))).toEqual({ id: 0xabcd, rcode: 3, answers: 2 });
    expect(parseDnsResponse(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(parseDnsResponse(buildDnsQuery(1, "a.b")!)).toBeNull();
  });
});

describe("DNS probe over loopback", () => {
  test("an answer with our ID passes (NXDOMAIN counts: the path works); noise is ignored", async () => {
    mode = "noise";
    const p = new DnsProbe({ name: "health.example", servers: () => ["127.0.0.1"], source: () => "127.0.0.1", port: dns.port });
    const out = await p.run(5000);
    expect(out).toMatchObject({ ok: true, loss: 0, detail: "NXDOMAIN, 0 answer(s) from 127.0.0.1" });
    expect(out!.rttMs).toBeGreaterThanOrEqual(0);
    expect(answered.at(-1)).toBe("127.0.0.1");
  });
  test("silence fails at the timeout (fake time)", async () => {
    mode = "silent";
    const sched = new ManualScheduler();
    const p = new DnsProbe({ name: "health.example", servers: () => ["127.0.0.1"], source: () => null, port: dns.port, scheduler: sched });
    const out = p.run(3000);
    await Bun.sleep(5); // let the socket open and the query go out
    sched.advance(3000);
    expect(await out).toMatchObject({ ok: false, loss: 1, detail: "no DNS answer within 3000 ms" });
  });
  test("the RTT is measured on the injected clock", async () => {
    mode = "held";
    releaseHeld = null;
    const sched = new ManualScheduler(1_000);
    const p = new DnsProbe({ name: "health.example", servers: () => ["127.0.0.1"], source: () => null, port: dns.port, scheduler: sched });
    const out = p.run(3000);
    for (let i = 0; i < 200 && releaseHeld === null; i++) await Bun.sleep(1);
    expect(releaseHeld).not.toBeNull();
    sched.advance(42);
    releaseHeld!();
    expect(await out).toMatchObject({ ok: true, rttMs: 42, loss: 0 });
  });
  test("no DNS server from IPCP", async () => {
    const p = new DnsProbe({ name: "x.y", servers: () => [], source: () => null });
    expect(await p.run(100)).toMatchObject({ ok: false, detail: "no DNS server from IPCP" });
  });
});

describe("HTTP probe over loopback", () => {
  test("2xx passes with an RTT; 5xx fails with the status", async () => {
    expect(await new HttpProbe({ url: `http://127.0.0.1:${http.port}/ok` }).run(5000)).toMatchObject({ ok: true, detail: "HTTP 200" });
    expect(await new HttpProbe({ url: `http://127.0.0.1:${http.port}/bad` }).run(5000)).toMatchObject({ ok: false, detail: "HTTP 503" });
  });
  test("the RTT is measured on the injected clock", async () => {
    releaseHttp = null;
    const sched = new ManualScheduler(5_000);
    const out = new HttpProbe({ url: `http://127.0.0.1:${http.port}/held`, scheduler: sched }).run(5000);
    for (let i = 0; i < 200 && releaseHttp === null; i++) await Bun.sleep(1);
    expect(releaseHttp).not.toBeNull();
    sched.advance(37);
    releaseHttp!();
    expect(await out).toMatchObject({ ok: true, rttMs: 37, detail: "HTTP 200" });
  });
  test("credentials in health.http_url never reach the probe's target or detail (events, /status, logs)", async () => {
    const p = new HttpProbe({ url: `http://probe:Url-S3cret@127.0.0.1:${http.port}/ok?token=Query-S3cret` });
    const out = await p.run(5000);
    expect(out.ok).toBe(true);
    const shown = JSON.stringify([p.target, out]);
    expect(shown).not.toContain("Url-S3cret");
    expect(shown).toContain("127.0.0.1");
  });
  test("connection refused fails with the error", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    const out = await new HttpProbe({ url: `http://127.0.0.1:${port}/` }).run(5000);
    expect(out.ok).toBe(false);
    expect(out.detail).toStartWith("HTTP GET failed");
  });
});

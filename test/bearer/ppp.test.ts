/**
 * PppBearer: what the rest of the agent sees of PPP through the DataBearer
 * interface (up info, the IP link, counters, keepalive, down cause), against a
 * server-role PppLink on an in-memory pipe, on fake time. The hang-up wait
 * (terminateWaitMs) is covered in test/ppp/echo.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { PppBearer, pppBearerFactory } from "../../src/bearer/ppp.ts";
import type { Cause } from "../../src/core/cause.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { BearerUpInfo } from "../../src/core/data-bearer.ts";
import { createPipePair } from "../../src/core/pipe.ts";
import { buildEchoRequest } from "../../src/net/icmp.ts";
import { advanceUntil, makeLink, serverOptions, settle, SERVER_V4 } from "../support/ppp-pair.ts";
import { testConfig } from "../modem/harness.ts";

async function rig(toml = "") {
  const sched = new ManualScheduler();
  const [a, b] = createPipePair();
  let info: BearerUpInfo | null = null;
  const downs: (Cause | null)[] = [];
  const bearer = pppBearerFactory({ config: testConfig(toml), scheduler: sched })(a, { up: (i) => (info = i), down: (c) => downs.push(c) });
  const server = makeLink(b, serverOptions("none"), sched);
  return { sched, a, b, bearer, server, downs, info: () => info };
}

const ping = (src: string, dst: string) =>
  buildEchoRequest({ source: Uint8Array.from(src.split(".").map(Number)), destination: Uint8Array.from(dst.split(".").map(Number)), identifier: 7, sequence: 1, payload: new Uint8Array(16), ipId: 1 });

describe("PppBearer", () => {
  test("is a DataBearer of kind ppp: up with IPCP's addresses and the peer's MRU as MTU, IP both ways on its link", async () => {
    const r = await rig();
    expect(r.bearer).toBeInstanceOf(PppBearer);
    expect(r.bearer.kind).toBe("ppp");
    r.server.link.start();
    r.bearer.start();
    // Before IPCP opens nothing goes out as IP, and the refusal is counted.
    expect(r.bearer.ip.sendIp(4, ping("10.0.0.2", "10.0.0.1"))).toBe(false);
    expect(await advanceUntil(r.sched, () => r.info() !== null)).toBe(true);
    expect(r.info()).toEqual({ ipv4: { local: SERVER_V4.peerIPv4, remote: SERVER_V4.localIPv4, dns: SERVER_V4.dns }, ipv6: null, mtu: 1500 });

    const got: Uint8Array[] = [];
    r.bearer.ip.onIp((_v, p) => got.push(p));
    expect(r.bearer.ip.sendIp(4, ping("10.0.0.2", "10.0.0.1"))).toBe(true);
    expect(r.server.link.sendIp(4, ping("10.0.0.1", "10.0.0.2"))).toBe(true);
    await settle(5);
    expect(r.server.ip.length).toBe(1);
    expect(got.length).toBe(1);

    // Counters: the link's octets and packets; errors are the decoder's counters (not its good frames) and the refusals.
    const link = r.bearer.link.counters();
    const c = r.bearer.counters();
    const { frames: _frames, ...decoderErrors } = link.decoder;
    expect(c).toEqual({ bytesIn: link.bytesIn, bytesOut: link.bytesOut, packetsIn: 1, packetsOut: 1, errors: { ...decoderErrors, packetsRefused: 1 } });
    expect(c.bytesIn).toBeGreaterThan(0);
    await r.bearer.stop();
    r.server.link.stop();
  });

  test("keepalive is LCP echo with the configured interval and failures; it runs once LCP is open", async () => {
    const r = await rig('[ppp]\necho_interval = "2s"\necho_failures = 3\n');
    expect(r.bearer.keepalive()).toEqual({ intervalMs: 2_000, failures: 3, open: false, missed: 0, rttMs: null });
    r.server.link.start();
    r.bearer.start();
    expect(await advanceUntil(r.sched, () => r.info() !== null)).toBe(true);
    expect(r.bearer.keepalive()).toMatchObject({ intervalMs: 2_000, failures: 3, open: true, missed: 0 });
    await r.bearer.stop();
    r.server.link.stop();
  });

  test("the pipe closing under it ends the bearer once, with the pipe's own cause", async () => {
    const r = await rig();
    r.server.link.start();
    r.bearer.start();
    expect(await advanceUntil(r.sched, () => r.info() !== null)).toBe(true);
    await r.b.close(); // the far end goes away: this end closes with port-vanished
    await settle(5);
    expect(r.downs.map((c) => c?.code)).toEqual(["port-vanished"]);
    await r.bearer.stop();
    expect(r.downs.length).toBe(1);
    r.server.link.stop();
  });
});

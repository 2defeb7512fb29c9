import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createIpLinkPair } from "../../src/net/ip-link.ts";
import { InLinkPinger, parseEcho, buildEchoReply, ICMP_ECHO_REQUEST } from "../../src/net/icmp.ts";
import { InLinkIcmpProber } from "../../src/health/icmp-prober.ts";
import { IcmpProbe } from "../../src/health/probes.ts";
import { parseIpv4 } from "../../src/net/packet.ts";

/** Our end of a memory link with the prober on it, and a peer that answers echoes (to `alive` only, when given) after `delayMs` of fake time (or not at all). */
function setup(delayMs: number | null, alive?: string) {
  const sched = new ManualScheduler();
  const [ours, theirs] = createIpLinkPair();
  const pinger = new InLinkPinger({ identifier: 0x4242, source: "10.64.0.2" });
  const prober = new InLinkIcmpProber(pinger, (p) => ours.sendIp(4, p), sched);
  const toTun: Uint8Array[] = [];
  ours.onIp((_v, p) => {
    if (!prober.offer(p)) toTun.push(p);
  });
  theirs.onIp((_v, p) => {
    const e = parseEcho(p);
    if (!e || e.type !== ICMP_ECHO_REQUEST || delayMs === null) return;
    if (alive !== undefined && e.destination !== alive) return;
    sched.setTimer(sched.now() + delayMs, () =>
      theirs.sendIp(4, buildEchoReply({ source: parseIpv4(e.destination)!, destination: parseIpv4(e.source)!, identifier: e.identifier, sequence: e.sequence, payload: e.payload })),
    );
  });
  return { sched, ours, theirs, pinger, prober, toTun };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe("in-link ICMP prober (on the net engineer's InLinkPinger)", () => {
  test("an answered echo resolves ok with the fake-time RTT; the reply never reaches TUN", async () => {
    const s = setup(120);
    const result = s.prober.ping("8.8.8.8", 5000);
    await flush(); // the request crosses the memory link
    s.sched.advance(120);
    await flush(); // the reply crosses back
    // 60 bytes: a 20-byte IPv4 header, 8 bytes of ICMP and 32 of payload; the reply mirrors it.
    expect(await result).toEqual({ ok: true, rttMs: 120, bytes: 60 + 60 });
    expect(s.toTun).toHaveLength(0);
    expect(s.prober.pendingCount()).toBe(0);
    expect(s.sched.pendingCount()).toBe(0);
  });

  test("no answer → fails at the timeout, driven by the scheduler", async () => {
    const s = setup(null);
    const probe = new IcmpProbe(s.prober, "1.1.1.1", 3);
    const out = probe.run(2000);
    await flush();
    s.sched.advance(1999);
    expect(s.prober.pendingCount()).toBe(3);
    s.sched.advance(1);
    // Three requests went out and cost their bytes even though nothing came back.
    expect(await out).toEqual({ ok: false, rttMs: null, loss: 1, bytes: 3 * 60, detail: "timeout" });
    expect(s.sched.pendingCount()).toBe(0);
  });

  test("two echoes at once: the answered one resolves ok, the silent one fails at exactly its timeout; no timers left", async () => {
    const s = setup(0, "8.8.8.8");
    const answered = s.prober.ping("8.8.8.8", 5000);
    const silent = s.prober.ping("1.1.1.1", 5000);
    await flush();
    s.sched.advance(0);
    await flush();
    expect(await answered).toEqual({ ok: true, rttMs: 0, bytes: 120 });
    expect(s.prober.pendingCount()).toBe(1);
    s.sched.advance(4999);
    expect(s.prober.pendingCount()).toBe(1);
    s.sched.advance(1);
    expect(await silent).toEqual({ ok: false, rttMs: null, bytes: 60, detail: "timeout" });
    expect(s.prober.pendingCount()).toBe(0);
    expect(s.sched.pendingCount()).toBe(0);
  });

  test("link not open or no address yet: fails at once, nothing left pending", async () => {
    const s = setup(10);
    s.ours.open = false;
    expect(await s.prober.ping("8.8.8.8", 5000)).toMatchObject({ ok: false, detail: "link not open" });
    s.pinger.setSource(null);
    expect(await s.prober.ping("8.8.8.8", 5000)).toMatchObject({ ok: false, detail: "link has no IPv4 address yet" });
    expect(s.sched.pendingCount()).toBe(0);
  });

  test("link down fails outstanding echoes", async () => {
    const s = setup(null);
    const r = s.prober.ping("8.8.8.8", 5000);
    s.prober.linkDown();
    expect(await r).toMatchObject({ ok: false, detail: "link down" });
    expect(s.sched.pendingCount()).toBe(0);
  });
});

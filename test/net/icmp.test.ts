import { describe, expect, test } from "bun:test";
import { ManualScheduler, WakeTimer } from "../../src/core/clock.ts";
import { buildEchoReply, InLinkPinger, parseEcho, parseEchoError } from "../../src/net/icmp.ts";
import { internetChecksum, parseIpv4 } from "../../src/net/packet.ts";

const ME = "10.64.1.2";

/** The far end: turn a request into the reply a host would send. */
function replyTo(req: Uint8Array): Uint8Array {
  const e = parseEcho(req)!;
  return buildEchoReply({ source: parseIpv4(e.destination)!, destination: parseIpv4(e.source)!, identifier: e.identifier, sequence: e.sequence, payload: e.payload.slice() });
}

/** An ICMP error from `router` quoting `req`'s header + 8 bytes (RFC 792). */
function unreachable(req: Uint8Array, router: string, code = 1): Uint8Array {
  const quoted = req.subarray(0, 28);
  const total = 20 + 8 + quoted.byteLength;
  const p = new Uint8Array(total);
  p[0] = 0x45;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[8] = 64;
  p[9] = 1;
  p.set(parseIpv4(router)!, 12);
  p.set(parseIpv4(ME)!, 16);
  const hc = internetChecksum(p, 0, 20);
  p[10] = hc >> 8;
  p[11] = hc & 0xff;
  p[20] = 3;
  p[21] = code;
  p.set(quoted, 28);
  const ic = internetChecksum(p, 20, total);
  p[22] = ic >> 8;
  p[23] = ic & 0xff;
  return p;
}

describe("ICMP codec", () => {
  test("echo request fields round-trip", () => {
    const p = new InLinkPinger({ identifier: 0xbeef, source: ME, payloadSize: 16 });
    const req = p.request("8.8.8.8", 0)!;
    expect(req.byteLength).toBe(20 + 8 + 16);
    const e = parseEcho(req)!;
    expect(e).toMatchObject({ type: 8, code: 0, source: ME, destination: "8.8.8.8", identifier: 0xbeef, sequence: 0 });
    expect(req[8]).toBe(64); // TTL
    expect(req[9]).toBe(1); // ICMP
  });
  test("corrupted checksum or truncated packet is not an echo", () => {
    const p = new InLinkPinger({ identifier: 1, source: ME });
    const req = p.request("1.1.1.1", 0)!;
    const bad = req.slice();
    bad[30] = bad[30]! ^ 0xff;
    expect(parseEcho(bad)).toBeNull();
    expect(parseEcho(req.subarray(0, 24))).toBeNull();
    expect(parseEcho(new Uint8Array([0x45]))).toBeNull();
    expect(parseEchoError(req)).toBeNull();
  });
});

describe("InLinkPinger", () => {
  test("matches a reply, computes RTT from `now`, and claims it", () => {
    const p = new InLinkPinger({ identifier: 7, source: ME, timeoutMs: 1000 });
    const req = p.request("8.8.8.8", 1000)!;
    expect(p.nextDeadline()).toBe(2000);
    const r = p.handleReply(replyTo(req), 1042);
    expect(r).toEqual({ target: "8.8.8.8", sequence: 0, ok: true, rttMs: 42, sentAt: 1000 });
    expect(p.nextDeadline()).toBeNull();
    expect(p.statsOf("8.8.8.8")).toMatchObject({ sent: 1, received: 1, lost: 0, loss: 0, lastRttMs: 42 });
  });

  test("other identifiers, other destinations and non-ICMP pass through (null)", () => {
    const p = new InLinkPinger({ identifier: 7, source: ME });
    const other = new InLinkPinger({ identifier: 8, source: ME });
    p.request("8.8.8.8", 0);
    expect(p.handleReply(replyTo(other.request("8.8.8.8", 0)!), 5)).toBeNull();
    const forSomeoneElse = new InLinkPinger({ identifier: 7, source: "10.9.9.9" });
    expect(p.handleReply(replyTo(forSomeoneElse.request("8.8.8.8", 0)!), 5)).toBeNull();
    const tcp = new Uint8Array(40);
    tcp[0] = 0x45;
    tcp[3] = 40;
    tcp[9] = 6;
    expect(p.handleReply(tcp, 5)).toBeNull();
    // A request addressed to us (someone pinging us) is not a reply.
    expect(p.handleReply(p.request("8.8.4.4", 0)!, 5)).toBeNull();
    expect(p.outstandingCount()).toBe(2);
  });

  test("timeouts come from poll(now) with fake time; late replies are consumed, not counted", () => {
    const clock = new ManualScheduler(0);
    const p = new InLinkPinger({ identifier: 9, source: ME, timeoutMs: 5000 });
    const results: unknown[] = [];
    const wake = new WakeTimer(clock, () => {
      results.push(...p.poll(clock.now()));
      wake.arm(p.nextDeadline());
    });
    const a = p.request("8.8.8.8", clock.now())!;
    clock.advance(1000);
    p.request("1.1.1.1", clock.now());
    wake.arm(p.nextDeadline());
    clock.advance(4999);
    expect(results).toEqual([{ target: "8.8.8.8", sequence: 0, ok: false, rttMs: null, sentAt: 0, detail: "timeout" }]);
    clock.advance(1);
    expect(results.length).toBe(2);
    expect(clock.pendingCount()).toBe(0);
    expect(p.handleReply(replyTo(a), clock.now())).toBe("consumed");
    expect(p.counters.late).toBe(1);
    expect(p.statsOf("8.8.8.8")).toMatchObject({ sent: 1, received: 0, lost: 1, late: 1, loss: 1 });
    // a duplicate of the same late reply is still ours but unmatched
    expect(p.handleReply(replyTo(a), clock.now())).toBe("consumed");
    expect(p.counters.unmatched).toBe(1);
  });

  test("loss ratio over several rounds and sequence numbers advance", () => {
    const p = new InLinkPinger({ identifier: 3, source: ME, timeoutMs: 100 });
    for (let i = 0; i < 4; i++) {
      const req = p.request("9.9.9.9", i * 1000)!;
      expect(parseEcho(req)!.sequence).toBe(i);
      if (i % 2 === 0) expect(p.handleReply(replyTo(req), i * 1000 + 10 + i)).not.toBeNull();
      else expect(p.poll(i * 1000 + 100).length).toBe(1);
    }
    const s = p.statsOf("9.9.9.9");
    expect(s).toMatchObject({ sent: 4, received: 2, lost: 2, loss: 0.5, minRttMs: 10, maxRttMs: 12, avgRttMs: 11 });
  });

  test("an ICMP unreachable quoting our request fails it at once with the router named", () => {
    const p = new InLinkPinger({ identifier: 4, source: ME });
    const req = p.request("192.0.2.1", 0)!;
    const r = p.handleReply(unreachable(req, "10.64.0.1"), 30);
    expect(r).toMatchObject({ ok: false, target: "192.0.2.1", detail: "unreachable from 10.64.0.1 (code 1)" });
    expect(p.outstandingCount()).toBe(0);
  });

  test("no source address (IPCP not up) → no request; abandonAll on link down", () => {
    const p = new InLinkPinger({ identifier: 5 });
    expect(p.request("8.8.8.8", 0)).toBeNull();
    p.setSource(ME);
    expect(p.request("not-an-ip", 0)).toBeNull();
    p.request("8.8.8.8", 0);
    expect(p.abandonAll().map((r) => r.detail)).toEqual(["link down"]);
    expect(p.nextDeadline()).toBeNull();
    expect(() => new InLinkPinger({ identifier: 70000 })).toThrow();
  });
});

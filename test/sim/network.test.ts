import { describe, expect, test } from "bun:test";
import { buildEchoRequest, parseEcho } from "../../src/net/icmp.ts";
import { internetChecksum } from "../../src/net/packet.ts";
import { SimNetwork } from "../../src/sim/network.ts";
import { resolveBehaviour } from "../../src/sim/scenario.ts";

const ip = (s: string) => Uint8Array.from(s.split(".").map(Number));
const echo = (dst: string, seq = 1) => buildEchoRequest({ source: ip("10.64.0.2"), destination: ip(dst), identifier: 0x77, sequence: seq, payload: new Uint8Array(24).fill(0xab) });

function dnsQuery(name: string, qtype = 1, dst = "10.64.0.53"): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const dns = [0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, qtype, 0, 1];
  const udp = [0xc0, 0x01, 0, 53, (8 + dns.length) >> 8, (8 + dns.length) & 0xff, 0, 0, ...dns];
  const p = new Uint8Array(20 + udp.length);
  p.set([0x45, 0, p.length >> 8, p.length & 0xff, 0, 0, 0, 0, 64, 17, 0, 0, ...ip("10.64.0.2"), ...ip(dst)]);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(udp, 20);
  return p;
}

describe("SimNetwork", () => {
  const net = () => new SimNetwork(resolveBehaviour([]));

  test("echo replies for reachable addresses (incl. the peer and DNS servers), swapped addresses, valid checksums", () => {
    const n = net();
    for (const dst of ["8.8.8.8", "1.1.1.1", "10.64.0.1", "10.64.0.53"]) {
      const [reply] = n.handle(echo(dst, 5));
      expect(reply).toBeDefined();
      const r = parseEcho(reply!)!;
      expect(r.type).toBe(0);
      expect(r.sequence).toBe(5);
      expect([...reply!.subarray(12, 16)]).toEqual([...ip(dst)]);
      expect([...reply!.subarray(16, 20)]).toEqual([...ip("10.64.0.2")]);
      expect(internetChecksum(reply!, 0, 20)).toBe(0);
      expect(internetChecksum(reply!, 20)).toBe(0);
    }
    expect(n.handle(echo("9.9.9.9"))).toEqual([]);
    n.setReachable("8.8.8.8", false);
    expect(n.handle(echo("8.8.8.8"))).toEqual([]);
    expect(n.counters.echoReplies).toBe(4);
  });

  test("DNS: A for the probe name, NXDOMAIN for others, valid UDP checksum", () => {
    const n = net();
    const [hit] = n.handle(dnsQuery("Probe.Cellkeep.Test"));
    const udp = hit!.subarray(20);
    const pseudo = new Uint8Array([...hit!.subarray(12, 20), 0, 17, udp.length >> 8, udp.length & 0xff]);
    let s = 0;
    for (let i = 0; i < 12; i += 2) s += (pseudo[i]! << 8) | pseudo[i + 1]!;
    expect(internetChecksum(udp, 0, udp.length, s)).toBe(0);
    const dns = udp.subarray(8);
    expect(dns[0]).toBe(0xbe);
    expect(dns[3]! & 0x0f).toBe(0);
    expect((dns[6]! << 8) | dns[7]!).toBe(1);
    expect([...dns.subarray(dns.length - 4)]).toEqual([10, 64, 0, 80]);
    const [miss] = n.handle(dnsQuery("other.test"));
    expect(miss!.subarray(28)[3]! & 0x0f).toBe(3);
    // AAAA for the probe name: NOERROR, no answer.
    const [aaaa] = n.handle(dnsQuery("probe.cellkeep.test", 28));
    expect(aaaa!.subarray(28)[3]! & 0x0f).toBe(0);
    expect(aaaa!.subarray(28)[7]).toBe(0);
    // Only the DNS servers answer port 53.
    expect(n.handle(dnsQuery("probe.cellkeep.test", 1, "8.8.8.8"))).toEqual([]);
  });

  test("garbage is counted and dropped, never thrown", () => {
    const n = net();
    const bad = [new Uint8Array(0), new Uint8Array(19), Uint8Array.of(0x60, ...new Array(39).fill(0)), echo("8.8.8.8").fill(0xff, 10, 12), echo("8.8.8.8").subarray(0, 30)];
    for (const p of bad) expect(n.handle(p)).toEqual([]);
    for (let i = 0; i < 2000; i++) {
      const p = crypto.getRandomValues(new Uint8Array(1 + (i % 80)));
      expect(() => n.handle(p)).not.toThrow();
    }
    expect(n.counters.dropped).toBeGreaterThanOrEqual(bad.length);
  });
});

import { describe, expect, test } from "bun:test";
import { formatIpv4, internetChecksum, ipPacketLength, parseIpv4, splitPackets } from "../../src/net/packet.ts";
import { buildEchoRequest } from "../../src/net/icmp.ts";
import { concatBytes, ipv4OfLength, ipv6OfLength } from "../support/ip.ts";

describe("splitPackets", () => {
  test("one packet per chunk", () => {
    const r = splitPackets(ipv4OfLength(60));
    expect(r.packets.map((p) => p.byteLength)).toEqual([60]);
    expect(r.malformed).toBe(0);
  });
  test("merged IPv4 and IPv6 packets split by their own length fields", () => {
    const r = splitPackets(concatBytes(ipv4OfLength(1500, 1), ipv6OfLength(100), ipv4OfLength(20), ipv6OfLength(0), ipv4OfLength(576, 7)));
    expect(r.packets.map((p) => p.byteLength)).toEqual([1500, 140, 20, 40, 576]);
    expect(r.packets[0]![100]).toBe(1);
    expect(r.packets[4]![300]).toBe(7);
    expect(r.malformed).toBe(0);
  });
  test("garbage version nibble: keeps what came before, counts the rest", () => {
    const junk = new Uint8Array([0x12, 0, 0, 0]);
    const r = splitPackets(concatBytes(ipv4OfLength(40), junk, ipv4OfLength(40)));
    expect(r.packets.length).toBe(1);
    expect(r.malformed).toBe(44);
  });
  test("truncated last packet and bad IHL are malformed", () => {
    expect(splitPackets(ipv4OfLength(100).subarray(0, 50)).malformed).toBe(50);
    const bad = ipv4OfLength(40);
    bad[0] = 0x44; // IHL 16 bytes < 20
    expect(splitPackets(bad).malformed).toBe(40);
    expect(ipPacketLength(new Uint8Array([0x45, 0]), 0)).toBeNull();
    expect(splitPackets(new Uint8Array(0)).packets).toEqual([]);
  });
});

describe("checksum and addresses", () => {
  test("RFC 1071 example sums", () => {
    // RFC 1071 §3 example: 0001 f203 f4f5 f6f7 sums to ddf2; checksum is its complement.
    expect(internetChecksum(new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(~0xddf2 & 0xffff);
    expect(internetChecksum(new Uint8Array([0xff]))).toBe(0x00ff);
  });
  test("a built header verifies to zero", () => {
    const p = buildEchoRequest({ source: parseIpv4("10.0.2.15")!, destination: parseIpv4("8.8.8.8")!, identifier: 1, sequence: 2, payload: new Uint8Array(5) });
    expect(internetChecksum(p, 0, 20)).toBe(0);
    expect(internetChecksum(p, 20, p.byteLength)).toBe(0);
  });
  test("parseIpv4 rejects junk", () => {
    expect(parseIpv4("1.2.3.256")).toBeNull();
    expect(parseIpv4("1.2.3")).toBeNull();
    expect(parseIpv4("a.b.c.d")).toBeNull();
    expect(formatIpv4(parseIpv4("192.168.0.1")!)).toBe("192.168.0.1");
  });
});

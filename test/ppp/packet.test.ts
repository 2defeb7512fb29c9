import { describe, expect, test } from "bun:test";
import { CODE, emitOptions, emitPacket, parseOptions, parsePacket, peerText, readU32, u32 } from "../../src/ppp/packet.ts";
import { formatIpv4, parseIpv4 } from "../../src/core/ipv4.ts";

describe("control packet codec (RFC 1661 §5)", () => {
  test("round trip of an LCP Configure-Request seen from a real peer", () => {
    // slirp's ConfReq: MRU 1500, Magic, PFC, ACFC (see notes/slirp-peer.md).
    const wire = Uint8Array.from([0x01, 0x01, 0x00, 0x12, 0x01, 0x04, 0x05, 0xdc, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78, 0x07, 0x02, 0x08, 0x02]);
    const p = parsePacket(wire)!;
    expect(p.code).toBe(CODE.CONF_REQ);
    expect(p.id).toBe(1);
    const opts = parseOptions(p.data)!;
    expect(opts.map((o) => o.type)).toEqual([1, 5, 7, 8]);
    expect(readU32(opts[1]!.data)).toBe(0x12345678);
    expect(emitPacket({ code: p.code, id: p.id, data: emitOptions(opts) })).toEqual(wire);
  });

  test("padding beyond Length is ignored", () => {
    const p = parsePacket(Uint8Array.from([0x09, 0x02, 0x00, 0x08, 1, 2, 3, 4, 0xee, 0xee]))!;
    expect([...p.data]).toEqual([1, 2, 3, 4]);
  });

  test("short packets and bad Length are discarded, never thrown", () => {
    expect(parsePacket(new Uint8Array(0))).toBeNull();
    expect(parsePacket(Uint8Array.from([1, 1, 0]))).toBeNull();
    expect(parsePacket(Uint8Array.from([1, 1, 0, 3]))).toBeNull(); // Length < 4
    expect(parsePacket(Uint8Array.from([1, 1, 0, 9, 0]))).toBeNull(); // Length > received
  });

  test("malformed option lists are rejected as a whole", () => {
    expect(parseOptions(Uint8Array.from([1]))).toBeNull();
    expect(parseOptions(Uint8Array.from([1, 1]))).toBeNull(); // option Length < 2
    expect(parseOptions(Uint8Array.from([1, 6, 0, 0]))).toBeNull(); // runs past the end
    expect(parseOptions(new Uint8Array(0))).toEqual([]);
    expect(parseOptions(Uint8Array.from([7, 2]))).toEqual([{ type: 7, data: new Uint8Array(0) }]);
  });

  test("random bytes never make the parsers throw, and what they accept is exactly what RFC 1661 allows", () => {
    /** RFC 1661 §6, walked independently of parseOptions: TLVs of Length ≥ 2 that end exactly at the end. */
    const wellFormed = (b: Uint8Array, i = 0): boolean => i === b.length || (i + 2 <= b.length && b[i + 1]! >= 2 && wellFormed(b, i + b[i + 1]!));
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, k) => v === b[k]);
    const wrong: string[] = [];
    const seen = { packets: 0, discarded: 0, optionLists: 0, malformed: 0 };
    let x = 12345;
    const next = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    for (let i = 0; i < 20000; i++) {
      const n = i % 40;
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = next();
      // Every other buffer gets a Length near its size, and small option lengths, so both outcomes come up often.
      if (i % 2 === 0 && n >= 4) {
        b[2] = 0;
        b[3] = next() % (n + 3);
        for (let j = 5; j < n; j += 2 + (next() % 4)) b[j] = next() % 6;
      }
      let p: ReturnType<typeof parsePacket> = null;
      try {
        p = parsePacket(b);
      } catch (e) {
        wrong.push(`parsePacket threw on ${[...b]}: ${e}`);
        continue;
      }
      const length = n >= 4 ? (b[2]! << 8) | b[3]! : -1;
      const valid = length >= 4 && length <= n;
      if ((p !== null) !== valid) wrong.push(`parsePacket(${[...b]}) → ${p ? "packet" : "null"}`);
      if (p) {
        seen.packets++;
        if (p.code !== b[0] || p.id !== b[1] || !same(p.data, b.subarray(4, length))) wrong.push(`parsePacket(${[...b]}) fields`);
        if (!same(emitPacket(p), b.subarray(0, length))) wrong.push(`emitPacket(parsePacket(${[...b]})) differs`);
      } else seen.discarded++;
      for (const data of p ? [p.data, b] : [b]) {
        let opts: ReturnType<typeof parseOptions> = null;
        try {
          opts = parseOptions(data);
        } catch (e) {
          wrong.push(`parseOptions threw on ${[...data]}: ${e}`);
          continue;
        }
        if ((opts !== null) !== wellFormed(data)) wrong.push(`parseOptions(${[...data]}) → ${opts ? "options" : "null"}`);
        if (opts) {
          seen.optionLists++;
          if (!same(emitOptions(opts), data)) wrong.push(`emitOptions(parseOptions(${[...data]})) differs`);
        } else seen.malformed++;
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(1000);
  });

  test("helpers", () => {
    expect(formatIpv4(Uint8Array.of(10, 0, 2, 15))).toBe("10.0.2.15");
    expect(parseIpv4("10.64.64.64")).toEqual(Uint8Array.of(10, 64, 64, 64));
    expect(parseIpv4("256.0.0.1")).toBeNull();
    expect(parseIpv4("1.2.3")).toBeNull();
    expect(u32(0xdeadbeef)).toEqual(Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    expect(peerText(new TextEncoder().encode("Login ok\x01"))).toBe("Login ok?");
  });
});

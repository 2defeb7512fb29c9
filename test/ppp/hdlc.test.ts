import { describe, expect, test } from "bun:test";
import { FCS16_GOOD, FCS16_INIT, FCS16_TABLE, FCS32_GOOD, fcs16, fcs16Trailer, fcs16Words, fcs32, fcs32Trailer } from "../../src/ppp/fcs.ts";
import { HdlcDecoder, checkFrame, encodeFrame, encodeFrameInto, maxFrameSize, type DecodeEvent } from "../../src/ppp/hdlc.ts";
import { DEFAULT_FRAMING, PROTO, type Framing } from "../../src/ppp/types.ts";

const hex = (s: string) => new Uint8Array(s.trim().split(/\s+/).map((x) => parseInt(x, 16)));
const ascii = (s: string) => new TextEncoder().encode(s);
const frames = (evs: DecodeEvent[]) => evs.filter((e) => e.kind === "frame") as Extract<DecodeEvent, { kind: "frame" }>[];

describe("FCS (RFC 1662 appendix C)", () => {
  test("CRC-16/X.25 check value of '123456789' is 0x906e", () => {
    expect(fcs16(ascii("123456789")) ^ 0xffff).toBe(0x906e);
  });
  test("CRC-32 check value of '123456789' is 0xcbf43926", () => {
    expect((fcs32(ascii("123456789")) ^ 0xffffffff) >>> 0).toBe(0xcbf43926);
  });
  test("data + appended FCS-16 leaves the good residue 0xf0b8", () => {
    for (const data of [ascii("123456789"), hex("ff 03 c0 21 01 01 00 04"), new Uint8Array(0)]) {
      const full = new Uint8Array([...data, ...fcs16Trailer(data)]);
      expect(fcs16(full)).toBe(FCS16_GOOD);
      full[0] = (full[0] ?? 0) ^ 1;
      expect(fcs16(full)).not.toBe(FCS16_GOOD);
    }
  });
  test("data + appended FCS-32 leaves the good residue 0xdebb20e3", () => {
    const data = hex("ff 03 c0 21 01 01 00 04");
    const full = new Uint8Array([...data, ...fcs32Trailer(data)]);
    expect(fcs32(full)).toBe(FCS32_GOOD);
    full[3] = 0;
    expect(fcs32(full)).not.toBe(FCS32_GOOD);
  });
  test("FCS-16 eight octets per step equals the octet-at-a-time table of RFC 1662 C.2, for every start, length and register", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const data = new Uint8Array(64).map(() => rnd());
    const byByte = (d: Uint8Array, f: number, from: number, to: number) => {
      for (let i = from; i < to; i++) f = (f >>> 8) ^ FCS16_TABLE[(f ^ d[i]!) & 0xff]!;
      return f;
    };
    for (const init of [FCS16_INIT, 0, 0x1234]) {
      for (let from = 0; from < 20; from++) {
        for (let to = from; to <= data.length; to++) expect(fcs16(data, init, from, to)).toBe(byByte(data, init, from, to));
      }
    }
  });
  test("FCS-16 sixteen octets per step over a word-aligned buffer equals fcs16, for every length", () => {
    const bytes = new Uint8Array(260);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151 + 7) & 0xff;
    const words = new Uint32Array(bytes.buffer);
    for (let len = 0; len <= bytes.length; len++) expect(fcs16Words(words, bytes, len)).toBe(fcs16(bytes, FCS16_INIT, 0, len));
  });
  test("incremental FCS equals one-shot FCS", () => {
    const d = ascii("hello, point-to-point world");
    expect(fcs16(d.subarray(10), fcs16(d.subarray(0, 10)))).toBe(fcs16(d));
    expect(fcs32(d.subarray(10), fcs32(d.subarray(0, 10)))).toBe(fcs32(d));
  });
});

describe("encodeFrame", () => {
  test("LCP Configure-Request with default framing: known wire bytes", () => {
    // Configure-Request id 1, len 4 (no options). FCS computed over ff 03 c0 21 01 01 00 04.
    const wire = encodeFrame(PROTO.LCP, hex("01 01 00 04"), DEFAULT_FRAMING);
    const [lo, hi] = fcs16Trailer(hex("ff 03 c0 21 01 01 00 04"));
    // 0x01, 0x00, 0x04 are control chars: escaped under ACCM 0xffffffff.
    const expected = [0x7e, 0xff, 0x7d, 0x23, 0xc0, 0x21, 0x7d, 0x21, 0x7d, 0x21, 0x7d, 0x20, 0x7d, 0x24];
    for (const b of [lo!, hi!]) {
      if (b < 0x20 || b === 0x7e || b === 0x7d) expected.push(0x7d, b ^ 0x20);
      else expected.push(b);
    }
    expected.push(0x7e);
    expect([...wire]).toEqual(expected);
  });
  test("flag and escape octets are always escaped, even with ACCM 0", () => {
    const wire = encodeFrame(PROTO.IPV4, hex("7e 7d 01 11"), { accm: 0, acfc: true, pfc: true, fcs32: false });
    const body = wire.subarray(1, wire.length - 1);
    expect(body.includes(0x7e)).toBe(false);
    expect([...body.subarray(0, 7)]).toEqual([0x21, 0x7d, 0x5e, 0x7d, 0x5d, 0x01, 0x11]);
  });
  test("custom ACCM escapes only mapped control characters (XON/XOFF map 0x000a0000)", () => {
    const wire = encodeFrame(PROTO.IPV4, hex("11 13 12"), { accm: 0x000a0000, acfc: true, pfc: true, fcs32: false });
    expect([...wire.subarray(1, 6)]).toEqual([0x21, 0x7d, 0x31, 0x7d, 0x33]);
    expect(wire[6]).toBe(0x12);
  });
  test("PFC compresses only protocols below 0x100; ACFC drops ff 03", () => {
    const f: Framing = { accm: 0, acfc: true, pfc: true, fcs32: false };
    expect(encodeFrame(PROTO.IPV4, new Uint8Array(0), f)[1]).toBe(0x21);
    const ipcp = encodeFrame(PROTO.IPCP, new Uint8Array(0), f);
    expect([ipcp[1], ipcp[2]]).toEqual([0x80, 0x21]);
    const noAcfc = encodeFrame(PROTO.IPV4, new Uint8Array(0), { ...f, acfc: false });
    expect([noAcfc[1], noAcfc[2], noAcfc[3]]).toEqual([0xff, 0x03, 0x21]);
  });
});

function roundTrip(protocol: number, info: Uint8Array, framing: Framing, chunk = 0) {
  const dec = new HdlcDecoder({ accm: framing.accm, fcs32: framing.fcs32 });
  const wire = encodeFrame(protocol, info, framing);
  const evs: DecodeEvent[] = [];
  if (chunk <= 0) evs.push(...dec.push(wire));
  else for (let i = 0; i < wire.length; i += chunk) evs.push(...dec.push(wire.subarray(i, i + chunk)));
  return { dec, evs };
}

describe("encodeFrameInto", () => {
  test("frames written back to back equal encodeFrame's, and never pass maxFrameSize (all-escape worst case)", () => {
    const framings: Framing[] = [DEFAULT_FRAMING, { accm: 0, acfc: true, pfc: true, fcs32: false }, { accm: 0, acfc: false, pfc: false, fcs32: true }];
    const infos = [hex("01 02 03"), new Uint8Array(1500).fill(0x7e), new Uint8Array(300).map((_, i) => [0x7d, 0x00, 0x7e, 0x1f][i & 3]!), new Uint8Array(0)];
    for (const framing of framings) {
      const out = new Uint8Array(infos.reduce((n, i) => n + maxFrameSize(i.length), 0) + 3);
      out[0] = 0xaa;
      let at = 1;
      const expected: number[] = [0xaa];
      for (const info of infos) {
        const end = encodeFrameInto(out, at, PROTO.IPV6, info, framing);
        expect(end - at).toBeLessThanOrEqual(maxFrameSize(info.length));
        expected.push(...encodeFrame(PROTO.IPV6, info, framing));
        at = end;
      }
      expect([...out.subarray(0, at)]).toEqual(expected);
    }
  });
});

describe("checkFrame (one complete frame, unescaped, FCS included)", () => {
  /** The frame as the decoder holds it: header + info + FCS-16 trailer. */
  const framed = (body: Uint8Array) => new Uint8Array([...body, ...fcs16Trailer(body)]);
  test("a good frame: protocol and the bounds of its information field", () => {
    const f = framed(hex("ff 03 00 21 45 00"));
    expect(checkFrame(f, f.length, false)).toEqual({ ok: true, protocol: 0x0021, infoStart: 4, infoEnd: 6 });
    // Address/control compressed away and a one-octet protocol (ACFC + PFC).
    const c = framed(hex("21 45 00"));
    expect(checkFrame(c, c.length, false)).toEqual({ ok: true, protocol: 0x21, infoStart: 1, infoEnd: 3 });
    // The word-wise FCS gives the same verdict.
    const aligned = new Uint8Array(16);
    aligned.set(f);
    expect(checkFrame(aligned, f.length, false, new Uint32Array(aligned.buffer))).toEqual(checkFrame(f, f.length, false));
  });
  test("runts: shorter than a protocol octet plus the FCS, or address/control with no protocol", () => {
    const tiny = framed(hex("21"));
    expect(checkFrame(tiny, tiny.length, false)).toEqual({ ok: false, why: "runt" });
    const noProto = framed(hex("ff 03"));
    expect(checkFrame(noProto, noProto.length, false)).toEqual({ ok: false, why: "runt" });
  });
  test("bad FCS, bad control octet, even low protocol octet", () => {
    const f = framed(hex("ff 03 00 21 45"));
    f[4] = f[4]! ^ 1;
    expect(checkFrame(f, f.length, false)).toEqual({ ok: false, why: "bad-fcs" });
    const ctl = framed(hex("ff 05 00 21 45"));
    expect(checkFrame(ctl, ctl.length, false)).toEqual({ ok: false, why: "malformed" });
    const even = framed(hex("ff 03 c0 20 45"));
    expect(checkFrame(even, even.length, false)).toEqual({ ok: false, why: "malformed" });
  });
  test("FCS-32 frames are judged with FCS-32", () => {
    const body = hex("ff 03 00 57 60 00");
    const f = new Uint8Array([...body, ...fcs32Trailer(body)]);
    expect(checkFrame(f, f.length, true)).toEqual({ ok: true, protocol: 0x0057, infoStart: 4, infoEnd: 6 });
    expect(checkFrame(f, f.length, false)).toEqual({ ok: false, why: "bad-fcs" });
  });
});

describe("HdlcDecoder", () => {
  const framings: Framing[] = [
    DEFAULT_FRAMING,
    { accm: 0, acfc: true, pfc: true, fcs32: false },
    { accm: 0x000a0000, acfc: false, pfc: true, fcs32: true },
    { accm: 0xffffffff, acfc: true, pfc: false, fcs32: true },
  ];
  test("round trip across framings, protocols, payloads and chunkings", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (const framing of framings) {
      for (const protocol of [PROTO.IPV4, PROTO.IPV6, PROTO.LCP, PROTO.IPCP, 0x0031]) {
        // RFC 1662 §4.3: a 3-octet frame (1-octet protocol + FCS-16, nothing else) is a runt.
        const sizes = framing.acfc && framing.pfc && !framing.fcs32 ? [1, 2, 5, 100, 1500] : [0, 1, 2, 5, 100, 1500];
        for (const size of sizes) {
          const info = new Uint8Array(size).map(() => rnd());
          for (const chunk of [0, 1, 3]) {
            const { dec, evs } = roundTrip(protocol, info, framing, chunk);
            const fr = frames(evs);
            expect(fr.length).toBe(1);
            expect(fr[0]!.protocol).toBe(protocol);
            expect([...fr[0]!.info]).toEqual([...info]);
            expect(dec.counters.frames).toBe(1);
            expect(dec.counters.badFcs).toBe(0);
          }
        }
      }
    }
  });

  test("all-escape payload round trips", () => {
    const info = new Uint8Array(1500);
    for (let i = 0; i < info.length; i++) info[i] = [0x7e, 0x7d, 0x00, 0x1f][i % 4]!;
    const { evs } = roundTrip(PROTO.IPV4, info, DEFAULT_FRAMING);
    expect([...frames(evs)[0]!.info]).toEqual([...info]);
  });

  test("bad FCS is counted and dropped; next frame still decodes", () => {
    const dec = new HdlcDecoder();
    const a = encodeFrame(PROTO.LCP, hex("09 01 00 08 00 00 00 00"), DEFAULT_FRAMING);
    const bad = a.slice();
    bad[6] = bad[6]! ^ 0x40;
    const evs = dec.push(new Uint8Array([...bad, ...a]));
    expect(frames(evs).length).toBe(1);
    expect(dec.counters.badFcs).toBe(1);
    expect(dec.counters.discardedBytes).toBeGreaterThan(0);
  });

  test("shared flags between frames and garbage before the first flag", () => {
    const dec = new HdlcDecoder();
    const a = encodeFrame(PROTO.IPV4, ascii("one"), DEFAULT_FRAMING);
    const b = encodeFrame(PROTO.IPV4, ascii("two"), DEFAULT_FRAMING);
    // garbage, then a, then b sharing a's closing flag
    const stream = new Uint8Array([0x78, 0x79, 0x7a, 0x99, ...a, ...b.subarray(1)]);
    const fr = frames(dec.push(stream));
    expect(fr.map((f) => new TextDecoder().decode(f.info))).toEqual(["one", "two"]);
    expect(dec.counters.discardedBytes).toBe(4);
  });

  test("noise between flags resynchronises at the next flag", () => {
    const dec = new HdlcDecoder();
    const a = encodeFrame(PROTO.IPV4, ascii("payload"), DEFAULT_FRAMING);
    const stream = new Uint8Array([0x7e, 0x42, 0x99, 0x13, 0x7e, ...a]);
    const evs = dec.push(stream);
    expect(frames(evs).length).toBe(1);
    expect(dec.counters.runts + dec.counters.badFcs).toBe(1);
  });

  test("abort sequence (7d 7e) drops the partial frame", () => {
    const dec = new HdlcDecoder();
    const a = encodeFrame(PROTO.IPV4, ascii("payload"), DEFAULT_FRAMING);
    const partial = a.subarray(0, 6);
    const evs = dec.push(new Uint8Array([...partial, 0x7d, 0x7e, ...a]));
    expect(frames(evs).length).toBe(1);
    expect(dec.counters.aborted).toBe(1);
  });

  test("ESCAPED across chunks: ESCAPE ends a chunk, DCE-inserted control characters follow, then the octet", () => {
    const framing: Framing = { accm: 0x000a0000, acfc: true, pfc: true, fcs32: false };
    const wire = encodeFrame(PROTO.IPV4, hex("7e 41 7d 42"), framing);
    // wire: 7e 21 7d 5e 41 7d 5d 42 <fcs> 7e; cut right after the first ESCAPE and slip XON/XOFF in.
    for (const accm of [0x000a0000, 0]) {
      const dec = new HdlcDecoder({ accm });
      const evs = [...dec.push(wire.subarray(0, 3)), ...dec.push(new Uint8Array([0x11, 0x13, ...wire.subarray(3)]))];
      if (accm !== 0) {
        expect(frames(evs).map((f) => [...f.info])).toEqual([[0x7e, 0x41, 0x7d, 0x42]]);
        expect(dec.counters.discardedBytes).toBe(0);
      } else {
        // Without them in the receive ACCM the control characters are data: the frame fails its FCS.
        expect(frames(evs).length).toBe(0);
        expect(dec.counters.badFcs).toBe(1);
      }
    }
  });

  test("ESCAPE at the end of a chunk and FLAG at the start of the next: abort, the octets counted once", () => {
    const dec = new HdlcDecoder({ accm: 0 });
    const a = encodeFrame(PROTO.IPV4, ascii("payload"), { accm: 0, acfc: true, pfc: true, fcs32: false });
    // 7e 21 'p' 'a' 7d | 7e <a again, sharing the flag>
    dec.push(new Uint8Array([0x7e, 0x21, 0x70, 0x61, 0x7d]));
    const fr = frames(dec.push(new Uint8Array([0x7e, ...a.subarray(1)])));
    expect(fr.map((f) => new TextDecoder().decode(f.info))).toEqual(["payload"]);
    expect(dec.counters.aborted).toBe(1);
    expect(dec.counters.discardedBytes).toBe(4);
  });

  test("runts shorter than protocol + FCS are counted", () => {
    const dec = new HdlcDecoder();
    dec.push(hex("7e 21 7e 21 00 7e"));
    expect(dec.counters.runts).toBe(2);
    expect(dec.counters.frames).toBe(0);
  });

  test("oversize frames beyond max(MRU,1500) are dropped; a larger MRU admits them", () => {
    const big = new Uint8Array(1600).fill(0x41);
    const dec = new HdlcDecoder({ mru: 1000 });
    expect(frames(dec.push(encodeFrame(PROTO.IPV4, big, DEFAULT_FRAMING))).length).toBe(0);
    expect(dec.counters.oversize).toBe(1);
    // 1500 always accepted even with a smaller MRU (RFC 1661 §6.1 note)
    expect(frames(dec.push(encodeFrame(PROTO.IPV4, big.subarray(0, 1500), DEFAULT_FRAMING))).length).toBe(1);
    dec.setMru(2000);
    expect(frames(dec.push(encodeFrame(PROTO.IPV4, big, DEFAULT_FRAMING))).length).toBe(1);
  });

  test("unescaped control characters in the receive ACCM are ignored (RFC 1662 §4.2)", () => {
    const dec = new HdlcDecoder({ accm: 0x000a0000 });
    const wire = encodeFrame(PROTO.IPV4, ascii("data"), { accm: 0x000a0000, acfc: false, pfc: false, fcs32: false });
    // a DCE inserts XON (0x11) and XOFF (0x13) in the middle of the frame
    const noisy = new Uint8Array([...wire.subarray(0, 5), 0x11, 0x13, ...wire.subarray(5)]);
    const fr = frames(dec.push(noisy));
    expect(fr.length).toBe(1);
    expect(new TextDecoder().decode(fr[0]!.info)).toBe("data");
    // with receive ACCM 0 the same insertion corrupts the frame
    const dec0 = new HdlcDecoder({ accm: 0 });
    expect(frames(dec0.push(noisy)).length).toBe(0);
    expect(dec0.counters.badFcs).toBe(1);
  });

  test("ACFC and PFC frames are accepted even when not negotiated", () => {
    const dec = new HdlcDecoder();
    const fr = frames(dec.push(encodeFrame(PROTO.IPV4, ascii("x"), { accm: 0, acfc: true, pfc: true, fcs32: false })));
    expect(fr[0]?.protocol).toBe(PROTO.IPV4);
  });

  test("invalid protocol field (even low octet) is malformed", () => {
    const dec = new HdlcDecoder();
    dec.push(encodeFrame(0xc020, ascii("x"), DEFAULT_FRAMING));
    expect(dec.counters.malformed).toBe(1);
    expect(dec.counters.frames).toBe(0);
  });

  test("FCS-32 switch: a FCS-16 frame does not pass a FCS-32 decoder", () => {
    const dec = new HdlcDecoder();
    dec.setFcs32(true);
    dec.push(encodeFrame(PROTO.IPV4, ascii("hello"), DEFAULT_FRAMING));
    expect(dec.counters.frames).toBe(0);
    const fr = frames(dec.push(encodeFrame(PROTO.IPV4, ascii("hello"), { ...DEFAULT_FRAMING, fcs32: true })));
    expect(fr.length).toBe(1);
  });

  // Modem text is the AT channel's business (src/at/core.ts recognises it
  // between frames); to the decoder anything between frames is garbage.

  test("text after the last frame is no event: discarded with the next flag, the next frame decodes", () => {
    const dec = new HdlcDecoder();
    const a = encodeFrame(PROTO.IPV4, ascii("last"), DEFAULT_FRAMING);
    const text = ascii("\r\nNO CARRIER\r\n");
    const evs = dec.push(new Uint8Array([...a, ...text]));
    expect(evs.map((e) => e.kind)).toEqual(["frame"]);
    expect(dec.counters.discardedBytes).toBe(0);
    const b = encodeFrame(PROTO.IPV4, ascii("next"), DEFAULT_FRAMING);
    const fr = frames(dec.push(b));
    expect(fr.map((f) => new TextDecoder().decode(f.info))).toEqual(["next"]);
    // The text up to b's opening flag is a candidate frame with a bad FCS, all of it discarded.
    expect(dec.counters.badFcs).toBe(1);
    expect(dec.counters.discardedBytes).toBe(text.length);
    expect(Object.keys(dec.counters)).not.toContain("noCarrier");
  });

  test("text while hunting (garbage before the first flag) is skipped and counted", () => {
    const dec = new HdlcDecoder({ accm: 0 });
    const junk = ascii("junk NO CARRIE\r\nNO CARRIER\r\n");
    const a = encodeFrame(PROTO.IPV4, ascii("x"), { accm: 0, acfc: true, pfc: true, fcs32: false });
    const evs = [...dec.push(junk.subarray(0, 9)), ...dec.push(junk.subarray(9)), ...dec.push(a)];
    expect(evs.map((e) => e.kind)).toEqual(["frame"]);
    expect(dec.counters.discardedBytes).toBe(junk.length);
  });

  test("the text inside a frame's payload is data, also unescaped under ACCM 0", () => {
    for (const framing of [DEFAULT_FRAMING, { accm: 0, acfc: true, pfc: true, fcs32: false }]) {
      const dec = new HdlcDecoder({ accm: framing.accm });
      const info = ascii("\r\nNO CARRIER\r\n here \r\nNO CARRIER\r\n");
      const fr = frames(dec.push(encodeFrame(PROTO.IPV4, info, framing)));
      expect(fr.map((f) => [...f.info])).toEqual([[...info]]);
    }
  });

  test("an oversize frame full of text: the hunt for the flag looks at nothing inside it", () => {
    const dec = new HdlcDecoder({ accm: 0 });
    const framing = { accm: 0, acfc: true, pfc: true, fcs32: false };
    const big = encodeFrame(PROTO.IPV4, ascii("\r\nNO CARRIER\r\n".repeat(300)), framing);
    const next = encodeFrame(PROTO.IPV4, ascii("next"), framing);
    const evs = [...dec.push(big.subarray(0, 1600)), ...dec.push(big.subarray(1600)), ...dec.push(next)];
    expect(evs.map((e) => new TextDecoder().decode(e.info))).toEqual(["next"]);
    expect(dec.counters.oversize).toBe(1);
    expect(dec.counters.badFcs + dec.counters.runts + dec.counters.malformed).toBe(0);
  });

  test("frames after the modem's text decode again (next data call)", () => {
    const dec = new HdlcDecoder();
    dec.push(ascii("\r\nNO CARRIER\r\n\r\nCONNECT 150000000\r\n"));
    const fr = frames(dec.push(encodeFrame(PROTO.LCP, hex("01 01 00 04"), DEFAULT_FRAMING)));
    expect(fr.length).toBe(1);
  });

  test("never throws on random input and keeps counting", () => {
    const dec = new HdlcDecoder();
    let seed = 99;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24) & 0xff;
    for (let k = 0; k < 2000; k++) {
      const chunk = new Uint8Array(1 + (rnd() % 64)).map(() => (rnd() < 20 ? 0x7e : rnd()));
      expect(() => dec.push(chunk)).not.toThrow();
    }
    const c = dec.counters;
    expect(c.discardedBytes).toBeGreaterThan(0);
    expect(c.runts + c.badFcs).toBeGreaterThan(0);
  });

  test("decode(): a sink that changes the receive ACCM affects the rest of the same chunk", () => {
    // One read holds the last LCP frame (default framing) and the first frame
    // sent under the negotiated ACCM 0 (control characters unescaped).
    const lcp = encodeFrame(PROTO.LCP, hex("02 01 00 04"), DEFAULT_FRAMING);
    const data = hex("00 01 02 03 11 13 1f");
    const after = encodeFrame(PROTO.IPV4, data, { accm: 0, acfc: false, pfc: false, fcs32: false });
    const chunk = new Uint8Array([...lcp, ...after.subarray(1)]);
    const naive = new HdlcDecoder();
    expect(frames(naive.push(chunk)).length).toBe(1);
    expect(naive.counters.badFcs).toBe(1);
    const dec = new HdlcDecoder();
    const seen: DecodeEvent[] = [];
    dec.decode(chunk, (e) => {
      seen.push(e);
      if (e.kind === "frame" && e.protocol === PROTO.LCP) dec.setAccm(0);
    });
    const fr = frames(seen);
    expect(fr.map((f) => f.protocol)).toEqual([PROTO.LCP, PROTO.IPV4]);
    expect([...fr[1]!.info]).toEqual([...data]);
  });

  test("ACCM-0 fast path and the per-octet path agree on noisy streams (differential)", () => {
    // Receive ACCM 0x80000000 ignores only 0x1f; streams without 0x1f must decode
    // identically through the per-octet path and the ACCM-0 fast path.
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24) & 0xff;
    const fast = new HdlcDecoder({ accm: 0 });
    const slow = new HdlcDecoder({ accm: 0x80000000 });
    // The sender escapes 0x1f, so no raw 0x1f is on the wire.
    const framing: Framing = { accm: 0x80000000, acfc: true, pfc: true, fcs32: false };
    for (let k = 0; k < 3000; k++) {
      const info = new Uint8Array(rnd() * 4).map(() => rnd());
      let wire = [...encodeFrame(PROTO.IPV4, info, framing)];
      const r = rnd();
      if (r < 40) wire.splice(1 + (rnd() % (wire.length - 1)), 0, 0x7d, 0x7e); // abort
      else if (r < 80) wire[1 + (rnd() % (wire.length - 2))]! ^= 0x04; // corrupt
      else if (r < 100) wire = [...wire, ...Array.from({ length: 2000 }, () => 0x41), 0x7e]; // oversize frame
      else if (r < 120) wire.push(0x7d); // escape at the end of a chunk
      const bytes = new Uint8Array(wire);
      const cut = rnd() % (bytes.length + 1);
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
        const a = fast.push(part);
        const b = slow.push(part);
        expect(a.length).toBe(b.length);
        for (let j = 0; j < a.length; j++) expect(a[j]).toEqual(b[j]!);
      }
    }
    expect(fast.counters).toEqual(slow.counters);
    expect(fast.counters.frames).toBeGreaterThan(1000);
    expect(fast.counters.aborted).toBeGreaterThan(100);
    expect(fast.counters.oversize).toBeGreaterThan(50);
    expect(fast.counters.badFcs).toBeGreaterThan(100);
  });
});

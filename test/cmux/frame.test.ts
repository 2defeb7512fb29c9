import { describe, expect, test } from "bun:test";
import { crc8, encodeFrame, fcs, FCS_GOOD, FrameDecoder, lengthOctets, type Frame } from "../../src/cmux/frame.ts";
import { decodeControl, decodeSignals, encodeControl, encodeSignals, mscValue } from "../../src/cmux/control.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
const bytes = (s: string) => Uint8Array.from(s.split(" ").map((x) => parseInt(x, 16)));

function decodeAll(data: Uint8Array, maxInfo?: number) {
  const frames: Frame[] = [];
  const garbage: number[] = [];
  const d = new FrameDecoder({ frame: (f) => frames.push({ ...f, info: f.info.slice() }), garbage: (g) => garbage.push(...g) }, maxInfo);
  d.push(data);
  return { frames, garbage, counters: d.counters };
}

describe("27.010 FCS", () => {
  // Vectors as exchanged with real modules (the frames every 27.010 host sends first).
  test.each([
    ["SABM DLCI 0", "03 3f 01", 0x1c],
    ["UA DLCI 0", "03 73 01", 0xd7],
    ["DISC DLCI 0", "03 53 01", 0xfd],
    ["SABM DLCI 1", "07 3f 01", 0xde],
    ["UIH DLCI 0 header", "03 ef 05", 0xf2],
  ])("%s", (_name, header, want) => {
    expect(fcs(bytes(header))).toBe(want);
  });

  test("the receiver's check over covered octets plus FCS is 0xCF", () => {
    const h = bytes("03 3f 01");
    const withFcs = Uint8Array.from([...h, fcs(h)]);
    expect(crc8(withFcs)).toBe(FCS_GOOD);
  });
});

describe("frame encoding", () => {
  test("SABM, UA, DISC and the close-down on DLCI 0 match the known octets", () => {
    const e = (f: Omit<Frame, "info">, info: Uint8Array = new Uint8Array(0)) => hex(encodeFrame({ ...f, info }));
    expect(e({ dlci: 0, cr: true, type: "SABM", pf: true })).toBe("f9 03 3f 01 1c f9");
    expect(e({ dlci: 0, cr: true, type: "UA", pf: true })).toBe("f9 03 73 01 d7 f9");
    expect(e({ dlci: 0, cr: true, type: "DISC", pf: true })).toBe("f9 03 53 01 fd f9");
    expect(e({ dlci: 0, cr: true, type: "UIH", pf: false }, encodeControl("CLD", true))).toBe("f9 03 ef 05 c3 01 f2 f9");
  });

  test("EA length: one octet up to 127, two octets beyond", () => {
    expect(lengthOctets(0)).toEqual([0x01]);
    expect(lengthOctets(127)).toEqual([0xff]);
    expect(lengthOctets(128)).toEqual([0x00, 0x01]);
    expect(lengthOctets(1500)).toEqual([(1500 & 0x7f) << 1, 1500 >> 7]);
  });

  test.each([0, 1, 31, 127, 128, 1500, 32767])("UIH with %i octets round-trips", (n) => {
    const info = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    const raw = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info });
    expect(raw.length).toBe(n + (n > 127 ? 7 : 6));
    const { frames, counters } = decodeAll(raw);
    expect(counters.badFcs).toBe(0);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.dlci).toBe(2);
    expect(frames[0]!.info).toEqual(info);
  });

  test("UIH FCS covers the header only; other frames cover the information too", () => {
    const info = new TextEncoder().encode("AT\r");
    const uih = encodeFrame({ dlci: 1, cr: true, type: "UIH", pf: false, info });
    const flipped = uih.slice();
    flipped[4] = flipped[4]! ^ 0x01; // payload octet: the UIH FCS does not see it
    expect(decodeAll(flipped).frames).toHaveLength(1);
    const ui = encodeFrame({ dlci: 1, cr: true, type: "UI", pf: false, info });
    const uiFlipped = ui.slice();
    uiFlipped[4] = uiFlipped[4]! ^ 0x01;
    const r = decodeAll(uiFlipped);
    expect(r.frames).toHaveLength(0);
    expect(r.counters.badFcs).toBe(1);
  });
});

describe("frame decoding", () => {
  test("frames split at every octet boundary decode the same", () => {
    const a = encodeFrame({ dlci: 1, cr: true, type: "UIH", pf: false, info: new TextEncoder().encode("AT+CSQ\r") });
    const b = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: new Uint8Array(200).fill(0x7e) });
    const all = Uint8Array.from([...a, ...b]);
    for (let cut = 0; cut <= all.length; cut++) {
      const frames: Frame[] = [];
      const d = new FrameDecoder({ frame: (f) => frames.push(f) });
      d.push(all.subarray(0, cut));
      d.push(all.subarray(cut));
      expect(frames.map((f) => [f.dlci, f.info.length])).toEqual([[1, 7], [2, 200]]);
    }
  });

  test("a shared flag between frames and repeated flags are accepted", () => {
    const a = encodeFrame({ dlci: 1, cr: true, type: "UIH", pf: false, info: Uint8Array.of(0x41) });
    const b = encodeFrame({ dlci: 1, cr: true, type: "UIH", pf: false, info: Uint8Array.of(0x42) });
    const shared = Uint8Array.from([...a.subarray(0, a.length - 1), ...b]);
    expect(decodeAll(shared).frames.map((f) => f.info[0])).toEqual([0x41, 0x42]);
    const repeated = Uint8Array.from([0xf9, 0xf9, ...a, 0xf9, ...b]);
    expect(decodeAll(repeated).frames).toHaveLength(2);
  });

  test("garbage between frames is reported and counted; a bad FCS is counted and skipped", () => {
    const good = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: Uint8Array.of(1, 2, 3) });
    const bad = good.slice();
    bad[bad.length - 2] = bad[bad.length - 2]! ^ 0xff;
    const text = new TextEncoder().encode("\r\nRDY\r\n");
    const { frames, garbage, counters } = decodeAll(Uint8Array.from([...text, ...bad, ...good]));
    expect(frames).toHaveLength(1);
    expect(String.fromCharCode(...garbage)).toBe("\r\nRDY\r\n");
    expect(counters.badFcs).toBe(1);
    expect(counters.garbageBytes).toBe(text.length);
  });

  test("a length above N1 is refused without swallowing the next frame", () => {
    const big = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: new Uint8Array(300) });
    const small = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: Uint8Array.of(9) });
    const { frames, counters } = decodeAll(Uint8Array.from([...big, ...small]), 127);
    expect(counters.oversize).toBe(1);
    expect(frames.map((f) => f.info[0])).toEqual([9]);
  });

  test("an oversize frame whose information holds flag octets is one error, and the frame right after it arrives", () => {
    // Phantom frames start at every 0xf9 inside; one of them looks like a UIH with a long length that would run past the end.
    const info = Uint8Array.from({ length: 200 }, (_, i) => (i % 9 === 0 ? 0xf9 : i === 190 ? 0x0b : i === 191 ? 0xef : i === 192 ? 0x41 : 0x55));
    const big = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info });
    const small = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: Uint8Array.of(9) });
    const { frames, counters, garbage } = decodeAll(Uint8Array.from([...big, ...small, ...small]), 127);
    expect(counters).toMatchObject({ oversize: 1, malformed: 0, badFcs: 0, garbageBytes: 0, frames: 2 });
    expect(garbage).toEqual([]);
    expect(frames.map((f) => f.info[0])).toEqual([9, 9]);
  });

  test("an oversize length that was line noise stops muting errors at the next good frame", () => {
    const small = encodeFrame({ dlci: 2, cr: true, type: "UIH", pf: false, info: Uint8Array.of(9) });
    // Length octets 0x00 0xff: 32640 octets declared.
    const noisy = Uint8Array.of(0xf9, 0x0b, 0xef, 0x00, 0xff, 1, 2, 3);
    const badFcs = small.slice();
    badFcs[badFcs.length - 2] = badFcs[badFcs.length - 2]! ^ 0xff;
    const { frames, counters } = decodeAll(Uint8Array.from([...noisy, ...small, ...badFcs, ...badFcs]), 127);
    expect(frames.length).toBe(1);
    expect(counters).toMatchObject({ oversize: 1, badFcs: 2 });
  });
});

describe("control messages", () => {
  test("MSC value and V.24 bits", () => {
    const s = { fc: false, rtc: true, rtr: true, ic: false, dv: true };
    expect(encodeSignals(s)).toBe(0x8d);
    expect(decodeSignals(0x8d)).toEqual(s);
    expect(hex(mscValue(2, s))).toBe("0b 8d");
    expect(hex(encodeControl("MSC", true, mscValue(2, s)))).toBe("e3 05 0b 8d");
  });

  test("several messages in one field, and truncated ones counted", () => {
    const two = Uint8Array.from([...encodeControl("FCoff", true), ...encodeControl("Test", true, Uint8Array.of(1, 2))]);
    const { messages, bad } = decodeControl(two);
    expect(bad).toBe(0);
    expect(messages.map((m) => [m.type, m.command, m.value.length])).toEqual([["FCoff", true, 0], ["Test", true, 2]]);
    expect(decodeControl(Uint8Array.of(0xe3, 0x05, 0x0b)).bad).toBe(1);
    expect(decodeControl(Uint8Array.of(0xe3)).bad).toBe(1);
  });
});

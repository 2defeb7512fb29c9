/**
 * 1,000,000 fuzzed frames through the decoder and both roles of the core:
 * well-formed frames of every type (control messages included), then the
 * same with random mutations (flipped bits, cut frames, random lengths,
 * raw noise). Nothing may throw, and the counters must account for what
 * was refused.
 */
import { expect, test } from "bun:test";
import { CmuxCore } from "../../src/cmux/core.ts";
import { encodeControl, MsgType } from "../../src/cmux/control.ts";
import { encodeFrame, FrameType, type FrameTypeName } from "../../src/cmux/frame.ts";
import { seededRandom } from "../support/random.ts";

const TYPES = Object.keys(FrameType) as FrameTypeName[];
const MSGS = Object.values(MsgType);

/** Random octets from one pool per batch (a fresh array per call would dominate the run time). */
function pooled(rand: (n: number) => Uint8Array): (n: number) => Uint8Array {
  const pool = rand(1 << 20);
  let at = 0;
  return (n) => {
    if (at + n > pool.length) at = (pool[at % pool.length]! * 4099) % (pool.length - 512);
    const out = pool.subarray(at, at + n);
    at += n;
    return out;
  };
}

function fuzzBatch(rand: (n: number) => Uint8Array, count: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const r = rand(4);
    const kind = r[0]! % 8;
    let f: Uint8Array;
    if (kind === 0) {
      f = rand(1 + (r[1]! % 40)); // raw noise, flags included at random
    } else {
      const dlci = r[1]! % 4 === 0 ? 0 : r[1]! % 64;
      const type = TYPES[r[2]! % TYPES.length]!;
      let info: Uint8Array;
      if (dlci === 0 && (type === "UIH" || type === "UI")) {
        const msg = MSGS[r[3]! % MSGS.length]!;
        info = encodeControl(msg | (r[3]! & 0x02), (r[3]! & 1) === 1, rand(r[3]! % 5));
      } else {
        info = rand(r[3]! % 140);
      }
      f = encodeFrame({ dlci, cr: (r[1]! & 1) === 1, type, pf: (r[2]! & 1) === 1, info });
      if (kind >= 5) {
        // Mutate: flip a bit, cut the frame short, or overwrite the length octet.
        f = f.slice();
        const m = rand(3);
        const at = m[1]! % f.length;
        if (kind === 5) f[at] = f[at]! ^ (1 << (m[2]! % 8));
        else if (kind === 6) f = f.subarray(0, at);
        else f[3] = m[2]!;
      }
    }
    parts.push(f);
    total += f.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("1,000,000 fuzzed frames: no exception escapes, every refusal is counted", () => {
  const rand = pooled(seededRandom(0xc0ffee));
  const host = new CmuxCore({ role: "initiator", maxFrame: 127 }, { data: () => {}, signals: () => {}, closeDown: () => {} });
  const mod = new CmuxCore({ role: "responder", maxFrame: 127 }, { data: () => {}, closeDown: () => {} });
  // Start both in an open mux, so control messages and data reach the channel machines.
  host.open(0, 0);
  mod.receive(host.takeOutput(), 0);
  host.receive(mod.takeOutput(), 0);
  host.open(2, 0);
  mod.receive(host.takeOutput(), 0);
  host.receive(mod.takeOutput(), 0);
  let now = 0;
  let frames = 0;
  const batch = 10_000;
  for (let done = 0; done < 1_000_000; done += batch) {
    const bytes = fuzzBatch(rand, batch);
    now += 50;
    expect(() => {
      host.receive(bytes, now);
      mod.receive(bytes, now);
      host.tick(now);
      mod.tick(now);
      host.takeOutput();
      mod.takeOutput();
    }).not.toThrow();
    frames += batch;
  }
  expect(frames).toBe(1_000_000);
  const c = host.counters;
  // Every kind of refusal happened and was counted; good frames still got through.
  expect(c.frames).toBeGreaterThan(300_000);
  expect(c.badFcs).toBeGreaterThan(10_000);
  expect(c.malformed).toBeGreaterThan(10_000);
  expect(c.oversize).toBeGreaterThan(1_000);
  expect(c.garbageBytes).toBeGreaterThan(100_000);
}, 60_000);

/**
 * Frame Check Sequences for HDLC-like framing, table-driven as in RFC 1662
 * appendix C. Both are the bit-reflected CRCs: FCS-16 (CCITT, polynomial
 * x^16+x^12+x^5+1 → reflected 0x8408) and FCS-32 (polynomial 0x04c11db7 →
 * reflected 0xedb88320). The sender appends the ones' complement, least
 * significant octet first; running the receiver's CRC over data+FCS then
 * leaves the constant "good" residue.
 */

export const FCS16_INIT = 0xffff;
/** RFC 1662 C.2: residue of a frame with a correct FCS-16. */
export const FCS16_GOOD = 0xf0b8;
export const FCS32_INIT = 0xffffffff;
/** RFC 1662 C.3: residue of a frame with a correct FCS-32 (as an unsigned number). */
export const FCS32_GOOD = 0xdebb20e3;

function buildTable16(): Uint16Array {
  const t = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let v = b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0x8408 : v >>> 1;
    t[b] = v;
  }
  return t;
}

function buildTable32(): Int32Array {
  // Int32Array keeps the values in the engine's small-integer range: xor on
  // int32 stays unboxed in the hot loop; callers convert with >>> 0.
  const t = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    let v = b;
    for (let i = 0; i < 8; i++) v = v & 1 ? (v >>> 1) ^ 0xedb88320 : v >>> 1;
    t[b] = v | 0;
  }
  return t;
}

export const FCS16_TABLE: Uint16Array = buildTable16();
export const FCS32_TABLE: Int32Array = buildTable32();

/**
 * Many octets per step ("slicing"): FCS16_SLICES[(j << 8) | v] is the
 * register after octet v at position j of a 16-octet block followed by
 * 15 - j zero octets, starting from 0. The CRC is linear, so the register
 * after a block is the xor of one entry per octet, with the old register
 * folded into the first two. An 8-octet block uses positions 8..15.
 *
 * 8 KiB of tables: they stay in the L1 cache while the data path churns
 * through packet buffers. (The two-octet table used before was 128 KiB:
 * fast in a micro-benchmark, but evicted between frames in the data path,
 * where the encoder's FCS then took a quarter of cellkeep's CPU time.)
 */
export const FCS16_SLICES: Uint16Array = buildSlices16();

function buildSlices16(): Uint16Array {
  const t = FCS16_TABLE;
  const s = new Uint16Array(16 * 256);
  for (let j = 0; j < 16; j++) {
    for (let v = 0; v < 256; v++) {
      let f = 0;
      for (let p = 0; p < 16; p++) f = (f >>> 8) ^ t[(f ^ (p === j ? v : 0)) & 0xff]!;
      s[(j << 8) | v] = f;
    }
  }
  return s;
}

/** The FCS-16 register `f` after the eight octets data[i, i + 8) (an 8-octet block: positions 8..15 of the slices). */
export function fcs16Block8(f: number, data: Uint8Array, i: number): number {
  const s = FCS16_SLICES;
  return (
    s[0x800 | ((f ^ data[i]!) & 0xff)]! ^
    s[0x900 | ((f >>> 8) ^ data[i + 1]!)]! ^
    s[0xa00 | data[i + 2]!]! ^
    s[0xb00 | data[i + 3]!]! ^
    s[0xc00 | data[i + 4]!]! ^
    s[0xd00 | data[i + 5]!]! ^
    s[0xe00 | data[i + 6]!]! ^
    s[0xf00 | data[i + 7]!]!
  );
}

/** Run the FCS-16 over data[start, end) starting from `fcs` (use FCS16_INIT for a new frame). */
export function fcs16(data: Uint8Array, fcs: number = FCS16_INIT, start = 0, end: number = data.length): number {
  const t = FCS16_TABLE;
  let f = fcs & 0xffff;
  let i = start;
  for (; i + 7 < end; i += 8) f = fcs16Block8(f, data, i);
  for (; i < end; i++) f = (f >>> 8) ^ t[(f ^ data[i]!) & 0xff]!;
  return f;
}

/** Whether this machine stores the low octet of a word first (every platform Bun runs on does). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * FCS-16 from FCS16_INIT over the first `len` octets of a buffer that starts
 * on a 4-octet boundary, `words` and `bytes` being two views of it from its
 * start (the decoder's frame buffer). Sixteen octets per step, read as four
 * words: a quarter of the loads of fcs16(), which is what limits it in this
 * engine (test/bench/hdlc.ts).
 */
export function fcs16Words(words: Uint32Array, bytes: Uint8Array, len: number): number {
  if (!LITTLE_ENDIAN) return fcs16(bytes, FCS16_INIT, 0, len);
  const t = FCS16_TABLE;
  let f = FCS16_INIT;
  let i = 0;
  for (let k = 0; i + 15 < len; i += 16, k += 4) {
    f = sliceWord(words[k]! ^ f, 0) ^ sliceWord(words[k + 1]!, 4) ^ sliceWord(words[k + 2]!, 8) ^ sliceWord(words[k + 3]!, 12);
  }
  for (; i < len; i++) f = (f >>> 8) ^ t[(f ^ bytes[i]!) & 0xff]!;
  return f;
}

/** The slices of the four octets of word `w` (low octet first) at positions j..j+3 of a 16-octet block, xored. */
function sliceWord(w: number, j: number): number {
  const s = FCS16_SLICES;
  return s[(j << 8) | (w & 0xff)]! ^ s[((j + 1) << 8) | ((w >>> 8) & 0xff)]! ^ s[((j + 2) << 8) | ((w >>> 16) & 0xff)]! ^ s[((j + 3) << 8) | (w >>> 24)]!;
}

/** Run the FCS-32 over data[start, end) starting from `fcs` (use FCS32_INIT). Returns an unsigned value. */
export function fcs32(data: Uint8Array, fcs = FCS32_INIT, start = 0, end = data.length): number {
  const t = FCS32_TABLE;
  let f = fcs | 0;
  for (let i = start; i < end; i++) f = (f >>> 8) ^ t[(f ^ data[i]!) & 0xff]!;
  return f >>> 0;
}

/** The FCS-16 octets a sender appends to `data` (complemented, LSB first). */
export function fcs16Trailer(data: Uint8Array): [number, number] {
  const f = fcs16(data) ^ 0xffff;
  return [f & 0xff, (f >>> 8) & 0xff];
}

/** The FCS-32 octets a sender appends to `data` (complemented, LSB first). */
export function fcs32Trailer(data: Uint8Array): [number, number, number, number] {
  const f = (fcs32(data) ^ 0xffffffff) >>> 0;
  return [f & 0xff, (f >>> 8) & 0xff, (f >>> 16) & 0xff, (f >>> 24) & 0xff];
}

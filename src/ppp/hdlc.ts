/**
 * HDLC-like framing for PPP in asynchronous mode (RFC 1662 §4).
 *
 * encodeFrame / encodeFrameInto turn one (protocol, information) pair into
 * bytes on the line; HdlcDecoder turns a byte stream back into frames. Both
 * are pure: no I/O, no clock. The decoder never throws on line input: garbage
 * is counted and skipped, and it resynchronises on the next flag.
 *
 * The file reads top to bottom: the encoder; checkFrame, which judges one
 * complete frame; then the decoder, a small state machine over the octets.
 *
 * The decoder only de-frames. Modem result text in the stream ("NO CARRIER"
 * when a call ends) is the AT channel's business and is recognised there,
 * between frames only (src/at/core.ts); whatever text reaches this decoder
 * between frames is garbage like any other, counted in discardedBytes.
 */
import { Buffer } from "node:buffer";
import { FCS16_GOOD, FCS16_INIT, FCS16_TABLE, FCS32_GOOD, FCS32_INIT, fcs16, fcs16Block8, fcs16Words, fcs32 } from "./fcs.ts";
import type { Framing } from "./types.ts";

export const FLAG = 0x7e;
export const ESCAPE = 0x7d;
/** Octets after an ESCAPE are transmitted xor 0x20 (RFC 1662 §4.2). */
export const ESCAPE_XOR = 0x20;
export const ALL_STATIONS = 0xff;
export const UI = 0x03;

/** RFC 1661 §6.1: every implementation must take 1500-octet information fields, whatever the MRU. */
export const MIN_RX_MRU = 1500;

// ---------------------------------------------------------------------------
// Encoder

/** escape[b] = 1 when octet b must be sent as ESCAPE, b^0x20. Cached per ACCM. */
const escapeTables = new Map<number, Uint8Array>();

function escapeTableFor(accm: number): Uint8Array {
  const key = accm >>> 0;
  let t = escapeTables.get(key);
  if (!t) {
    t = new Uint8Array(256);
    for (let c = 0; c < 32; c++) if ((key >>> c) & 1) t[c] = 1;
    // Flag and escape are always escaped (RFC 1662 §4.2). The ACCM covers
    // only 0x00–0x1f; 0x7f–0x9f are not affected by it.
    t[FLAG] = 1;
    t[ESCAPE] = 1;
    if (escapeTables.size > 64) escapeTables.clear();
    escapeTables.set(key, t);
  }
  return t;
}

let scratch = new Uint8Array(4096);

/** Can `protocol` go in one octet under PFC? RFC 1661 §6.5: only values 0x0000–0x00ff (with an odd low octet). */
export function isCompressibleProtocol(protocol: number): boolean {
  return protocol < 0x100 && (protocol & 1) === 1;
}

/**
 * The most octets one frame with `infoLength` octets of information can take
 * on the line: address/control, a two-octet protocol, the information and a
 * 4-octet FCS all escaped, plus two flags. encodeFrameInto needs this much room.
 */
export function maxFrameSize(infoLength: number): number {
  return 2 * (infoLength + 8) + 2;
}

/**
 * Frame one PPP packet: opening flag, address/control (unless ACFC), protocol
 * (one octet if PFC and it fits), information, FCS, closing flag; every octet
 * between the flags escaped per the ACCM. Returns a fresh array.
 *
 * Callers are responsible for using DEFAULT_FRAMING for LCP packets (RFC 1662
 * §7.1 / RFC 1661 §6.6); this function frames exactly as told.
 */
export function encodeFrame(protocol: number, info: Uint8Array, framing: Framing): Uint8Array {
  const worst = maxFrameSize(info.length);
  if (scratch.length < worst) scratch = new Uint8Array(Math.max(worst, scratch.length * 2));
  const end = encodeFrameInto(scratch, 0, protocol, info, framing);
  return scratch.slice(0, end);
}

/** Unescaped address/control and protocol (≤ 4 octets), then the FCS (≤ 4 octets) of the frame being encoded. */
const edge = new Uint8Array(8);

/**
 * encodeFrame into `out` from offset `at` (which must have maxFrameSize(info.length)
 * octets of room); returns the offset after the closing flag. The link frames
 * a batch of packets back to back into one buffer this way: no array per frame.
 */
export function encodeFrameInto(out: Uint8Array, at: number, protocol: number, info: Uint8Array, framing: Framing): number {
  const esc = escapeTableFor(framing.accm);
  let h = 0;
  if (!framing.acfc) {
    edge[h++] = ALL_STATIONS;
    edge[h++] = UI;
  }
  if (!(framing.pfc && isCompressibleProtocol(protocol))) edge[h++] = (protocol >>> 8) & 0xff;
  edge[h++] = protocol & 0xff;
  let o = at;
  out[o++] = FLAG;
  if (framing.fcs32) {
    // FCS-32 is rare (negotiated only if both ends ask): computed first, then escaped.
    const f = (fcs32(info, fcs32(edge, FCS32_INIT, 0, h)) ^ 0xffffffff) >>> 0;
    o = escapeInto(out, o, edge, 0, h, esc);
    o = escapeInto(out, o, info, 0, info.length, esc);
    edge[0] = f & 0xff;
    edge[1] = (f >>> 8) & 0xff;
    edge[2] = (f >>> 16) & 0xff;
    edge[3] = (f >>> 24) & 0xff;
    o = escapeInto(out, o, edge, 0, 4, esc);
  } else {
    // The FCS covers every octet between the flags before escaping (RFC 1662 §4.2).
    o = escapeInto(out, o, edge, 0, h, esc);
    o = escapeWithFcs16(out, o, info, esc, fcs16(edge, FCS16_INIT, 0, h));
    const f = fcs16Out ^ 0xffff;
    edge[0] = f & 0xff;
    edge[1] = (f >>> 8) & 0xff;
    o = escapeInto(out, o, edge, 0, 2, esc);
  }
  out[o++] = FLAG;
  return o;
}

/** Copy src[from..to) into out at `o`, escaping what `esc` marks (RFC 1662 §4.2); returns the new end. */
function escapeInto(out: Uint8Array, o: number, src: Uint8Array, from: number, to: number, esc: Uint8Array): number {
  for (let i = from; i < to; i++) {
    const b = src[i]!;
    if (esc[b] === 1) {
      out[o++] = ESCAPE;
      out[o++] = b ^ ESCAPE_XOR;
    } else out[o++] = b;
  }
  return o;
}

/** The FCS-16 register after the last escapeWithFcs16 (a second return value without an object per frame). */
let fcs16Out = 0;

/**
 * escapeInto over all of `src` and, in the same pass, the FCS-16 from `fcs`
 * (left in fcs16Out): per 8-octet block the FCS by slicing (fcs.ts), then
 * the same octets escaped while they are still in the L1 cache.
 */
function escapeWithFcs16(out: Uint8Array, o: number, src: Uint8Array, esc: Uint8Array, fcs: number): number {
  const n = src.length;
  let f = fcs;
  let i = 0;
  for (; i + 7 < n; i += 8) {
    f = fcs16Block8(f, src, i);
    // Branch-free: write ESCAPE, then the octet (xor 0x20 when escaped) over
    // it or after it. With a branch instead, payloads dense with escapes
    // (a peer's choice) ran at under half the speed of random ones (400 vs
    // 1000 MB/s); this way every payload runs at about 900 MB/s.
    for (let k = i; k < i + 8; k++) {
      const b = src[k]!;
      const e = esc[b]!;
      out[o] = ESCAPE;
      out[o + e] = b ^ (e << 5);
      o += 1 + e;
    }
  }
  for (; i < n; i++) {
    const b = src[i]!;
    f = (f >>> 8) ^ FCS16_TABLE[(f ^ b) & 0xff]!;
    if (esc[b] === 1) {
      out[o++] = ESCAPE;
      out[o++] = b ^ ESCAPE_XOR;
    } else out[o++] = b;
  }
  fcs16Out = f;
  return o;
}

// ---------------------------------------------------------------------------
// One complete frame

/**
 * What one complete frame holds, or why it is dropped. `buf[0, len)` is the
 * frame as received between two flags, unescaped, FCS included.
 */
export type FrameCheck =
  | { ok: true; protocol: number; infoStart: number; infoEnd: number }
  | { ok: false; why: "runt" | "bad-fcs" | "malformed" };

const RUNT: FrameCheck = { ok: false, why: "runt" };
const BAD_FCS: FrameCheck = { ok: false, why: "bad-fcs" };
const MALFORMED: FrameCheck = { ok: false, why: "malformed" };

/**
 * Judge one complete frame: long enough (RFC 1662 §4.3), FCS good (§C.2,
 * §C.3), address/control either ff 03 or compressed away (§3.2, RFC 1661
 * §6.6), and a protocol field of one octet (odd: compressed, RFC 1661 §6.5)
 * or two (high octet even, low octet odd, RFC 1661 §2). `words`, when given,
 * views the same memory as `buf` (which then starts on a 4-octet boundary)
 * for the faster word-wise FCS.
 */
export function checkFrame(buf: Uint8Array, len: number, useFcs32: boolean, words?: Uint32Array): FrameCheck {
  const fcsLen = useFcs32 ? 4 : 2;
  // Smallest frame: a 1-octet protocol and the FCS.
  if (len < fcsLen + 2) return RUNT;
  const good = useFcs32
    ? fcs32(buf, FCS32_INIT, 0, len) === FCS32_GOOD
    : (words ? fcs16Words(words, buf, len) : fcs16(buf, FCS16_INIT, 0, len)) === FCS16_GOOD;
  if (!good) return BAD_FCS;
  const end = len - fcsLen;
  let p = 0;
  if (buf[0] === ALL_STATIONS) {
    if (end < 2 || buf[1] !== UI) return MALFORMED;
    p = 2;
  }
  if (p >= end) return RUNT;
  let protocol = buf[p]!;
  if (protocol & 1) p += 1;
  else {
    if (p + 1 >= end || (buf[p + 1]! & 1) === 0) return MALFORMED;
    protocol = (protocol << 8) | buf[p + 1]!;
    p += 2;
  }
  return { ok: true, protocol, infoStart: p, infoEnd: end };
}

// ---------------------------------------------------------------------------
// Decoder

export type DecodeEvent = { kind: "frame"; protocol: number; info: Uint8Array };

export interface DecoderCounters {
  /** Good frames delivered. */
  frames: number;
  /** Frames whose FCS did not check. */
  badFcs: number;
  /** Frames too short to hold a protocol and an FCS (RFC 1662 §4.3: silently discarded). */
  runts: number;
  /** Frames longer than the receive MRU allows. */
  oversize: number;
  /** Frames ended by the abort sequence ESCAPE, FLAG (RFC 1662 §4.2). */
  aborted: number;
  /** Frames with a good FCS but an invalid address/control or protocol field. */
  malformed: number;
  /** Octets that were not part of a good frame (garbage between frames, bad frames). */
  discardedBytes: number;
}

/**
 * Where the decoder stands between two octets:
 *
 *   HUNTING   waiting for a flag (at start-up, after reset() and after an
 *             oversize frame, whose rest is payload and never looked at)
 *             — FLAG → IN_FRAME
 *   IN_FRAME  collecting the octets of a frame
 *             — FLAG → the frame is complete (checkFrame), next one starts: IN_FRAME
 *             — ESCAPE → ESCAPED
 *             — a control character set in the receive ACCM → dropped (a DCE inserted it)
 *             — more octets than the MRU allows → oversize, HUNTING
 *   ESCAPED   the previous octet was ESCAPE
 *             — FLAG → abort sequence: the frame is dropped, the next starts: IN_FRAME
 *             — a control character set in the receive ACCM → dropped, still ESCAPED
 *             — any other octet → octet xor 0x20 into the frame: IN_FRAME
 */
const HUNTING = 0;
const IN_FRAME = 1;
const ESCAPED = 2;
type DecoderState = typeof HUNTING | typeof IN_FRAME | typeof ESCAPED;

/** Runs shorter than this between flags/escapes make the ACCM-0 path switch to per-octet for the frame. */
const SHORT_RUN = 16;
const SHORT_RUNS_BEFORE_PER_OCTET = 4;
/** Runs shorter than this are copied octet by octet; longer ones with copyRange. */
const COPY_LOOP_MAX = 32;

/**
 * Copy src[from, to) into dst at `at` (a native memcpy). Node's
 * Buffer.prototype.copy takes a source range without making a view of it;
 * subarray() + set() costs a view object per call: 39 vs 15 ns per run,
 * and the views were a fifth of the decoder's time on random payloads.
 */
const copyRange = Buffer.prototype.copy as unknown as (this: Uint8Array, dst: Uint8Array, at: number, from: number, to: number) => number;

/**
 * Incremental de-framer. Feed it whatever the line delivers (any chunking);
 * it returns the complete frames found.
 *
 * decode() is the state machine above. Each state has a method that consumes
 * as many octets as it can and returns where it stopped; IN_FRAME has two:
 * collectRuns for receive ACCM 0 (the usual case once LCP is up: only FLAG
 * and ESCAPE are special, so the runs between them are found with native
 * indexOf and copied natively), and collectOctets, per octet, for any ACCM
 * and for stretches dense with escapes. They make the same transitions.
 */
export class HdlcDecoder {
  readonly counters: DecoderCounters = {
    frames: 0,
    badFcs: 0,
    runts: 0,
    oversize: 0,
    aborted: 0,
    malformed: 0,
    discardedBytes: 0,
  };
  private state: DecoderState = HUNTING;
  /** The frame collected so far (unescaped), `len` octets; `words` views the same memory (fcs16Words). */
  private buf: Uint8Array;
  private words: Uint32Array;
  private len = 0;
  /** Receive ACCM as int32 (bit n set => unescaped octet n is dropped). */
  private rxAccm: number;
  private fcs32 = false;
  private maxLen: number;

  // Raw octets of the current candidate frame (or of the garbage being hunted
  // through), for discardedBytes: those carried from earlier chunks plus
  // those of this chunk from index segStart on. Counted by index arithmetic,
  // not per octet.
  private rawCarried = 0;
  private segStart = 0;

  // Within one decode() call: the next FLAG / ESCAPE at or after the current
  // position (-1: not searched yet), so collectRuns searches each octet once
  // even across frames; and the dense-escape switch for the current frame.
  private nextFlagAt = -1;
  private nextEscAt = -1;
  private shortRuns = 0;
  private perOctet = false;

  constructor(opts: { mru?: number; accm?: number; fcs32?: boolean } = {}) {
    this.rxAccm = (opts.accm ?? 0xffffffff) | 0;
    this.fcs32 = opts.fcs32 ?? false;
    this.maxLen = 0;
    this.buf = new Uint8Array(0);
    this.words = new Uint32Array(0);
    this.setMru(opts.mru ?? MIN_RX_MRU);
  }

  /** Largest information field accepted: max(mru, 1500) (RFC 1661 §6.1 implementation note). */
  setMru(mru: number): void {
    const info = Math.max(MIN_RX_MRU, Math.min(65535, Math.floor(mru) || 0));
    // address/control (2) + protocol (2) + info + FCS (up to 4)
    this.maxLen = info + 8;
    if (this.buf.length < this.maxLen) {
      const nb = new Uint8Array((this.maxLen + 3) & ~3);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
      this.words = new Uint32Array(nb.buffer);
    }
  }

  /**
   * Receive ACCM (RFC 1662 §4.2 / §7.1): control characters whose bit is set
   * were escaped by the peer if meant; when they arrive unescaped a DCE
   * inserted them (XON/XOFF) and they are dropped.
   */
  setAccm(accm: number): void {
    this.rxAccm = accm | 0;
  }

  setFcs32(on: boolean): void {
    this.fcs32 = on;
  }

  /** Forget a partial frame and wait for the next flag (e.g. when the line is re-used). */
  reset(): void {
    this.counters.discardedBytes += this.rawCarried;
    this.rawCarried = 0;
    this.len = 0;
    this.state = HUNTING;
  }

  /** Decode a chunk; returns the frames found, in order. */
  push(bytes: Uint8Array): DecodeEvent[] {
    const events: DecodeEvent[] = [];
    this.decode(bytes, (e) => events.push(e));
    return events;
  }

  /**
   * Decode a chunk, calling `sink` for each event as soon as it is found.
   * The sink may change the receive ACCM/MRU/FCS (setAccm, setMru, setFcs32):
   * the rest of the chunk is decoded with the new settings (every state
   * method returns after a frame, and the next one reads the settings
   * afresh). That matters when one read holds LCP's last Configure-Ack and
   * the peer's first frame under the newly negotiated ACCM.
   */
  decode(bytes: Uint8Array, sink: (event: DecodeEvent) => void): void {
    const n = bytes.length;
    this.segStart = 0;
    this.nextFlagAt = -1;
    this.nextEscAt = -1;
    this.shortRuns = 0;
    this.perOctet = false;
    let i = 0;
    while (i < n) {
      if (this.state === HUNTING) i = this.hunt(bytes, i);
      else if (this.state === ESCAPED) i = this.unescape(bytes, i);
      else if (this.rxAccm === 0 && !this.perOctet) i = this.collectRuns(bytes, i, sink);
      else i = this.collectOctets(bytes, i, sink);
    }
    this.rawCarried = this.rawBefore(n);
  }

  // ---- HUNTING

  /** Skip to the next flag; the octets skipped are discarded (only a flag ends a frame, RFC 1662 §4.2). */
  private hunt(bytes: Uint8Array, i: number): number {
    const f = bytes.indexOf(FLAG, i);
    if (f < 0) return bytes.length;
    this.counters.discardedBytes += this.rawBefore(f);
    this.startFrame(f + 1);
    return f + 1;
  }

  // ---- ESCAPED (entered when an ESCAPE's octet is not right behind it: end of chunk, control characters, FLAG)

  private unescape(bytes: Uint8Array, i: number): number {
    const b = bytes[i]!;
    if (this.isAccmDropped(b)) return i + 1;
    if (b === FLAG) {
      this.abort(i);
      return i + 1;
    }
    this.state = IN_FRAME;
    if (this.len === this.maxLen) {
      this.oversize();
      return i;
    }
    this.buf[this.len++] = b ^ ESCAPE_XOR;
    return i + 1;
  }

  // ---- IN_FRAME, receive ACCM 0: runs between FLAG and ESCAPE

  private collectRuns(bytes: Uint8Array, i: number, sink: (event: DecodeEvent) => void): number {
    const n = bytes.length;
    const buf = this.buf;
    const max = this.maxLen;
    let len = this.len;
    while (i < n) {
      if (this.nextFlagAt < i) {
        this.nextFlagAt = bytes.indexOf(FLAG, i);
        if (this.nextFlagAt < 0) this.nextFlagAt = n;
      }
      if (this.nextEscAt < i) {
        this.nextEscAt = bytes.indexOf(ESCAPE, i);
        if (this.nextEscAt < 0) this.nextEscAt = n;
      }
      const end = this.nextFlagAt < this.nextEscAt ? this.nextFlagAt : this.nextEscAt;
      // Dense escapes make indexOf calls cost more than they save: after a
      // few short runs the rest of this frame goes per octet.
      if (end - i < SHORT_RUN) {
        if (++this.shortRuns > SHORT_RUNS_BEFORE_PER_OCTET) {
          this.perOctet = true;
          break;
        }
      } else this.shortRuns = 0;
      if (end > i) {
        if (len + (end - i) > max) {
          this.len = len;
          this.oversize();
          return i;
        }
        if (end - i < COPY_LOOP_MAX) while (i < end) buf[len++] = bytes[i++]!;
        else {
          copyRange.call(bytes, buf, len, i, end);
          len += end - i;
          i = end;
        }
        if (i >= n) break;
      }
      if (i === this.nextFlagAt) {
        this.len = len;
        this.endFrame(i, sink);
        return i + 1;
      }
      // ESCAPE at i, its octet normally right behind it.
      if (i + 1 >= n || bytes[i + 1] === FLAG) {
        this.len = len;
        this.state = ESCAPED;
        return i + 1;
      }
      if (len === max) {
        this.len = len;
        this.oversize();
        return i;
      }
      buf[len++] = bytes[i + 1]! ^ ESCAPE_XOR;
      i += 2;
    }
    this.len = len;
    return i;
  }

  // ---- IN_FRAME, any receive ACCM: per octet

  private collectOctets(bytes: Uint8Array, i: number, sink: (event: DecodeEvent) => void): number {
    const n = bytes.length;
    const buf = this.buf;
    const max = this.maxLen;
    const accm = this.rxAccm;
    let len = this.len;
    // Direct compares beat a class table here (fewer mispredicted branches on random data).
    for (; i < n; i++) {
      const b = bytes[i]!;
      if (b === FLAG) {
        this.len = len;
        this.endFrame(i, sink);
        return i + 1;
      }
      if (b === ESCAPE) {
        // Common case first: the escaped octet follows directly. Anything
        // else (the chunk ends, a control character the DCE inserted, FLAG)
        // is the ESCAPED state's business.
        const next = i + 1 < n ? bytes[i + 1]! : FLAG;
        if (next < 0x20 || next === FLAG) {
          this.len = len;
          this.state = ESCAPED;
          return i + 1;
        }
        if (len === max) break;
        buf[len++] = next ^ ESCAPE_XOR;
        i++;
        continue;
      }
      // An unescaped control character in the receive ACCM was inserted by
      // the DCE (XON/XOFF): removed before the FCS check (RFC 1662 §4.2).
      if (b < 0x20 && ((accm >> b) & 1) !== 0) continue;
      if (len === max) break;
      buf[len++] = b;
    }
    this.len = len;
    if (i < n) this.oversize();
    return i;
  }

  // ---- transitions shared by the states

  /** A control character the receive ACCM says a DCE inserted (dropped wherever it appears). */
  private isAccmDropped(b: number): boolean {
    return b < 0x20 && ((this.rxAccm >> b) & 1) !== 0;
  }

  /** Raw octets of the current candidate frame (or hunted garbage) before index i of this chunk. */
  private rawBefore(i: number): number {
    return this.rawCarried + (i - this.segStart);
  }

  /** A new candidate frame starts at index i (right after a flag). */
  private startFrame(i: number): void {
    this.rawCarried = 0;
    this.segStart = i;
    this.len = 0;
    this.state = IN_FRAME;
    this.shortRuns = 0;
    this.perOctet = false;
  }

  /** The flag at index `flagAt` ends the frame collected so far: check it and hand it on, or count why not. */
  private endFrame(flagAt: number, sink: (event: DecodeEvent) => void): void {
    const raw = this.rawBefore(flagAt);
    const len = this.len;
    this.startFrame(flagAt + 1);
    // Back-to-back flags, or a frame of dropped control characters only: nothing to judge.
    if (len === 0) {
      this.counters.discardedBytes += raw;
      return;
    }
    const r = checkFrame(this.buf, len, this.fcs32, this.words);
    if (!r.ok) {
      this.discard(r.why, raw);
      return;
    }
    this.counters.frames++;
    sink({ kind: "frame", protocol: r.protocol, info: this.buf.slice(r.infoStart, r.infoEnd) });
  }

  /** ESCAPE then the flag at index `flagAt`: the abort sequence drops the frame (RFC 1662 §4.2). */
  private abort(flagAt: number): void {
    this.discard("aborted", this.rawBefore(flagAt));
    this.startFrame(flagAt + 1);
  }

  /** Longer than the MRU allows: dropped, and the rest up to the next flag is hunted through (and counted then). */
  private oversize(): void {
    this.counters.oversize++;
    this.len = 0;
    this.state = HUNTING;
  }

  /** Count a dropped frame under its reason, and its raw octets as discarded. */
  private discard(why: "runt" | "bad-fcs" | "malformed" | "aborted", raw: number): void {
    const c = this.counters;
    if (why === "runt") c.runts++;
    else if (why === "bad-fcs") c.badFcs++;
    else if (why === "malformed") c.malformed++;
    else c.aborted++;
    c.discardedBytes += raw;
  }
}

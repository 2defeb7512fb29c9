/**
 * HDLC-like framing for PPP in asynchronous mode (RFC 1662 §4).
 *
 * encodeFrame turns one (protocol, information) pair into bytes on the line;
 * HdlcDecoder turns a byte stream back into frames. Both are pure: no I/O, no
 * clock. The decoder never throws on line input: garbage is counted and
 * skipped, and it resynchronises on the next flag.
 */
import { FCS16_GOOD, FCS16_TABLE, FCS32_GOOD, FCS32_TABLE } from "./fcs.ts";
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
 * Frame one PPP packet: opening flag, address/control (unless ACFC), protocol
 * (one octet if PFC and it fits), information, FCS, closing flag; every octet
 * between the flags escaped per the ACCM. Returns a fresh array.
 *
 * Callers are responsible for using DEFAULT_FRAMING for LCP packets (RFC 1662
 * §7.1 / RFC 1661 §6.6); this function frames exactly as told.
 */
export function encodeFrame(protocol: number, info: Uint8Array, framing: Framing): Uint8Array {
  const esc = escapeTableFor(framing.accm);
  const n = info.length;
  // Worst case: every octet of header(4) + info + FCS(4) escaped, plus 2 flags.
  const worst = 2 * (n + 8) + 2;
  if (scratch.length < worst) scratch = new Uint8Array(Math.max(worst, scratch.length * 2));
  const out = scratch;
  let o = 0;
  out[o++] = FLAG;

  if (framing.fcs32) {
    const t = FCS32_TABLE;
    let f = -1; // 0xffffffff as int32
    const put = (b: number): void => {
      f = (f >>> 8) ^ t[(f ^ b) & 0xff]!;
      if (esc[b]) {
        out[o++] = ESCAPE;
        out[o++] = b ^ ESCAPE_XOR;
      } else out[o++] = b;
    };
    if (!framing.acfc) {
      put(ALL_STATIONS);
      put(UI);
    }
    if (!(framing.pfc && isCompressibleProtocol(protocol))) put((protocol >>> 8) & 0xff);
    put(protocol & 0xff);
    for (let i = 0; i < n; i++) {
      const b = info[i]!;
      f = (f >>> 8) ^ t[(f ^ b) & 0xff]!;
      if (esc[b] === 1) {
        out[o++] = ESCAPE;
        out[o++] = b ^ ESCAPE_XOR;
      } else out[o++] = b;
    }
    const fcs = ~f;
    const b0 = fcs & 0xff, b1 = (fcs >>> 8) & 0xff, b2 = (fcs >>> 16) & 0xff, b3 = (fcs >>> 24) & 0xff;
    put(b0);
    put(b1);
    put(b2);
    put(b3);
  } else {
    const t = FCS16_TABLE;
    let f = 0xffff;
    const put = (b: number): void => {
      f = (f >>> 8) ^ t[(f ^ b) & 0xff]!;
      if (esc[b]) {
        out[o++] = ESCAPE;
        out[o++] = b ^ ESCAPE_XOR;
      } else out[o++] = b;
    };
    if (!framing.acfc) {
      put(ALL_STATIONS);
      put(UI);
    }
    if (!(framing.pfc && isCompressibleProtocol(protocol))) put((protocol >>> 8) & 0xff);
    put(protocol & 0xff);
    for (let i = 0; i < n; i++) {
      const b = info[i]!;
      f = (f >>> 8) ^ t[(f ^ b) & 0xff]!;
      if (esc[b] === 1) {
        out[o++] = ESCAPE;
        out[o++] = b ^ ESCAPE_XOR;
      } else out[o++] = b;
    }
    const fcs = f ^ 0xffff;
    const lo = fcs & 0xff, hi = (fcs >>> 8) & 0xff;
    // put() would fold the FCS into f; harmless, f is not used afterwards.
    put(lo);
    put(hi);
  }
  out[o++] = FLAG;
  return out.slice(0, o);
}

// ---------------------------------------------------------------------------
// Decoder

export type DecodeEvent = { kind: "frame"; protocol: number; info: Uint8Array } | { kind: "no-carrier" };

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
  /** "NO CARRIER" texts seen in the stream. */
  noCarrier: number;
  /** Octets that were not part of a good frame (garbage between frames, bad frames). */
  discardedBytes: number;
}

const NO_CARRIER = Array.from("NO CARRIER", (c) => c.charCodeAt(0));
const CR = 0x0d;
const LF = 0x0a;

const enum RxState {
  /** Waiting for a flag: after start, after an error, after an oversize frame. */
  Hunt = 0,
  /** Between flags, collecting octets. */
  Frame = 1,
  /** Between flags, the previous octet was ESCAPE. */
  Escaped = 2,
}

/**
 * Incremental de-framer. Feed it whatever the line delivers (any chunking);
 * it returns the complete frames found and "no-carrier" when the modem's
 * result text shows it left data mode.
 */
export class HdlcDecoder {
  readonly counters: DecoderCounters = {
    frames: 0,
    badFcs: 0,
    runts: 0,
    oversize: 0,
    aborted: 0,
    malformed: 0,
    noCarrier: 0,
    discardedBytes: 0,
  };
  private state: RxState = RxState.Hunt;
  private buf: Uint8Array;
  private len = 0;
  /** Raw octets consumed by the current (candidate) frame, for discardedBytes. */
  private raw = 0;
  private rxAccm = 0xffffffff;
  private fcs32 = false;
  private maxLen: number;
  /** Matching "NO CARRIER": index of the next expected character, or -1 once ruled out for this frame. */
  private textMatch = 0;

  constructor(opts: { mru?: number; accm?: number; fcs32?: boolean } = {}) {
    this.rxAccm = (opts.accm ?? 0xffffffff) >>> 0;
    this.fcs32 = opts.fcs32 ?? false;
    this.maxLen = 0;
    this.buf = new Uint8Array(0);
    this.setMru(opts.mru ?? MIN_RX_MRU);
  }

  /** Largest information field accepted: max(mru, 1500) (RFC 1661 §6.1 implementation note). */
  setMru(mru: number): void {
    const info = Math.max(MIN_RX_MRU, Math.min(65535, Math.floor(mru) || 0));
    // address/control (2) + protocol (2) + info + FCS (up to 4)
    this.maxLen = info + 8;
    if (this.buf.length < this.maxLen) {
      const nb = new Uint8Array(this.maxLen);
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
  }

  /**
   * Receive ACCM (RFC 1662 §4.2 / §7.1): control characters whose bit is set
   * were escaped by the peer if meant; when they arrive unescaped a DCE
   * inserted them (XON/XOFF) and they are dropped.
   */
  setAccm(accm: number): void {
    this.rxAccm = accm >>> 0;
  }

  setFcs32(on: boolean): void {
    this.fcs32 = on;
  }

  /** Forget a partial frame and wait for the next flag (e.g. when the line is re-used). */
  reset(): void {
    this.discard(0);
    this.state = RxState.Hunt;
    this.textMatch = 0;
  }

  push(bytes: Uint8Array): DecodeEvent[] {
    const events: DecodeEvent[] = [];
    const buf = this.buf;
    const accm = this.rxAccm;
    const max = this.maxLen;
    let state = this.state;
    let len = this.len;
    let raw = this.raw;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      if (b === FLAG) {
        if (state === RxState.Escaped) {
          // ESCAPE FLAG = abort sequence: drop the frame (RFC 1662 §4.2).
          this.counters.aborted++;
          this.counters.discardedBytes += raw;
        } else if (state === RxState.Frame) {
          if (len > 0) this.finishFrame(len, raw, events);
          else this.counters.discardedBytes += raw; // only ignored control chars between flags
        } else {
          this.counters.discardedBytes += raw;
        }
        state = RxState.Frame;
        len = 0;
        raw = 0;
        this.textMatch = 0;
        continue;
      }
      raw++;
      if (state === RxState.Hunt) {
        if (this.matchText(b, true)) {
          events.push({ kind: "no-carrier" });
          this.counters.noCarrier++;
        }
        continue;
      }
      if (b < 0x20 && (accm >>> b) & 1) {
        // An unescaped mapped control character: inserted by the DCE, ignore it.
        continue;
      }
      if (state === RxState.Escaped) {
        state = RxState.Frame;
        if (len >= max) {
          this.counters.oversize++;
          state = RxState.Hunt;
          len = 0;
          this.textMatch = 0;
          continue;
        }
        buf[len++] = b ^ ESCAPE_XOR;
        this.textMatch = -1;
        continue;
      }
      if (b === ESCAPE) {
        state = RxState.Escaped;
        continue;
      }
      if (len >= max) {
        this.counters.oversize++;
        state = RxState.Hunt;
        len = 0;
        this.textMatch = 0;
        continue;
      }
      buf[len++] = b;
      if (this.textMatch >= 0) {
        // Modem result text after the last frame ("\r\nNO CARRIER\r\n"): it
        // starts right after a flag, so only the start of a frame is checked.
        if (this.matchText(b, false)) {
          events.push({ kind: "no-carrier" });
          this.counters.noCarrier++;
          state = RxState.Hunt;
          this.counters.discardedBytes += raw;
          raw = 0;
          len = 0;
        }
      }
    }
    this.state = state;
    this.len = len;
    this.raw = raw;
    return events;
  }

  /**
   * Advance the "NO CARRIER" matcher by one octet; true when the text is
   * complete. While hunting the text may start anywhere; inside a candidate
   * frame it must start the frame (CR/LF may precede it when the receive ACCM
   * lets them through).
   */
  private matchText(b: number, anywhere: boolean): boolean {
    const m = this.textMatch;
    if (m < 0) return false;
    if (b === NO_CARRIER[m]) {
      if (m + 1 === NO_CARRIER.length) {
        this.textMatch = 0;
        return true;
      }
      this.textMatch = m + 1;
    } else if (anywhere) this.textMatch = b === NO_CARRIER[0] ? 1 : 0;
    else if (!(m === 0 && (b === CR || b === LF))) this.textMatch = -1;
    return false;
  }

  private discard(extraRaw: number): void {
    this.counters.discardedBytes += this.raw + extraRaw;
    this.len = 0;
    this.raw = 0;
  }

  private finishFrame(len: number, raw: number, events: DecodeEvent[]): void {
    const buf = this.buf;
    const c = this.counters;
    const fcsLen = this.fcs32 ? 4 : 2;
    // RFC 1662 §4.3: frames shorter than 4 octets (16-bit FCS) are runts.
    // Smallest frame: 1-octet protocol + FCS.
    if (len < fcsLen + 2) {
      c.runts++;
      c.discardedBytes += raw;
      return;
    }
    let good: boolean;
    if (this.fcs32) {
      const t = FCS32_TABLE;
      let f = -1;
      for (let i = 0; i < len; i++) f = (f >>> 8) ^ t[(f ^ buf[i]!) & 0xff]!;
      good = f >>> 0 === FCS32_GOOD;
    } else {
      const t = FCS16_TABLE;
      let f = 0xffff;
      for (let i = 0; i < len; i++) f = (f >>> 8) ^ t[(f ^ buf[i]!) & 0xff]!;
      good = f === FCS16_GOOD;
    }
    if (!good) {
      c.badFcs++;
      c.discardedBytes += raw;
      return;
    }
    const end = len - fcsLen;
    let p = 0;
    // Address/control are always accepted compressed or not (RFC 1662 §3.2 / RFC 1661 §6.6).
    if (buf[0] === ALL_STATIONS) {
      if (end < 2 || buf[1] !== UI) {
        c.malformed++;
        c.discardedBytes += raw;
        return;
      }
      p = 2;
    }
    // Protocol: the least significant octet is odd, the most significant even
    // (RFC 1661 §2); an odd first octet means a compressed one-octet field.
    if (p >= end) {
      c.runts++;
      c.discardedBytes += raw;
      return;
    }
    let protocol = buf[p]!;
    if (protocol & 1) p += 1;
    else {
      if (p + 1 >= end || (buf[p + 1]! & 1) === 0) {
        c.malformed++;
        c.discardedBytes += raw;
        return;
      }
      protocol = (protocol << 8) | buf[p + 1]!;
      p += 2;
    }
    c.frames++;
    events.push({ kind: "frame", protocol, info: buf.slice(p, end) });
  }
}

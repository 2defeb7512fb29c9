/**
 * HDLC-like framing for PPP in asynchronous mode (RFC 1662 §4).
 *
 * encodeFrame turns one (protocol, information) pair into bytes on the line;
 * HdlcDecoder turns a byte stream back into frames. Both are pure: no I/O, no
 * clock. The decoder never throws on line input: garbage is counted and
 * skipped, and it resynchronises on the next flag.
 *
 * The decoder only de-frames. Modem result text in the stream ("NO CARRIER"
 * when a call ends) is the AT channel's business and is recognised there,
 * between frames only (src/at/core.ts); whatever text reaches this decoder
 * between frames is garbage like any other, counted in discardedBytes.
 */
import { FCS16_GOOD, FCS16_INIT, FCS32_GOOD, FCS32_INIT, FCS32_TABLE, fcs16, fcs32 } from "./fcs.ts";
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
  // Header and trailer are assembled unescaped first; the FCS covers every
  // octet between the flags before escaping (RFC 1662 §4.2: escaping is done
  // after the FCS is computed).
  const edge = edgeScratch;
  let h = 0;
  if (!framing.acfc) {
    edge[h++] = ALL_STATIONS;
    edge[h++] = UI;
  }
  if (!(framing.pfc && isCompressibleProtocol(protocol))) edge[h++] = (protocol >>> 8) & 0xff;
  edge[h++] = protocol & 0xff;
  let t = h;
  if (framing.fcs32) {
    const f = (fcs32(info, fcs32(edge, FCS32_INIT, 0, h)) ^ 0xffffffff) >>> 0;
    edge[t++] = f & 0xff;
    edge[t++] = (f >>> 8) & 0xff;
    edge[t++] = (f >>> 16) & 0xff;
    edge[t++] = (f >>> 24) & 0xff;
  } else {
    const f = fcs16(info, fcs16(edge, FCS16_INIT, 0, h)) ^ 0xffff;
    edge[t++] = f & 0xff;
    edge[t++] = (f >>> 8) & 0xff;
  }

  // Worst case: every octet of header + info + FCS escaped, plus 2 flags.
  const worst = 2 * (n + t) + 2;
  if (scratch.length < worst) scratch = new Uint8Array(Math.max(worst, scratch.length * 2));
  const out = scratch;
  let o = 0;
  out[o++] = FLAG;
  o = escapeInto(out, o, edge, 0, h, esc);
  if (framing.accm === 0) {
    // ACCM 0 (the usual case once LCP is up): only FLAG and ESCAPE need
    // escaping; find them with native indexOf and copy the runs with set().
    // Where they are dense, indexOf calls cost more than they save, so a
    // short run switches to per-octet copying for the next stretch.
    let i = 0;
    let nextFlag = -1;
    let nextEsc = -1;
    while (i < n) {
      if (nextFlag < i) {
        nextFlag = info.indexOf(FLAG, i);
        if (nextFlag < 0) nextFlag = n;
      }
      if (nextEsc < i) {
        nextEsc = info.indexOf(ESCAPE, i);
        if (nextEsc < 0) nextEsc = n;
      }
      const end = nextFlag < nextEsc ? nextFlag : nextEsc;
      if (end - i >= 16) {
        out.set(info.subarray(i, end), o);
        o += end - i;
        i = end;
      } else {
        // Dense escapes are unpredictable branches: go branch-free here.
        // Always write ESCAPE, then the octet (xor 0x20 when escaped) over
        // it or after it.
        const stop = Math.min(n, i + 128);
        for (; i < stop; i++) {
          const b = info[i]!;
          const e = esc[b]!;
          out[o] = ESCAPE;
          out[o + e] = b ^ (e << 5);
          o += 1 + e;
        }
        continue;
      }
      if (i < n) {
        out[o++] = ESCAPE;
        out[o++] = info[i++]! ^ ESCAPE_XOR;
      }
    }
  } else o = escapeInto(out, o, info, 0, n, esc);
  o = escapeInto(out, o, edge, h, t, esc);
  out[o++] = FLAG;
  return out.slice(0, o);
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

/** Unescaped header (≤ 4 octets) followed by the FCS (≤ 4 octets) of the frame being encoded. */
const edgeScratch = new Uint8Array(8);

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
 * Incremental de-framer. Feed it whatever the line delivers (any chunking);
 * it returns the complete frames found.
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
  /** Waiting for a flag: after start-up and after an oversize frame (whose rest is payload, never text). */
  private hunting = true;
  /** The previous chunk ended with ESCAPE. */
  private pendingEscape = false;
  private buf: Uint8Array;
  private len = 0;
  /** Raw octets consumed by the current (candidate) frame, for discardedBytes. */
  private raw = 0;
  /** Receive ACCM as int32 (bit n set => unescaped octet n is dropped). */
  private rxAccm: number;
  private fcs32 = false;
  private maxLen: number;

  constructor(opts: { mru?: number; accm?: number; fcs32?: boolean } = {}) {
    this.rxAccm = (opts.accm ?? 0xffffffff) | 0;
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
    this.rxAccm = accm | 0;
  }

  setFcs32(on: boolean): void {
    this.fcs32 = on;
  }

  /** Forget a partial frame and wait for the next flag (e.g. when the line is re-used). */
  reset(): void {
    this.counters.discardedBytes += this.raw;
    this.len = 0;
    this.raw = 0;
    this.hunting = true;
    this.pendingEscape = false;
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
   * the rest of the chunk is decoded with the new settings. That matters when
   * one read holds LCP's last Configure-Ack and the peer's first frame under
   * the newly negotiated ACCM.
   */
  decode(bytes: Uint8Array, sink: (event: DecodeEvent) => void): void {
    let accm = this.rxAccm;
    let buf = this.buf;
    let max = this.maxLen;
    const n = bytes.length;
    let hunting = this.hunting;
    let len = this.len;
    let pendingEscape = this.pendingEscape;
    // Raw octets of the current candidate frame = carried + (i - segStart);
    // counted by index arithmetic instead of per octet.
    let carried = this.raw;
    let segStart = 0;
    let i = 0;
    // Cached positions of the next FLAG / ESCAPE for the ACCM-0 fast path.
    let nextFlag = -1;
    let nextEsc = -1;
    let shortRuns = 0;
    let perOctet = false;
    outer: while (i < n) {
      if (hunting) {
        // After start-up or an oversize frame: skip to the next flag. The
        // octets skipped are the rest of a frame or noise; none of it is
        // looked at (RFC 1662 §4.2: only a flag ends a frame).
        const f = bytes.indexOf(FLAG, i);
        if (f < 0) {
          i = n;
          break;
        }
        i = f;
        this.counters.discardedBytes += carried + (i - segStart);
        carried = 0;
        segStart = ++i;
        hunting = false;
        pendingEscape = false;
        len = 0;
        continue;
      }
      if (pendingEscape) {
        // The previous chunk ended with ESCAPE: resolve it with this octet.
        const b = bytes[i]!;
        if (b < 0x20 && ((accm >> b) & 1) !== 0) {
          i++;
          continue;
        }
        pendingEscape = false;
        if (b === FLAG) {
          this.abort(carried + (i - segStart));
          carried = 0;
          segStart = ++i;
          len = 0;
          continue;
        }
        if (len === max) {
          this.oversize();
          hunting = true;
          continue;
        }
        buf[len++] = b ^ ESCAPE_XOR;
        i++;
        continue;
      }
      let over = false;
      if (accm === 0 && !perOctet) {
        // Fast path for receive ACCM 0, the usual case once LCP is up: only
        // FLAG and ESCAPE are special, so the runs between them are found
        // with native indexOf and copied with set(). Positions are cached so
        // each octet is searched once.
        while (i < n) {
          if (nextFlag < i) {
            nextFlag = bytes.indexOf(FLAG, i);
            if (nextFlag < 0) nextFlag = n;
          }
          if (nextEsc < i) {
            nextEsc = bytes.indexOf(ESCAPE, i);
            if (nextEsc < 0) nextEsc = n;
          }
          const end = nextFlag < nextEsc ? nextFlag : nextEsc;
          // Dense escapes make indexOf calls cost more than they save: after
          // a few short runs finish this frame on the per-octet path.
          if (end - i < 16) {
            if (++shortRuns > 4) {
              perOctet = true;
              continue outer;
            }
          } else shortRuns = 0;
          if (end > i) {
            if (len + (end - i) > max) {
              over = true;
              break;
            }
            if (end - i < 16) while (i < end) buf[len++] = bytes[i++]!;
            else {
              buf.set(bytes.subarray(i, end), len);
              len += end - i;
              i = end;
            }
            if (i >= n) break;
          }
          if (i === nextFlag) {
            const raw = carried + (i - segStart);
            carried = 0;
            segStart = ++i;
            if (len > 0) {
              const l = len;
              len = 0;
              this.finishFrame(l, raw, sink);
              accm = this.rxAccm;
              buf = this.buf;
              max = this.maxLen;
              if (accm !== 0) continue outer; // the sink changed the ACCM
            } else this.counters.discardedBytes += raw;
            continue;
          }
          // ESCAPE at i
          if (i + 1 >= n) {
            pendingEscape = true;
            i = n;
            break;
          }
          const next = bytes[i + 1]!;
          if (next === FLAG) {
            // ESCAPE FLAG = abort sequence (RFC 1662 §4.2).
            this.abort(carried + (i + 1 - segStart));
            carried = 0;
            i += 2;
            segStart = i;
            len = 0;
            continue;
          }
          if (len === max) {
            over = true;
            break;
          }
          buf[len++] = next ^ ESCAPE_XOR;
          i += 2;
        }
      } else {
        // General path, per octet. Direct compares beat a class table here
        // (fewer mispredicted branches on random data).
        for (; i < n; i++) {
          let b = bytes[i]!;
          if (b === ESCAPE) {
            let j = i + 1;
            // Common case first: the escaped octet follows directly.
            const direct = j < n ? bytes[j]! : 0;
            if (direct >= 0x20 && direct !== FLAG) {
              if (len === max) {
                over = true;
                break;
              }
              buf[len++] = direct ^ ESCAPE_XOR;
              i = j;
              continue;
            }
            // Control characters the DCE inserted may sit between ESCAPE and its octet.
            while (j < n && bytes[j]! < 0x20 && ((accm >> bytes[j]!) & 1) !== 0) j++;
            if (j >= n) {
              pendingEscape = true;
              i = n;
              break;
            }
            const next = bytes[j]!;
            if (next === FLAG) {
              // ESCAPE FLAG = abort sequence: drop the frame (RFC 1662 §4.2).
              this.abort(carried + (j - segStart));
              carried = 0;
              segStart = j + 1;
              len = 0;
              i = j;
              continue;
            }
            // (ESCAPE ESCAPE never comes from a correct sender; the FCS decides.)
            b = next ^ ESCAPE_XOR;
            i = j;
          } else if (b === FLAG) {
            const raw = carried + (i - segStart);
            carried = 0;
            segStart = i + 1;
            if (len > 0) {
              const l = len;
              len = 0;
              this.finishFrame(l, raw, sink);
              // The sink may have changed the receive settings.
              accm = this.rxAccm;
              buf = this.buf;
              max = this.maxLen;
              if (accm === 0) {
                // Back to the fast path for the next frame.
                perOctet = false;
                shortRuns = 0;
                i++;
                continue outer;
              }
            } else this.counters.discardedBytes += raw; // back-to-back flags, or ignored control chars only
            continue;
          } else if (b < 0x20 && ((accm >> b) & 1) !== 0) {
            // An unescaped control character in the receive ACCM was inserted
            // by the DCE (XON/XOFF): removed before the FCS check (RFC 1662 §4.2).
            continue;
          }
          if (len === max) {
            over = true;
            break;
          }
          buf[len++] = b;
        }
      }
      if (over) {
        // Longer than the MRU allows: drop it and hunt for the next flag.
        this.oversize();
        hunting = true;
        len = 0;
      }
    }
    if (hunting) {
      len = 0;
      pendingEscape = false;
    }
    this.hunting = hunting;
    this.len = len;
    this.pendingEscape = pendingEscape;
    this.raw = carried + (n - segStart);
  }

  private abort(raw: number): void {
    this.counters.aborted++;
    this.counters.discardedBytes += raw;
  }

  private oversize(): void {
    this.counters.oversize++;
  }

  private finishFrame(len: number, raw: number, sink: (event: DecodeEvent) => void): void {
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
      good = fcs16(buf, FCS16_INIT, 0, len) === FCS16_GOOD;
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
    sink({ kind: "frame", protocol, info: buf.slice(p, end) });
  }
}

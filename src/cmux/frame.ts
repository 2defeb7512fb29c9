/**
 * 3GPP TS 27.010 basic option: the frame codec (§5.2). A frame is
 *
 *   F9 | address | control | length (1 or 2 octets) | information | FCS | F9
 *
 * address: EA (bit 1, always 1 here), C/R (bit 2), DLCI (bits 3-8).
 * control: the frame type with the P/F bit (0x10).
 * length:  EA-extended: one octet (len << 1 | 1) up to 127, else two octets
 *          ((len & 0x7f) << 1, len >> 7).
 * FCS:     CRC-8 (x^8 + x^2 + x + 1, reflected, init 0xFF, ones' complement)
 *          over address, control and length; UI and every non-UIH frame
 *          also cover the information field (§5.2.1.6).
 *
 * The decoder is a streaming scanner that never throws on peer bytes
 * (DESIGN.md rule 6): bytes outside frames are reported as garbage (a modem
 * that left the mux prints plain text there), frames with a bad FCS, bad
 * address, oversize length or missing closing flag are counted and skipped.
 */

export const FLAG = 0xf9;
export const PF = 0x10;

/** Frame types, with the P/F bit clear (§5.2.1.3). */
export const FrameType = {
  SABM: 0x2f,
  UA: 0x63,
  DM: 0x0f,
  DISC: 0x43,
  UIH: 0xef,
  UI: 0x03,
} as const;
export type FrameTypeName = keyof typeof FrameType;

const TYPE_NAME = new Map<number, FrameTypeName>(Object.entries(FrameType).map(([k, v]) => [v, k as FrameTypeName]));

export interface Frame {
  dlci: number;
  /** The C/R bit of the address octet as sent. */
  cr: boolean;
  type: FrameTypeName;
  /** Poll (commands) / Final (responses). */
  pf: boolean;
  info: Uint8Array;
}

// ───────────────────────────── FCS ─────────────────────────────

/** CRC-8 table for the reflected polynomial 0x07 (0xE0 reflected). */
const CRC_TABLE = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let b = 0; b < 8; b++) c = c & 1 ? (c >>> 1) ^ 0xe0 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** The running CRC over `data[from, to)`, starting from `crc` (0xFF for a new frame). */
export function crc8(data: Uint8Array, from = 0, to = data.length, crc = 0xff): number {
  let c = crc;
  for (let i = from; i < to; i++) c = CRC_TABLE[c ^ data[i]!]!;
  return c;
}

/** The FCS octet to send over `data[from, to)`. */
export function fcs(data: Uint8Array, from = 0, to = data.length): number {
  return 0xff - crc8(data, from, to);
}

/** The receiver's check: the CRC over the covered octets and the FCS is 0xCF (§5.2.1.6). */
export const FCS_GOOD = 0xcf;

// ───────────────────────────── encoding ─────────────────────────────

/** Largest information field the two-octet length can carry. */
export const MAX_INFO = 0x7fff;

export function addressOctet(dlci: number, cr: boolean): number {
  return ((dlci & 0x3f) << 2) | (cr ? 0x02 : 0) | 0x01;
}

/** Length field octets for `len` (§5.2.1.5). */
export function lengthOctets(len: number): number[] {
  return len <= 0x7f ? [(len << 1) | 1] : [(len & 0x7f) << 1, (len >> 7) & 0xff];
}

/** Encoded size of a frame with `infoLen` octets of information. */
export function frameSize(infoLen: number): number {
  return 5 + (infoLen > 0x7f ? 2 : 1) + infoLen;
}

/** One frame, flags included. `info` longer than MAX_INFO is a programming error. */
export function encodeFrame(f: Frame): Uint8Array {
  const info = f.info;
  if (info.length > MAX_INFO) throw new RangeError(`27.010 information field of ${info.length} octets exceeds ${MAX_INFO}`);
  const len = lengthOctets(info.length);
  const out = new Uint8Array(4 + len.length + info.length + 1);
  out[0] = FLAG;
  out[1] = addressOctet(f.dlci, f.cr);
  out[2] = FrameType[f.type] | (f.pf ? PF : 0);
  out.set(len, 3);
  const headerEnd = 3 + len.length;
  out.set(info, headerEnd);
  const coversInfo = f.type !== "UIH";
  out[headerEnd + info.length] = fcs(out, 1, coversInfo ? headerEnd + info.length : headerEnd);
  out[out.length - 1] = FLAG;
  return out;
}

// ───────────────────────────── decoding ─────────────────────────────

export interface DecoderCounters {
  frames: number;
  badFcs: number;
  /** Octets outside any frame (noise, or plain text of a modem that left the mux). */
  garbageBytes: number;
  /** Frames whose length exceeded the negotiated maximum. */
  oversize: number;
  /** Frames with an unknown control octet, an address without EA, or no closing flag. */
  malformed: number;
}

export interface DecoderSink {
  frame(f: Frame, raw: Uint8Array): void;
  /** Octets that belong to no frame, in order. */
  garbage?(data: Uint8Array): void;
  /** A frame that failed a check, with its raw octets (for pcap and logs). */
  rejected?(why: keyof DecoderCounters, raw: Uint8Array): void;
}

const enum St {
  Hunt,
  Address,
  Control,
  Len1,
  Len2,
  Info,
  Fcs,
  Close,
}

/**
 * Streaming frame scanner. `maxInfo` is the negotiated N1 (frames longer than
 * it are refused, so a corrupt length octet cannot make the decoder swallow a
 * stream of good frames while it waits for 32 KiB).
 *
 * A refused oversize frame is one error: the basic option does not escape
 * flags inside the information field, so hunting through it finds phantom
 * frames; failures inside the extent its length declared are not counted
 * again, and a flag exactly where it says the frame ends resyncs there. The
 * first good frame ends that extent early (a length that was only line noise
 * must not hide the errors of a noisy line).
 */
export class FrameDecoder {
  readonly counters: DecoderCounters = { frames: 0, badFcs: 0, garbageBytes: 0, oversize: 0, malformed: 0 };
  private st = St.Hunt;
  private buf: Uint8Array;
  private n = 0;
  private infoLen = 0;
  private infoStart = 0;
  private garbage: number[] = [];
  /** Octets seen so far, and the position of the closing flag an oversize frame declared (0: none). */
  private pos = 0;
  private oversizeEnd = 0;

  constructor(
    private readonly sink: DecoderSink,
    private maxInfo = MAX_INFO,
  ) {
    this.buf = new Uint8Array(frameSize(maxInfo));
  }

  setMaxInfo(n: number): void {
    this.maxInfo = Math.max(1, Math.min(MAX_INFO, n));
    if (this.buf.length < frameSize(this.maxInfo)) this.buf = new Uint8Array(frameSize(this.maxInfo));
  }

  /** Forget a partial frame (e.g. after the mux closed). */
  reset(): void {
    this.flushGarbage();
    this.st = St.Hunt;
    this.n = 0;
    this.oversizeEnd = 0;
  }

  push(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.byte(data[i]!);
    this.flushGarbage();
  }

  private byte(b: number): void {
    this.pos++;
    if (this.oversizeEnd !== 0 && this.pos >= this.oversizeEnd) {
      const end = this.pos === this.oversizeEnd;
      this.oversizeEnd = 0;
      // The oversize frame's own closing flag: whatever phantom was being parsed ends here.
      if (end && b === FLAG) return this.begin();
    }
    switch (this.st) {
      case St.Hunt:
        if (b === FLAG) {
          this.begin();
        } else if (this.oversizeEnd === 0) {
          this.garbage.push(b);
          this.counters.garbageBytes++;
        }
        return;
      case St.Address:
        // Repeated flags between frames (one closes, the next opens) are allowed (§5.2.6).
        if (b === FLAG) return;
        if ((b & 1) === 0) return this.fail("malformed");
        this.put(b);
        this.st = St.Control;
        return;
      case St.Control:
        if (!TYPE_NAME.has(b & ~PF)) return this.fail("malformed", b);
        this.put(b);
        this.st = St.Len1;
        return;
      case St.Len1:
        this.put(b);
        if (b & 1) return this.lengthKnown(b >> 1);
        this.infoLen = b >> 1;
        this.st = St.Len2;
        return;
      case St.Len2:
        this.put(b);
        return this.lengthKnown(this.infoLen | (b << 7));
      case St.Info:
        this.put(b);
        if (this.n - this.infoStart === this.infoLen) this.st = St.Fcs;
        return;
      case St.Fcs:
        this.put(b);
        this.st = St.Close;
        return;
      case St.Close:
        if (b !== FLAG) return this.fail("malformed", b);
        this.finishFrame();
        // This flag may open the next frame as well.
        this.begin();
        return;
    }
  }

  private begin(): void {
    this.flushGarbage();
    this.st = St.Address;
    this.n = 0;
    this.put(FLAG);
  }

  private put(b: number): void {
    this.buf[this.n++] = b;
  }

  private lengthKnown(len: number): void {
    if (len > this.maxInfo) {
      if (this.oversizeEnd !== 0) return this.fail("oversize");
      this.fail("oversize");
      // Information, FCS and the closing flag still to come.
      this.oversizeEnd = this.pos + len + 2;
      return;
    }
    this.infoLen = len;
    this.infoStart = this.n;
    this.st = len === 0 ? St.Fcs : St.Info;
  }

  /**
   * A check failed: count it and hunt again. A flag octet that broke the frame
   * may open the next one, so it is not thrown away.
   */
  private fail(why: "malformed" | "oversize" | "badFcs", b?: number): void {
    // Inside an oversize frame's extent: a phantom made of its information octets, not a new error.
    if (this.oversizeEnd === 0) {
      this.counters[why]++;
      this.sink.rejected?.(why, this.buf.slice(0, this.n));
    }
    this.st = St.Hunt;
    this.n = 0;
    if (b === FLAG) this.begin();
  }

  private finishFrame(): void {
    const addr = this.buf[1]!;
    const ctrl = this.buf[2]!;
    const type = TYPE_NAME.get(ctrl & ~PF)!;
    const headerEnd = this.infoStart;
    const infoEnd = headerEnd + this.infoLen;
    const covered = type === "UIH" ? headerEnd : infoEnd;
    const check = crc8(this.buf, 1, covered);
    if (CRC_TABLE[check ^ this.buf[infoEnd]!] !== FCS_GOOD) {
      this.put(FLAG);
      return this.fail("badFcs");
    }
    this.put(FLAG);
    // A good frame: the stream is in sync again (and an oversize length that was only noise stops muting errors).
    this.oversizeEnd = 0;
    this.counters.frames++;
    const raw = this.buf.slice(0, this.n);
    const frame: Frame = { dlci: addr >> 2, cr: (addr & 2) !== 0, type, pf: (ctrl & PF) !== 0, info: raw.subarray(headerEnd, infoEnd) };
    this.sink.frame(frame, raw);
  }

  private flushGarbage(): void {
    if (this.garbage.length === 0) return;
    const g = Uint8Array.from(this.garbage);
    this.garbage = [];
    this.sink.garbage?.(g);
  }
}

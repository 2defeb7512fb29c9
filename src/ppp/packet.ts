/**
 * Control-packet codec shared by LCP, IPCP, IPV6CP, PAP and CHAP
 * (RFC 1661 §5: Code, Identifier, Length, Data; §6 option TLVs).
 * `parse*` functions never throw on peer bytes: they return null for a packet
 * that must be silently discarded (RFC 1661 §5: a Length below 4 or above the
 * received size means "discard"; octets beyond Length are padding, ignored).
 */

/** RFC 1661 §5 codes (LCP uses all; NCPs use 1..7). */
export const CODE = {
  CONF_REQ: 1,
  CONF_ACK: 2,
  CONF_NAK: 3,
  CONF_REJ: 4,
  TERM_REQ: 5,
  TERM_ACK: 6,
  CODE_REJ: 7,
  PROTO_REJ: 8,
  ECHO_REQ: 9,
  ECHO_REP: 10,
  DISCARD_REQ: 11,
  /** RFC 1570 */
  IDENTIFICATION: 12,
  /** RFC 1570 */
  TIME_REMAINING: 13,
} as const;

export interface ControlPacket {
  code: number;
  id: number;
  /** The Data field (Length - 4 octets), padding removed. */
  data: Uint8Array;
}

/** Parse a control packet; null means "silently discard" (too short, bad Length). */
export function parsePacket(bytes: Uint8Array): ControlPacket | null {
  if (bytes.length < 4) return null;
  const length = ((bytes[0 + 2] ?? 0) << 8) | (bytes[3] ?? 0);
  if (length < 4 || length > bytes.length) return null;
  return { code: bytes[0] ?? 0, id: bytes[1] ?? 0, data: bytes.subarray(4, length) };
}

/** Alias kept for the smoltcp-style `parse(bytes) → result` naming. */
export const parse = parsePacket;

export function emitPacket(p: ControlPacket): Uint8Array {
  const out = new Uint8Array(4 + p.data.length);
  out[0] = p.code & 0xff;
  out[1] = p.id & 0xff;
  out[2] = (out.length >> 8) & 0xff;
  out[3] = out.length & 0xff;
  out.set(p.data, 4);
  return out;
}

/** One Configuration Option (RFC 1661 §6): Type, Length (incl. 2 header octets), Data. */
export interface ConfigOption {
  type: number;
  data: Uint8Array;
}

/**
 * Parse the option list of a Configure-Request/Ack/Nak/Reject.
 * Null when an option's Length is < 2 or runs past the end (RFC 1661 §6:
 * such a packet is malformed and is discarded).
 */
export function parseOptions(data: Uint8Array): ConfigOption[] | null {
  const out: ConfigOption[] = [];
  let i = 0;
  while (i < data.length) {
    if (i + 2 > data.length) return null;
    const type = data[i] ?? 0;
    const len = data[i + 1] ?? 0;
    if (len < 2 || i + len > data.length) return null;
    out.push({ type, data: data.subarray(i + 2, i + len) });
    i += len;
  }
  return out;
}

export function emitOptions(opts: readonly ConfigOption[]): Uint8Array {
  let total = 0;
  for (const o of opts) total += 2 + o.data.length;
  const out = new Uint8Array(total);
  let i = 0;
  for (const o of opts) {
    out[i] = o.type & 0xff;
    out[i + 1] = (2 + o.data.length) & 0xff;
    out.set(o.data, i + 2);
    i += 2 + o.data.length;
  }
  return out;
}

// ---- small big-endian helpers used by the option handlers ----

export function u16(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

export function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

export function readU16(b: Uint8Array, at = 0): number {
  return (((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)) >>> 0;
}

export function readU32(b: Uint8Array, at = 0): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Printable text from peer bytes (Terminate/PAP/CHAP messages): control chars replaced, bounded. */
export function peerText(b: Uint8Array, max = 200): string {
  let s = "";
  for (let i = 0; i < b.length && s.length < max; i++) {
    const c = b[i] ?? 0;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? "" : "?";
  }
  return s;
}

/**
 * Minimal IPv4 / ICMP / UDP / TCP packet builders and parsers for tests that
 * push raw IP through PPP (against slirp or our own server role). Checksums
 * and address codecs are the project's own (src/net/packet.ts).
 */
import { formatIpv4, internetChecksum, parseIpv4 as parseDottedQuad } from "../../src/net/packet.ts";

/** Dotted quad → 4 bytes through the project's own codec; a malformed address is a bug in the test. */
function ipToBytes(ip: string): Uint8Array {
  const b = parseDottedQuad(ip);
  if (!b) throw new Error(`test helper: not a dotted quad: ${ip}`);
  return b;
}

/**
 * A stand-in IPv4 packet of total length `len` (protocol UDP, IHL 5): only
 * the fields the splitter and the pump read are set, every byte after the
 * header is `fill`. Not checksummed; for framing tests, not for a stack.
 */
export function ipv4OfLength(len: number, fill = 0): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[9] = 17;
  p.fill(fill, 20);
  return p;
}

/** A stand-in IPv6 packet with `payload` bytes of payload, each `fill`. */
export function ipv6OfLength(payload: number, fill = 0): Uint8Array {
  const p = new Uint8Array(40 + payload);
  p[0] = 0x60;
  p[4] = payload >> 8;
  p[5] = payload & 0xff;
  p.fill(fill, 40);
  return p;
}

/** The parts back to back, as Bun delivers several TUN packets in one chunk. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

let ipId = 1;

export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array, ttl = 64): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45;
  v.setUint16(2, p.length);
  v.setUint16(4, ipId++ & 0xffff);
  v.setUint16(6, 0x4000); // DF
  p[8] = ttl;
  p[9] = proto;
  p.set(ipToBytes(src), 12);
  p.set(ipToBytes(dst), 16);
  v.setUint16(10, internetChecksum(p, 0, 20));
  p.set(payload, 20);
  return p;
}

export interface Ipv4Packet {
  src: string;
  dst: string;
  proto: number;
  payload: Uint8Array;
  checksumOk: boolean;
}

export function parseIpv4(p: Uint8Array): Ipv4Packet | null {
  if (p.length < 20 || p[0]! >> 4 !== 4) return null;
  const ihl = (p[0]! & 0xf) * 4;
  const total = (p[2]! << 8) | p[3]!;
  if (total > p.length || ihl < 20) return null;
  return {
    src: formatIpv4(p, 12),
    dst: formatIpv4(p, 16),
    proto: p[9]!,
    payload: p.subarray(ihl, total),
    checksumOk: internetChecksum(p, 0, ihl) === 0,
  };
}

export function icmpEcho(src: string, dst: string, id: number, seq: number, data: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  const v = new DataView(m.buffer);
  m[0] = 8; // echo request
  v.setUint16(4, id);
  v.setUint16(6, seq);
  m.set(data, 8);
  v.setUint16(2, internetChecksum(m));
  return ipv4(src, dst, 1, m);
}

/** An ICMP Echo Reply in an IPv4 packet, or null. */
export function parseIcmpEcho(p: Uint8Array): { type: number; id: number; seq: number; data: Uint8Array; src: string } | null {
  const ip = parseIpv4(p);
  if (!ip || ip.proto !== 1 || ip.payload.length < 8) return null;
  const m = ip.payload;
  return { type: m[0]!, id: (m[4]! << 8) | m[5]!, seq: (m[6]! << 8) | m[7]!, data: m.subarray(8), src: ip.src };
}

/** The folded (not complemented) one's-complement sum of the RFC 768/793 pseudo-header: the `initial` for internetChecksum. */
function pseudoSum(src: string, dst: string, proto: number, len: number): number {
  const ph = new Uint8Array(12);
  ph.set(ipToBytes(src), 0);
  ph.set(ipToBytes(dst), 4);
  ph[9] = proto;
  ph[10] = len >> 8;
  ph[11] = len & 0xff;
  return ~internetChecksum(ph) & 0xffff;
}

export function udp(src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const v = new DataView(u.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, u.length);
  u.set(data, 8);
  let c = internetChecksum(u, 0, u.length, pseudoSum(src, dst, 17, u.length));
  if (c === 0) c = 0xffff;
  v.setUint16(6, c);
  return ipv4(src, dst, 17, u);
}

export function parseUdp(p: Uint8Array): { src: string; sport: number; dst: string; dport: number; data: Uint8Array } | null {
  const ip = parseIpv4(p);
  if (!ip || ip.proto !== 17 || ip.payload.length < 8) return null;
  const u = ip.payload;
  return { src: ip.src, sport: (u[0]! << 8) | u[1]!, dst: ip.dst, dport: (u[2]! << 8) | u[3]!, data: u.subarray(8, (u[4]! << 8) | u[5]!) };
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface TcpSegment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
}

export function tcp(s: Omit<TcpSegment, "window"> & { window?: number; mss?: number }): Uint8Array {
  const optLen = s.mss ? 4 : 0;
  const hl = 20 + optLen;
  const t = new Uint8Array(hl + s.data.length);
  const v = new DataView(t.buffer);
  v.setUint16(0, s.sport);
  v.setUint16(2, s.dport);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  t[12] = (hl / 4) << 4;
  t[13] = s.flags;
  v.setUint16(14, s.window ?? 65535);
  if (s.mss) {
    t[20] = 2;
    t[21] = 4;
    v.setUint16(22, s.mss);
  }
  t.set(s.data, hl);
  v.setUint16(16, internetChecksum(t, 0, t.length, pseudoSum(s.src, s.dst, 6, t.length)));
  return ipv4(s.src, s.dst, 6, t);
}

export function parseTcp(p: Uint8Array): TcpSegment | null {
  const ip = parseIpv4(p);
  if (!ip || ip.proto !== 6 || ip.payload.length < 20) return null;
  const t = ip.payload;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const hl = (t[12]! >> 4) * 4;
  return {
    src: ip.src,
    dst: ip.dst,
    sport: v.getUint16(0),
    dport: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    flags: t[13]!,
    window: v.getUint16(14),
    data: t.subarray(hl),
  };
}

/** Records of a classic pcap (LINKTYPE_PPP_WITH_DIR) buffer: direction, protocol, information. */
export function parsePppPcap(bytes: Uint8Array): { dir: "in" | "out"; protocol: number; info: Uint8Array }[] {
  const out: { dir: "in" | "out"; protocol: number; info: Uint8Array }[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 24;
  while (o + 16 <= bytes.length) {
    const incl = v.getUint32(o + 8, true);
    const d = bytes.subarray(o + 16, o + 16 + incl);
    out.push({ dir: d[0] === 1 ? "out" : "in", protocol: (d[3]! << 8) | d[4]!, info: d.subarray(5) });
    o += 16 + incl;
  }
  return out;
}

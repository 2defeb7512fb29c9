/**
 * IP packet helpers: framing a byte stream of whole packets, the Internet
 * checksum, and IPv4 address text <-> bytes. Codecs never throw on peer bytes:
 * they return null / a count of malformed input instead.
 */
import type { IpVersion } from "../core/ip-link.ts";

export const IPV4_HEADER_MIN = 20;
export const IPV6_HEADER = 40;

/** Version nibble of an IP packet: 4, 6, or null if neither (or empty). */
export function ipVersion(packet: Uint8Array): IpVersion | null {
  if (packet.byteLength < 1) return null;
  const v = packet[0]! >> 4;
  return v === 4 ? 4 : v === 6 ? 6 : null;
}

/**
 * Total length claimed by the IP header at `buf[off]`:
 * IPv4 total length (RFC 791 §3.1), IPv6 payload length + 40 (RFC 8200 §3).
 * Returns null when the header is incomplete (need more bytes) and -1 when it is garbage.
 */
export function ipPacketLength(buf: Uint8Array, off: number): number | null | -1 {
  const avail = buf.byteLength - off;
  if (avail < 1) return null;
  const v = buf[off]! >> 4;
  if (v === 4) {
    if (avail < 4) return null;
    const ihl = (buf[off]! & 0x0f) * 4;
    const total = (buf[off + 2]! << 8) | buf[off + 3]!;
    if (ihl < IPV4_HEADER_MIN || total < ihl) return -1;
    return total;
  }
  if (v === 6) {
    if (avail < 6) return null;
    return IPV6_HEADER + ((buf[off + 4]! << 8) | buf[off + 5]!);
  }
  return -1;
}

export interface SplitResult {
  packets: Uint8Array[];
  /** Bytes that could not be framed (garbage version nibble or a bad length). */
  malformed: number;
}

/**
 * Split one read chunk from a TUN fd into packets. Bun's file stream merges
 * several packets into one chunk (bun-facts §4), so we walk the chunk by the IP
 * header's own length. A TUN read never splits a packet, so a trailing partial
 * packet is malformed, not "wait for more". On garbage the rest of the chunk is
 * dropped: without a valid length there is no next packet boundary.
 */
export function splitPackets(chunk: Uint8Array): SplitResult {
  const packets: Uint8Array[] = [];
  let off = 0;
  while (off < chunk.byteLength) {
    const len = ipPacketLength(chunk, off);
    if (len === null || len === -1 || off + len > chunk.byteLength) {
      return { packets, malformed: chunk.byteLength - off };
    }
    packets.push(chunk.subarray(off, off + len));
    off += len;
  }
  return { packets, malformed: 0 };
}

/** RFC 1071 Internet checksum over `data[start, end)`, folded and complemented. */
export function internetChecksum(data: Uint8Array, start = 0, end = data.byteLength, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (i < end) sum += data[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export { parseIpv4, formatIpv4 } from "../core/ipv4.ts";

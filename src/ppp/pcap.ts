/**
 * pcap recording of PPP frames (`ppp.pcap = path`), for Wireshark/tshark.
 *
 * Classic libpcap format (not pcapng): a 24-octet global header, then one
 * 16-octet record header + data per frame. Link type 204, LINKTYPE_PPP_WITH_DIR:
 * one direction octet (0 = received by this host, 1 = sent by it), then the
 * PPP frame in HDLC-like framing without flags, escapes or FCS:
 * address 0xff, control 0x03, a two-octet protocol, information.
 * (https://www.tcpdump.org/linktypes.html)
 *
 * The core builds bytes; PcapFile is the small adapter that writes them.
 * Secrets: a PAP Authenticate-Request carries the password in clear text, so
 * it is overwritten with '*' (same length, so the packet still dissects).
 */
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import type { Direction } from "./types.ts";
import { PROTO } from "./types.ts";

export const LINKTYPE_PPP_WITH_DIR = 204;
export const PCAP_MAGIC = 0xa1b2c3d4;
export const PCAP_SNAPLEN = 65535;

/** The 24-octet global header (little-endian, microsecond timestamps, version 2.4). */
export function pcapGlobalHeader(linktype = LINKTYPE_PPP_WITH_DIR, snaplen = PCAP_SNAPLEN): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, PCAP_MAGIC, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone: timestamps are UTC
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, snaplen, true);
  v.setUint32(20, linktype, true);
  return h;
}

/**
 * A copy of a PAP packet with the Authenticate-Request password replaced by
 * '*' (RFC 1334 §2.2.1: code, id, length, peer-id length, peer-id, passwd
 * length, passwd). Other PAP packets are returned unchanged.
 */
export function redactPap(info: Uint8Array): Uint8Array {
  if (info.length < 6 || info[0] !== 1) return info;
  const out = info.slice();
  const idLen = out[4]!;
  const pwLenAt = 5 + idLen;
  if (pwLenAt >= out.length) return out;
  const pwLen = out[pwLenAt]!;
  const end = Math.min(out.length, pwLenAt + 1 + pwLen);
  out.fill(0x2a, pwLenAt + 1, end);
  return out;
}

/**
 * An LCP Protocol-Reject quotes the rejected packet (RFC 1661 §5.7: code 8,
 * id, length, rejected protocol, rejected information): a rejected PAP
 * Authenticate-Request would carry our password back into the capture.
 */
export function redactProtocolReject(info: Uint8Array): Uint8Array {
  if (info.length < 6 || info[0] !== 8 || ((info[4]! << 8) | info[5]!) !== PROTO.PAP) return info;
  const quoted = info.subarray(6);
  const inner = redactPap(quoted);
  if (inner === quoted) return info;
  const out = info.slice();
  out.set(inner, 6);
  return out;
}

/** One record: record header + direction octet + ff 03 + protocol + info. */
export function pcapRecord(dir: Direction, protocol: number, info: Uint8Array, atMs: number, snaplen = PCAP_SNAPLEN): Uint8Array {
  const body = protocol === PROTO.PAP ? redactPap(info) : protocol === PROTO.LCP ? redactProtocolReject(info) : info;
  const origLen = 1 + 4 + body.length;
  const inclLen = Math.min(origLen, snaplen);
  const rec = new Uint8Array(16 + inclLen);
  const v = new DataView(rec.buffer);
  const ms = Math.max(0, Math.floor(atMs));
  v.setUint32(0, Math.floor(ms / 1000), true);
  v.setUint32(4, (ms % 1000) * 1000, true);
  v.setUint32(8, inclLen, true);
  v.setUint32(12, origLen, true);
  const head = [dir === "in" ? 0 : 1, 0xff, 0x03, (protocol >>> 8) & 0xff, protocol & 0xff];
  for (let i = 0; i < head.length && i < inclLen; i++) rec[16 + i] = head[i]!;
  if (inclLen > 5) rec.set(body.subarray(0, inclLen - 5), 16 + 5);
  return rec;
}

/** Where records go. */
export interface PcapSink {
  record(dir: Direction, protocol: number, info: Uint8Array, atMs: number): void;
  close(): void;
}

/** In-memory pcap (tests, the status endpoint could offer a download). */
export class PcapBuffer implements PcapSink {
  private chunks: Uint8Array[] = [pcapGlobalHeader()];
  records = 0;
  record(dir: Direction, protocol: number, info: Uint8Array, atMs: number): void {
    this.chunks.push(pcapRecord(dir, protocol, info, atMs));
    this.records++;
  }
  close(): void {}
  bytes(): Uint8Array {
    const n = this.chunks.reduce((s, c) => s + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/**
 * Appends records to a file, writing the global header when the file is new
 * or empty. Writes are synchronous and small (one record per frame), so the
 * file is complete up to the last frame if the agent is killed. A write error
 * disables recording (counted in `errors`) rather than disturbing the link.
 */
export class PcapFile implements PcapSink {
  private fd: number | null;
  records = 0;
  errors = 0;
  constructor(readonly path: string) {
    this.fd = openSync(path, "a", 0o600);
    if (fstatSync(this.fd).size === 0) this.write(pcapGlobalHeader());
  }
  record(dir: Direction, protocol: number, info: Uint8Array, atMs: number): void {
    if (this.fd === null) return;
    this.write(pcapRecord(dir, protocol, info, atMs));
    this.records++;
  }
  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone; nothing to keep
    }
    this.fd = null;
  }
  private write(data: Uint8Array): void {
    if (this.fd === null) return;
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    } catch {
      this.errors++;
      this.close();
    }
  }
}

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
 * Secrets: a pcap is a diagnostic file people attach to tickets. A PAP
 * Authenticate-Request carries the password in clear text, and a CHAP-MD5
 * Response value next to its Challenge lets anyone test password guesses
 * offline; both are overwritten with '*' (same length, so the packet still
 * dissects and the lengths still tell what happened), also when an LCP
 * Protocol-Reject quotes them back.
 * Payload: with `payload: false` (ppp.pcap_payload = false) only the control
 * protocols are recorded (RFC 1661 §2: protocol 0x8000 and up: LCP, PAP,
 * CHAP, IPCP, IPV6CP, CCP...), no IPv4/IPv6 datagram; a Protocol-Reject that
 * quotes one keeps its length with the quoted packet zeroed.
 */
import { CaptureFile } from "../sys/capture-file.ts";
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
 * A copy of a CHAP packet with the Response value replaced by '*' (RFC 1994
 * §4.1: code 2, id, length, value-size, value, name). The Challenge, the name
 * and Success/Failure are kept.
 */
export function redactChap(info: Uint8Array): Uint8Array {
  if (info.length < 5 || info[0] !== 2) return info;
  const out = info.slice();
  out.fill(0x2a, 5, Math.min(out.length, 5 + out[4]!));
  return out;
}

/** RFC 1661 §2: 0x8000 and up are control protocols (NCPs 8xxx-bxxx, link control cxxx-fxxx); below are datagrams. */
export function isControlProtocol(protocol: number): boolean {
  return protocol >= 0x8000;
}

/**
 * An LCP Protocol-Reject quotes the rejected packet (RFC 1661 §5.7: code 8,
 * id, length, rejected protocol, rejected information): a rejected PAP
 * Authenticate-Request or CHAP Response would carry our secret back into the
 * capture, so the quoted packet is masked like the original. With
 * `payload: false` a quoted datagram is zeroed (length kept).
 */
export function redactProtocolReject(info: Uint8Array, payload = true): Uint8Array {
  if (info.length < 6 || info[0] !== 8) return info;
  const rejected = (info[4]! << 8) | info[5]!;
  const quoted = info.subarray(6);
  let inner = quoted;
  if (rejected === PROTO.PAP) inner = redactPap(quoted);
  else if (rejected === PROTO.CHAP) inner = redactChap(quoted);
  else if (!payload && !isControlProtocol(rejected)) inner = new Uint8Array(quoted.length);
  if (inner === quoted) return info;
  const out = info.slice();
  out.set(inner, 6);
  return out;
}

/** The information field as it goes into the capture (secrets masked; see the file comment). */
function recordedInfo(protocol: number, info: Uint8Array, payload: boolean): Uint8Array {
  if (protocol === PROTO.PAP) return redactPap(info);
  if (protocol === PROTO.CHAP) return redactChap(info);
  if (protocol === PROTO.LCP) return redactProtocolReject(info, payload);
  return info;
}

export interface PcapOptions {
  /** Record IPv4/IPv6 datagrams too (ppp.pcap_payload); false: control protocols only. Default true. */
  payload?: boolean;
}

/** One record: record header + direction octet + ff 03 + protocol + info. */
export function pcapRecord(dir: Direction, protocol: number, info: Uint8Array, atMs: number, snaplen = PCAP_SNAPLEN, opts: PcapOptions = {}): Uint8Array {
  const body = recordedInfo(protocol, info, opts.payload !== false);
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
  /** Datagrams left out (payload: false). */
  skipped = 0;
  constructor(private readonly opts: PcapOptions = {}) {}
  record(dir: Direction, protocol: number, info: Uint8Array, atMs: number): void {
    if (this.opts.payload === false && !isControlProtocol(protocol)) {
      this.skipped++;
      return;
    }
    this.chunks.push(pcapRecord(dir, protocol, info, atMs, PCAP_SNAPLEN, this.opts));
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
 *
 * The file is opened by src/sys/capture-file.ts (O_NOFOLLOW, regular files
 * only, mode 0600 every time: it holds addresses, user names and, with
 * payload, traffic). The constructor
 * throws an Error with a message for a person; PppLink turns it into a
 * `ppp.link.pcap-error` event and runs without recording.
 */
export class PcapFile implements PcapSink {
  private readonly file: CaptureFile;
  records = 0;
  /** Datagrams left out (payload: false). */
  skipped = 0;
  constructor(
    readonly path: string,
    private readonly opts: PcapOptions = {},
  ) {
    this.file = new CaptureFile(path, pcapGlobalHeader(), "ppp.pcap");
  }
  /** Writes that failed (recording stops after the first). */
  get errors(): number {
    return this.file.errors;
  }
  record(dir: Direction, protocol: number, info: Uint8Array, atMs: number): void {
    if (!this.file.isOpen) return;
    if (this.opts.payload === false && !isControlProtocol(protocol)) {
      this.skipped++;
      return;
    }
    this.file.append(pcapRecord(dir, protocol, info, atMs, PCAP_SNAPLEN, this.opts));
    this.records++;
  }
  close(): void {
    this.file.close();
  }
}

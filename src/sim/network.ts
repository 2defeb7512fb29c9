/**
 * The tiny network behind the virtual modem's PPP server: it answers ICMP
 * echo for a set of reachable addresses and DNS A queries (UDP port 53) for
 * one probe name, and builds the unasked datagrams a scenario sends the
 * client (nocarrier-payload). Pure: packet in, reply packets out; bad packets
 * are counted and dropped, never thrown.
 *
 * IPv4 header: RFC 791 §3.1; ICMP echo: RFC 792; UDP: RFC 768; DNS message
 * format: RFC 1035 §4.1.
 */
import { formatIpv4, internetChecksum, parseIpv4 } from "../net/packet.ts";
import { CellkeepError } from "../core/cause.ts";
import type { SimBehaviour } from "./scenario.ts";

const PROTO_ICMP = 1;
const PROTO_UDP = 17;
const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const DNS_PORT = 53;
/** nocarrier-payload: a documentation address (RFC 5737 TEST-NET-2) sends to the discard port. */
const NOISE_SOURCE = [198, 51, 100, 7];
const NOISE_SOURCE_PORT = 40_000;
const DISCARD_PORT = 9;
const NO_CARRIER_TEXT = new TextEncoder().encode("\r\nNO CARRIER\r\n");

export interface SimNetworkCounters {
  packetsIn: number;
  echoReplies: number;
  dnsAnswers: number;
  /** Malformed, not for us, or to unreachable addresses. */
  dropped: number;
  /** nocarrier-payload datagrams sent to the client. */
  noCarrierPayloads: number;
}


export class SimNetwork {
  readonly counters: SimNetworkCounters = { packetsIn: 0, echoReplies: 0, dnsAnswers: 0, dropped: 0, noCarrierPayloads: 0 };
  private readonly reachable: Set<string>;
  private readonly dnsServers: Set<string>;
  private readonly probeName: string;
  private readonly probeAddress: number[];
  private ident = 1;

  constructor(b: Pick<SimBehaviour, "reachable" | "peerAddress" | "dns" | "probeName" | "probeAddress">) {
    this.dnsServers = new Set(b.dns);
    // The DNS servers and the PPP peer answer ping too, like a real gateway.
    this.reachable = new Set([...b.reachable, b.peerAddress, ...b.dns]);
    this.probeName = b.probeName.toLowerCase().replace(/\.$/, "");
    const probe = parseIpv4(b.probeAddress);
    if (!probe) throw new CellkeepError("config-invalid", `virtual modem: probe address "${b.probeAddress}" is not an IPv4 address`);
    this.probeAddress = [...probe];
  }

  /** Add or remove an address at run time (a test makes 8.8.8.8 unreachable). */
  setReachable(address: string, on: boolean): void {
    if (on) this.reachable.add(address);
    else this.reachable.delete(address);
  }

  isReachable(address: string): boolean {
    return this.reachable.has(address);
  }

  /** One IPv4 packet from the client; returns the packets to send back. */
  handle(p: Uint8Array): Uint8Array[] {
    this.counters.packetsIn++;
    if (p.length < 20 || p[0]! >> 4 !== 4) return this.drop();
    const ihl = (p[0]! & 0x0f) * 4;
    const total = (p[2]! << 8) | p[3]!;
    if (ihl < 20 || total < ihl || total > p.length) return this.drop();
    if (internetChecksum(p, 0, ihl) !== 0) return this.drop();
    // Fragments are not worth reassembling here.
    if ((p[6]! & 0x3f) !== 0 || p[7] !== 0) return this.drop();
    const dst = formatIpv4(p, 16);
    const body = p.subarray(ihl, total);
    if (p[9] === PROTO_ICMP) return this.icmp(p, body, dst);
    if (p[9] === PROTO_UDP) return this.udp(p, body, dst);
    return this.drop();
  }

  /**
   * nocarrier-payload: a UDP datagram to `dst` (the client's address) whose
   * payload is "\r\nNO CARRIER\r\n" repeated to `bytes` bytes. Counted.
   */
  noCarrierDatagram(dst: string, bytes: number): Uint8Array | null {
    const to = parseIpv4(dst);
    if (!to) return null;
    const payload = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) payload[i] = NO_CARRIER_TEXT[i % NO_CARRIER_TEXT.length]!;
    const src = Uint8Array.from(NOISE_SOURCE);
    const dstBytes = Uint8Array.from(to);
    this.counters.noCarrierPayloads++;
    return this.ipv4(src, dstBytes, PROTO_UDP, udpSegment(src, dstBytes, NOISE_SOURCE_PORT, DISCARD_PORT, payload));
  }

  private drop(): Uint8Array[] {
    this.counters.dropped++;
    return [];
  }

  private icmp(ip: Uint8Array, icmp: Uint8Array, dst: string): Uint8Array[] {
    if (!this.reachable.has(dst)) return this.drop();
    if (icmp.length < 8 || icmp[0] !== ICMP_ECHO_REQUEST || internetChecksum(icmp) !== 0) return this.drop();
    const reply = icmp.slice();
    reply[0] = ICMP_ECHO_REPLY;
    reply[2] = reply[3] = 0;
    const c = internetChecksum(reply);
    reply[2] = c >> 8;
    reply[3] = c & 0xff;
    this.counters.echoReplies++;
    return [this.ipv4(ip.subarray(16, 20), ip.subarray(12, 16), PROTO_ICMP, reply)];
  }

  private udp(ip: Uint8Array, udp: Uint8Array, dst: string): Uint8Array[] {
    if (udp.length < 8) return this.drop();
    const srcPort = (udp[0]! << 8) | udp[1]!;
    const dstPort = (udp[2]! << 8) | udp[3]!;
    if (dstPort !== DNS_PORT || !this.dnsServers.has(dst)) return this.drop();
    const answer = this.dns(udp.subarray(8));
    if (!answer) return this.drop();
    const out = udpSegment(ip.subarray(16, 20), ip.subarray(12, 16), DNS_PORT, srcPort, answer);
    this.counters.dnsAnswers++;
    return [this.ipv4(ip.subarray(16, 20), ip.subarray(12, 16), PROTO_UDP, out)];
  }

  /** Answer one standard query: A for the probe name, NXDOMAIN for anything else. */
  private dns(q: Uint8Array): Uint8Array | null {
    if (q.length < 12) return null;
    const flags = (q[2]! << 8) | q[3]!;
    const qdcount = (q[4]! << 8) | q[5]!;
    if (flags & 0x8000 || ((flags >> 11) & 0xf) !== 0 || qdcount !== 1) return null;
    // QNAME labels (no compression in a question).
    let at = 12;
    const labels: string[] = [];
    for (;;) {
      if (at >= q.length) return null;
      const len = q[at]!;
      if (len === 0) break;
      if (len > 63 || at + 1 + len > q.length) return null;
      labels.push(new TextDecoder().decode(q.subarray(at + 1, at + 1 + len)));
      at += 1 + len;
    }
    const qEnd = at + 5;
    if (qEnd > q.length) return null;
    const qtype = (q[at + 1]! << 8) | q[at + 2]!;
    const qclass = (q[at + 3]! << 8) | q[at + 4]!;
    const name = labels.join(".").toLowerCase();
    const hit = name === this.probeName && qclass === 1;
    const withAnswer = hit && qtype === 1;
    const question = q.subarray(12, qEnd);
    const out = new Uint8Array(12 + question.length + (withAnswer ? 16 : 0));
    out[0] = q[0]!;
    out[1] = q[1]!;
    // QR=1, opcode 0, AA=1, RD copied, RA=1; RCODE 3 (NXDOMAIN) for unknown names.
    out[2] = 0x84 | (q[2]! & 0x01);
    out[3] = 0x80 | (hit ? 0 : 3);
    out[5] = 1;
    out[7] = withAnswer ? 1 : 0;
    out.set(question, 12);
    if (withAnswer) {
      const a = 12 + question.length;
      out.set([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...this.probeAddress], a);
    }
    return out;
  }

  private ipv4(src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array): Uint8Array {
    const p = new Uint8Array(20 + payload.length);
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    const id = this.ident++ & 0xffff;
    p[4] = id >> 8;
    p[5] = id & 0xff;
    p[8] = 64;
    p[9] = proto;
    p.set(src, 12);
    p.set(dst, 16);
    const c = internetChecksum(p, 0, 20);
    p[10] = c >> 8;
    p[11] = c & 0xff;
    p.set(payload, 20);
    return p;
  }
}

/** A UDP header and payload with its checksum over the pseudo-header (RFC 768). */
function udpSegment(src: Uint8Array, dst: Uint8Array, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  out[0] = srcPort >> 8;
  out[1] = srcPort & 0xff;
  out[2] = dstPort >> 8;
  out[3] = dstPort & 0xff;
  out[4] = out.length >> 8;
  out[5] = out.length & 0xff;
  out.set(payload, 8);
  const pseudo = new Uint8Array(12);
  pseudo.set(src, 0);
  pseudo.set(dst, 4);
  pseudo[9] = PROTO_UDP;
  pseudo[10] = out.length >> 8;
  pseudo[11] = out.length & 0xff;
  const sum = internetChecksum(out, 0, out.length, sumOf(pseudo));
  const c = sum === 0 ? 0xffff : sum;
  out[6] = c >> 8;
  out[7] = c & 0xff;
  return out;
}

/** Ones'-complement running sum of `b` (not inverted), to seed a checksum. */
function sumOf(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

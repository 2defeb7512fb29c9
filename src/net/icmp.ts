/**
 * ICMP echo over the PPP link itself (RFC 792), and the pinger core that the
 * health probe builds on. The agent writes the request straight onto the link
 * (IpLink.sendIp) from its IPCP address and takes the replies off the link
 * before they reach TUN: no raw socket, no root, works in link.mode "none",
 * and measures the radio path only.
 *
 * The pinger is a protocol core: no I/O, no clock. `now` comes in; results and
 * `nextDeadline()` go out.
 */
import { formatIpv4, internetChecksum, parseIpv4 } from "./packet.ts";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
const PROTO_ICMP = 1;

export interface EchoRequestRepr {
  source: Uint8Array;
  destination: Uint8Array;
  identifier: number;
  sequence: number;
  payload: Uint8Array;
  ttl?: number;
  /** IPv4 identification field. */
  ipId?: number;
}

/** Build an IPv4 packet carrying an ICMP echo request (RFC 791 header, RFC 792 echo). */
export function buildEchoRequest(r: EchoRequestRepr): Uint8Array {
  return buildEcho(ICMP_ECHO_REQUEST, r);
}

/** Same with type 0: used by tests and by anything that answers pings. */
export function buildEchoReply(r: EchoRequestRepr): Uint8Array {
  return buildEcho(ICMP_ECHO_REPLY, r);
}

function buildEcho(type: number, r: EchoRequestRepr): Uint8Array {
  const total = 20 + 8 + r.payload.byteLength;
  const p = new Uint8Array(total);
  p[0] = 0x45; // version 4, IHL 5
  p[2] = total >> 8;
  p[3] = total & 0xff;
  const id = r.ipId ?? 0;
  p[4] = (id >> 8) & 0xff;
  p[5] = id & 0xff;
  p[6] = 0x40; // DF: a health ping must not be fragmented
  p[8] = r.ttl ?? 64;
  p[9] = PROTO_ICMP;
  p.set(r.source, 12);
  p.set(r.destination, 16);
  const hc = internetChecksum(p, 0, 20);
  p[10] = hc >> 8;
  p[11] = hc & 0xff;
  p[20] = type;
  p[24] = (r.identifier >> 8) & 0xff;
  p[25] = r.identifier & 0xff;
  p[26] = (r.sequence >> 8) & 0xff;
  p[27] = r.sequence & 0xff;
  p.set(r.payload, 28);
  const ic = internetChecksum(p, 20, total);
  p[22] = ic >> 8;
  p[23] = ic & 0xff;
  return p;
}

export interface IcmpEchoRepr {
  type: number;
  code: number;
  source: string;
  destination: string;
  identifier: number;
  sequence: number;
  payload: Uint8Array;
}

export interface IcmpErrorRepr {
  type: number;
  code: number;
  /** Who sent the error (a router on the path). */
  reporter: string;
  /** The echo request the error quotes. */
  quoted: IcmpEchoRepr;
}

/** Parse an IPv4 ICMP echo request/reply. null for anything else or bad checksums. */
export function parseEcho(p: Uint8Array): IcmpEchoRepr | null {
  const ip = ipv4IcmpBody(p, true);
  if (!ip) return null;
  const { off, end } = ip;
  if (end - off < 8) return null;
  const type = p[off]!;
  if (type !== ICMP_ECHO_REPLY && type !== ICMP_ECHO_REQUEST) return null;
  if (internetChecksum(p, off, end) !== 0) return null;
  return echoAt(p, off, end);
}

/**
 * Parse an ICMP destination-unreachable / time-exceeded that quotes an echo
 * request (RFC 792: the original IP header + first 8 bytes of its data).
 */
export function parseEchoError(p: Uint8Array): IcmpErrorRepr | null {
  const ip = ipv4IcmpBody(p, true);
  if (!ip) return null;
  const { off, end } = ip;
  if (end - off < 8 + 20 + 8) return null;
  const type = p[off]!;
  if (type !== ICMP_DEST_UNREACHABLE && type !== ICMP_TIME_EXCEEDED) return null;
  if (internetChecksum(p, off, end) !== 0) return null;
  const inner = p.subarray(off + 8, end);
  const innerIp = ipv4IcmpBody(inner, false);
  if (!innerIp || innerIp.off + 8 > inner.byteLength) return null;
  if (inner[innerIp.off] !== ICMP_ECHO_REQUEST) return null;
  const quoted = echoAt(inner, innerIp.off, inner.byteLength);
  return { type, code: p[off + 1]!, reporter: formatIpv4(p, 12), quoted };
}

function echoAt(p: Uint8Array, off: number, end: number): IcmpEchoRepr {
  return {
    type: p[off]!,
    code: p[off + 1]!,
    source: formatIpv4(p, 12),
    destination: formatIpv4(p, 16),
    identifier: (p[off + 4]! << 8) | p[off + 5]!,
    sequence: (p[off + 6]! << 8) | p[off + 7]!,
    payload: p.subarray(off + 8, end),
  };
}

/** Offsets of the ICMP body of an unfragmented IPv4/ICMP packet, or null. `strict` checks the header checksum and total length. */
function ipv4IcmpBody(p: Uint8Array, strict: boolean): { off: number; end: number } | null {
  if (p.byteLength < 20 || p[0]! >> 4 !== 4) return null;
  const ihl = (p[0]! & 0x0f) * 4;
  if (ihl < 20 || p.byteLength < ihl) return null;
  if (p[9] !== PROTO_ICMP) return null;
  // Fragment offset or MF set: not a whole ICMP message.
  if (((p[6]! & 0x3f) << 8) | p[7]!) {
    if (strict) return null;
  }
  const total = (p[2]! << 8) | p[3]!;
  if (strict) {
    if (total < ihl || total > p.byteLength) return null;
    if (internetChecksum(p, 0, ihl) !== 0) return null;
    return { off: ihl, end: total };
  }
  return { off: ihl, end: p.byteLength };
}

// --- the pinger core ------------------------------------------------------------

export interface PingResult {
  target: string;
  sequence: number;
  ok: boolean;
  /** Round-trip time in ms when ok. */
  rttMs: number | null;
  sentAt: number;
  /** "timeout", "unreachable from 10.0.0.1 (code 1)", ... when not ok. */
  detail?: string;
}

export interface PingStats {
  target: string;
  sent: number;
  received: number;
  lost: number;
  /** Replies that came after their request had already timed out (taken off the link, not counted as received). */
  late: number;
  /** lost / (received + lost) over finished requests; null before any finished. */
  loss: number | null;
  lastRttMs: number | null;
  minRttMs: number | null;
  avgRttMs: number | null;
  maxRttMs: number | null;
}

export interface InLinkPingerOptions {
  /** ICMP identifier our requests carry (16 bit); replies with another identifier are not ours. */
  identifier: number;
  /** Our IPCP address; set later with setSource() once IPCP is up. */
  source?: string;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
  /** Bytes of payload after the 8-byte ICMP header. */
  payloadSize?: number;
}

interface Outstanding {
  target: string;
  sequence: number;
  sentAt: number;
  deadline: number;
}

/** Counters for things the pinger saw but could not use. */
export interface PingerCounters {
  unmatched: number;
  late: number;
  errors: number;
}

export class InLinkPinger {
  readonly identifier: number;
  private source: Uint8Array | null = null;
  private sourceText: string | null = null;
  private readonly timeoutMs: number;
  private readonly payloadSize: number;
  private nextSeq = 0;
  private ipId = 0;
  /** key: sequence number */
  private outstanding = new Map<number, Outstanding>();
  private stats = new Map<string, PingStats & { rttSum: number }>();
  /** Sequences that timed out recently (so a late reply is still recognised and taken off the link). */
  private expired = new Map<number, string>();
  readonly counters: PingerCounters = { unmatched: 0, late: 0, errors: 0 };

  constructor(opts: InLinkPingerOptions) {
    if (!Number.isInteger(opts.identifier) || opts.identifier < 0 || opts.identifier > 0xffff) {
      throw new RangeError("ICMP identifier must be 0..65535");
    }
    this.identifier = opts.identifier;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.payloadSize = opts.payloadSize ?? 32;
    if (opts.source) this.setSource(opts.source);
  }

  /** Our address from IPCP; null when the link is down (requests then cannot be built). */
  setSource(address: string | null): void {
    if (address === null) {
      this.source = null;
      this.sourceText = null;
      return;
    }
    const b = parseIpv4(address);
    if (!b) throw new RangeError(`not an IPv4 address: ${address}`);
    this.source = b;
    this.sourceText = address;
  }

  get sourceAddress(): string | null {
    return this.sourceText;
  }

  /**
   * Build an echo request to `target` and start its timeout. Returns the IPv4
   * packet to hand to IpLink.sendIp(4, ...), or null when we have no source
   * address yet (IPCP not up) or the target is not an IPv4 address.
   */
  request(target: string, now: number, timeoutMs = this.timeoutMs): Uint8Array | null {
    const dst = parseIpv4(target);
    if (!this.source || !dst) return null;
    const sequence = this.nextSeq;
    this.nextSeq = (this.nextSeq + 1) & 0xffff;
    // A wrapped sequence still outstanding (65536 requests in flight) is replaced.
    this.outstanding.delete(sequence);
    this.expired.delete(sequence);
    this.outstanding.set(sequence, { target, sequence, sentAt: now, deadline: now + timeoutMs });
    this.statsFor(target).sent++;
    const payload = new Uint8Array(this.payloadSize);
    for (let i = 0; i < payload.length; i++) payload[i] = 0x20 + (i % 64);
    this.ipId = (this.ipId + 1) & 0xffff;
    return buildEchoRequest({ source: this.source, destination: dst, identifier: this.identifier, sequence, payload, ipId: this.ipId });
  }

  /**
   * Offer every packet that arrives from the link. Returns the finished result
   * when it is a reply (or an ICMP error) for one of our requests, `"consumed"`
   * when it is ours but no longer awaited (late/duplicate), and null when it is
   * not ours and must go on to TUN.
   */
  handleReply(packet: Uint8Array, now: number): PingResult | "consumed" | null {
    const echo = parseEcho(packet);
    if (echo) {
      if (echo.type !== ICMP_ECHO_REPLY || echo.identifier !== this.identifier) return null;
      // In tun mode the host's own `ping` could use the same identifier; only
      // replies addressed to our source are ours.
      if (this.sourceText !== null && echo.destination !== this.sourceText) return null;
      const o = this.outstanding.get(echo.sequence);
      if (!o || o.target !== echo.source) return this.consumeStray(echo.sequence, echo.source);
      this.outstanding.delete(echo.sequence);
      const rtt = Math.max(0, now - o.sentAt);
      const s = this.statsFor(o.target);
      s.received++;
      s.lastRttMs = rtt;
      s.rttSum += rtt;
      s.minRttMs = s.minRttMs === null ? rtt : Math.min(s.minRttMs, rtt);
      s.maxRttMs = s.maxRttMs === null ? rtt : Math.max(s.maxRttMs, rtt);
      this.refreshLoss(s);
      return { target: o.target, sequence: o.sequence, ok: true, rttMs: rtt, sentAt: o.sentAt };
    }
    const err = parseEchoError(packet);
    if (err && err.quoted.identifier === this.identifier && (this.sourceText === null || err.quoted.source === this.sourceText)) {
      this.counters.errors++;
      const o = this.outstanding.get(err.quoted.sequence);
      if (!o || o.target !== err.quoted.destination) return this.consumeStray(err.quoted.sequence, err.quoted.destination);
      this.outstanding.delete(o.sequence);
      const s = this.statsFor(o.target);
      s.lost++;
      this.refreshLoss(s);
      const what = err.type === ICMP_DEST_UNREACHABLE ? "unreachable" : "ttl exceeded";
      return { target: o.target, sequence: o.sequence, ok: false, rttMs: null, sentAt: o.sentAt, detail: `${what} from ${err.reporter} (code ${err.code})` };
    }
    return null;
  }

  /** Expire requests whose deadline has passed; returns their (failed) results, oldest first. */
  poll(now: number): PingResult[] {
    const out: PingResult[] = [];
    for (const o of this.outstanding.values()) {
      if (o.deadline > now) continue;
      this.outstanding.delete(o.sequence);
      this.rememberExpired(o.sequence, o.target);
      const s = this.statsFor(o.target);
      s.lost++;
      this.refreshLoss(s);
      out.push({ target: o.target, sequence: o.sequence, ok: false, rttMs: null, sentAt: o.sentAt, detail: "timeout" });
    }
    return out.sort((a, b) => a.sentAt - b.sentAt || a.sequence - b.sequence);
  }

  /** Earliest pending timeout, or null when nothing is outstanding. */
  nextDeadline(): number | null {
    let best: number | null = null;
    for (const o of this.outstanding.values()) if (best === null || o.deadline < best) best = o.deadline;
    return best;
  }

  outstandingCount(): number {
    return this.outstanding.size;
  }

  /** Fail every outstanding request at once (the link went down). */
  abandonAll(detail = "link down"): PingResult[] {
    const out: PingResult[] = [];
    for (const o of this.outstanding.values()) {
      this.rememberExpired(o.sequence, o.target);
      const s = this.statsFor(o.target);
      s.lost++;
      this.refreshLoss(s);
      out.push({ target: o.target, sequence: o.sequence, ok: false, rttMs: null, sentAt: o.sentAt, detail });
    }
    this.outstanding.clear();
    return out;
  }

  /** Per-target counters as plain data. */
  statsOf(target: string): PingStats {
    const { rttSum: _sum, ...s } = this.statsFor(target);
    return { ...s };
  }

  allStats(): PingStats[] {
    return [...this.stats.keys()].map((t) => this.statsOf(t));
  }

  private consumeStray(sequence: number, from: string): "consumed" {
    const target = this.expired.get(sequence);
    if (target !== undefined && target === from) {
      this.expired.delete(sequence);
      this.counters.late++;
      this.statsFor(target).late++;
    } else {
      this.counters.unmatched++;
    }
    return "consumed";
  }

  private rememberExpired(sequence: number, target: string): void {
    this.expired.set(sequence, target);
    // Bounded memory: keep the 256 most recent.
    if (this.expired.size > 256) {
      const first = this.expired.keys().next();
      if (!first.done) this.expired.delete(first.value);
    }
  }

  private refreshLoss(s: PingStats & { rttSum: number }): void {
    const done = s.received + s.lost;
    s.loss = done === 0 ? null : s.lost / done;
    s.avgRttMs = s.received === 0 ? null : s.rttSum / s.received;
  }

  private statsFor(target: string): PingStats & { rttSum: number } {
    let s = this.stats.get(target);
    if (!s) {
      s = { target, sent: 0, received: 0, lost: 0, late: 0, loss: null, lastRttMs: null, minRttMs: null, avgRttMs: null, maxRttMs: null, rttSum: 0 };
      this.stats.set(target, s);
    }
    return s;
  }
}

/** A random 16-bit ICMP identifier for a new pinger. */
export function randomIdentifier(): number {
  return (Math.random() * 0x10000) & 0xffff;
}

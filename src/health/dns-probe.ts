/**
 * DNS and HTTP probes through the link (link.mode = "tun": they use the
 * kernel's sockets, so the link must be an interface).
 *
 * Binding: Bun offers no SO_BINDTODEVICE. The DNS probe binds its UDP socket
 * to our IPCP address instead: a query that the routing table sends out
 * another interface leaves with the cellular source address and its answer
 * cannot come back, so a success does mean the path through the link works.
 * The HTTP probe uses fetch(), which cannot bind at all: it follows the
 * routing table and proves the link only when the link carries the default
 * route (link.default_route = true, the default) or a route to the URL's host.
 *
 * The DNS codec is RFC 1035 §4.1: a 12-byte header, one question; any
 * well-formed answer with our ID proves the round trip (NXDOMAIN included).
 */
import { RealScheduler, type Scheduler } from "../core/clock.ts";
import type { Probe, ProbeOutcome } from "./probes.ts";

const realScheduler = new RealScheduler();

const TYPE_A = 1;
/** IPv4 + UDP headers around a DNS message on the link. */
const UDP_IP_OVERHEAD = 28;
const CLASS_IN = 1;

/** An RFC 1035 query for `name` (type A, recursion desired). */
export function buildDnsQuery(id: number, name: string): Uint8Array | null {
  const labels = name.replace(/\.$/, "").split(".");
  const parts: number[] = [];
  for (const l of labels) {
    const bytes = new TextEncoder().encode(l);
    if (bytes.length === 0 || bytes.length > 63) return null; // RFC 1035 §2.3.4
    parts.push(bytes.length, ...bytes);
  }
  parts.push(0);
  if (parts.length > 255) return null;
  const q = new Uint8Array(12 + parts.length + 4);
  const v = new DataView(q.buffer);
  v.setUint16(0, id & 0xffff);
  v.setUint16(2, 0x0100); // RD
  v.setUint16(4, 1); // QDCOUNT
  q.set(parts, 12);
  v.setUint16(12 + parts.length, TYPE_A);
  v.setUint16(14 + parts.length, CLASS_IN);
  return q;
}

export interface DnsAnswerSummary {
  id: number;
  rcode: number;
  answers: number;
}

const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];
export const rcodeName = (r: number) => RCODES[r] ?? `RCODE${r}`;

/** Header of a DNS response, or null when it is not one (never throws on garbage). */
export function parseDnsResponse(p: Uint8Array): DnsAnswerSummary | null {
  if (p.length < 12) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const flags = v.getUint16(2);
  if ((flags & 0x8000) === 0) return null; // QR = 0: a query, not a response
  return { id: v.getUint16(0), rcode: flags & 0x000f, answers: v.getUint16(6) };
}

export interface DnsProbeOptions {
  /** Name to resolve (health.dns_query). */
  name: string;
  /** DNS servers to ask (from IPCP, RFC 1877); the first that answers wins. */
  servers: () => readonly string[];
  /** Our address on the link (IPCP local) to bind to; null = not bound. */
  source: () => string | null;
  port?: number;
  /** Timer source for the timeout (tests pass a ManualScheduler). */
  scheduler?: Scheduler;
}

export class DnsProbe implements Probe {
  readonly kind = "dns" as const;
  readonly counts = true;
  constructor(private readonly o: DnsProbeOptions) {}
  get target(): string {
    return this.o.name;
  }

  async run(timeoutMs: number): Promise<ProbeOutcome | null> {
    const servers = this.o.servers();
    if (servers.length === 0) return { ok: false, rttMs: null, loss: null, detail: "no DNS server from IPCP" };
    const id = (Math.random() * 0x10000) & 0xffff;
    const query = buildDnsQuery(id, this.o.name);
    if (!query) return { ok: false, rttMs: null, loss: null, detail: `not a DNS name: ${this.o.name}` };
    const source = this.o.source();
    const sched = this.o.scheduler ?? realScheduler;
    // RTT on the injected clock, like every other probe: deterministic under ManualScheduler.
    const started = sched.now();
    let settle!: (o: ProbeOutcome) => void;
    const done = new Promise<ProbeOutcome>((r) => (settle = r));
    let sock: Bun.udp.Socket<"buffer"> | null = null;
    // Every query sent and every answer that came back cost link bytes, ours or not.
    let bytes = 0;
    const cancel = sched.setTimer(sched.now() + timeoutMs, () => settle({ ok: false, rttMs: null, loss: 1, bytes, detail: `no DNS answer within ${timeoutMs} ms` }));
    try {
      const opened: Bun.udp.Socket<"buffer"> = await Bun.udpSocket({
        ...(source ? { hostname: source } : {}),
        socket: {
          data: (_s, buf, _port, addr) => {
            bytes += UDP_IP_OVERHEAD + buf.length;
            const r = parseDnsResponse(buf);
            // Answers from elsewhere or with another ID are not ours (and are ignored, RFC 5452 §9.1).
            if (!r || r.id !== id || !servers.includes(addr)) return;
            settle({ ok: true, rttMs: sched.now() - started, loss: 0, bytes, detail: `${rcodeName(r.rcode)}, ${r.answers} answer(s) from ${addr}` });
          },
        },
      });
      sock = opened;
      for (const s of servers) if (opened.send(query, this.o.port ?? 53, s)) bytes += UDP_IP_OVERHEAD + query.length;
      return await done;
    } catch (err) {
      return { ok: false, rttMs: null, loss: null, detail: `DNS query failed: ${(err as Error)?.message ?? err}` };
    } finally {
      cancel();
      sock?.close();
    }
  }
}

export interface HttpProbeOptions {
  url: string;
  scheduler?: Scheduler;
}

/** The URL as shown in events, /status and logs: a password in it (https://user:pw@host/) as ***. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/** GET health.http_url; any 2xx or 3xx answer passes (a redirect still proves the path). */
export class HttpProbe implements Probe {
  readonly kind = "http" as const;
  readonly counts = true;
  constructor(private readonly o: HttpProbeOptions) {}
  get target(): string {
    return displayUrl(this.o.url);
  }
  async run(timeoutMs: number): Promise<ProbeOutcome> {
    const sched = this.o.scheduler ?? realScheduler;
    const started = sched.now();
    const abort = new AbortController();
    let timedOut = false;
    const cancel = sched.setTimer(sched.now() + timeoutMs, () => {
      timedOut = true;
      abort.abort();
    });
    try {
      const res = await fetch(this.o.url, { redirect: "manual", signal: abort.signal, headers: { "user-agent": "cellkeep-health" } });
      await res.body?.cancel();
      const rttMs = sched.now() - started;
      const ok = res.status >= 200 && res.status < 400;
      return { ok, rttMs, loss: null, detail: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as Error;
      const detail = timedOut ? `no HTTP answer within ${timeoutMs} ms` : `HTTP GET failed: ${e?.message ?? err}`;
      return { ok: false, rttMs: null, loss: null, detail };
    } finally {
      cancel();
    }
  }
}

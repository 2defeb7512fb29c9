/**
 * A data bearer: what carries IP over the modem's data-mode byte pipe once
 * the modem has answered CONNECT. PPP over the pipe is the first
 * (src/bearer/ppp.ts); a CMUX-carried PPP or a raw-IP bearer plugs in the
 * same way. The supervisor (modem/) creates one per call through
 * `CreateBearer` and learns up/down through its hooks; the data plane, the
 * health probes and the systemd watchdog use its IP link, counters and
 * keepalive. None of them knows which protocol runs underneath, so a new
 * bearer needs no edit in modem/ or net/.
 */
import type { Cause } from "./cause.ts";
import type { PacedIpLink } from "./ip-link.ts";
import type { BytePipe } from "./pipe.ts";

/** What the network gave us when the bearer came up. */
export interface BearerUpInfo {
  ipv4: { local: string; remote: string; dns: string[] } | null;
  ipv6: { local: string; remote: string } | null;
  /** Largest IP packet the peer takes, octets (PPP: the peer's MRU); the interface MTU. */
  mtu: number;
}

export interface BearerHooks {
  /** The bearer carries IP now. At most once per start. */
  up(info: BearerUpInfo): void;
  /**
   * The bearer ended (after `up` or instead of it), with the most precise
   * cause it knows (PPP: auth-rejected, peer-dead, carrier-lost...). At most once.
   */
  down(c: Cause | null): void;
}

/**
 * Totals since the bearer was created. These are the `/status` "ppp" counters
 * and the cellkeep_ppp_* metrics, whatever the bearer (the names are a contract).
 */
export interface BearerCounters {
  /** Octets read from / written to the byte pipe (framing included). */
  bytesIn: number;
  bytesOut: number;
  /** IP packets received / sent. */
  packetsIn: number;
  packetsOut: number;
  /**
   * Receive-side and refusal counters by kind, camelCase keys (PPP: the HDLC
   * decoder's badFcs, runts, oversize... and packetsRefused).
   */
  errors: Record<string, number>;
}

/**
 * The bearer's own keepalive (PPP: LCP Echo, RFC 1661 §5.8). It acts on
 * missed answers itself (down with peer-dead); others only read it.
 */
export interface KeepaliveStatus {
  /** A request every this often, ms, while the bearer is up. */
  intervalMs: number;
  /** This many unanswered in a row end the bearer. */
  failures: number;
  /** The keepalive runs (PPP: LCP is Opened). */
  open: boolean;
  /** Requests sent since the last answer (or any frame from the peer). */
  missed: number;
  /** Round trip of the last answered request, ms. */
  rttMs: number | null;
}

export interface DataBearer {
  /** What this bearer is ("ppp"...), for logs and diagnostics. */
  readonly kind: string;
  /** Begin on the pipe (PPP: LCP negotiation). Called once. */
  start(): void;
  /** Close gracefully (PPP: LCP Terminate-Request); resolves when done or given up. */
  stop(): Promise<void>;
  /** IP to and from the network, with the line's write backlog for pacing. Sends fail until `up`. */
  readonly ip: PacedIpLink;
  counters(): BearerCounters;
  /**
   * The keepalive now; null when this bearer has none: silence on an idle
   * link is then no sign of a dead one.
   */
  keepalive(): KeepaliveStatus | null;
}

/** Makes a bearer on the data-mode pipe of one call; `hooks` report its up and down. */
export type CreateBearer<B extends DataBearer = DataBearer> = (pipe: BytePipe, hooks: BearerHooks) => B;

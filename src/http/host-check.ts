/**
 * Host-header check against DNS rebinding (issue 18). Binding to loopback is
 * not enough: a web page opened in a browser on the gateway's LAN can point
 * its own name at 127.0.0.1 (or the gateway's address) and then read
 * /status and /events as "same origin". The browser still sends the page's
 * name in `Host`, so serving only the names this endpoint is really reached
 * by stops it: the listen address, the loopback names and http.allowed_hosts.
 *
 * Ports: a rebinding page controls the name, not which port a browser
 * reaches, so the name decides. Loopback names are served on any port (an
 * SSH tunnel may forward another local port); the listen address with its
 * own port; an allowed_hosts entry with a port only on that port.
 */
import { parseListen } from "../config/schema.ts";

/** A parsed Host header: `port` null when it carries none. */
export interface HostPort {
  /** Lower-case name, dotted IPv4, or bracketed canonical IPv6 ("[::1]"). */
  host: string;
  port: number | null;
}

/** A served Host: the name with any port, or with exactly `port` (null: a Host without a port). */
export interface HostRule {
  host: string;
  anyPort: boolean;
  port: number | null;
}

const LABEL = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
const HOST_PORT = new RegExp(`^(?:(\\[[0-9a-f:.]+\\])|(${LABEL}(?:\\.${LABEL})*))(?::(\\d{1,5}))?$`, "i");

/** Canonical IPv6 text ("[0:0::1]" → "[::1]"); null if the URL parser refuses it. */
function canonicalV6(bracketed: string): string | null {
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return null;
  }
}

/** "name[:port]", "a.b.c.d[:port]" or "[v6][:port]" → parts; anything else (lists, userinfo, paths, bare IPv6) → null. */
export function parseHostHeader(value: string): HostPort | null {
  const m = HOST_PORT.exec(value);
  if (!m) return null;
  let port: number | null = null;
  if (m[3] !== undefined) {
    port = Number(m[3]);
    if (port < 1 || port > 65535) return null;
  }
  const host = m[1] !== undefined ? canonicalV6(m[1]) : m[2]!.toLowerCase();
  return host ? { host, port } : null;
}

/** Loopback names a local client (curl, cellkeep status, a tunnelled browser) uses. */
const LOOPBACK_RULES: readonly HostRule[] = ["localhost", "127.0.0.1", "[::1]"].map((host) => ({ host, anyPort: true, port: null }));

/** Wildcard binds are not an address a client can name: LAN clients need http.allowed_hosts. */
const WILDCARDS = new Set(["0.0.0.0", "[::]"]);

/**
 * The Host values served for `listen` (http.listen; undefined: loopback only)
 * plus http.allowed_hosts. A unix socket has no address of its own: clients
 * on it (curl --unix-socket, cellkeep status) send "localhost", and a local
 * reverse proxy may forward a browser's Host, so the same rule applies.
 */
export function allowedHosts(listen: string | undefined, extra: readonly string[]): HostRule[] {
  const rules: HostRule[] = [...LOOPBACK_RULES];
  const where = listen === undefined ? null : listenHostPort(listen);
  if (where) {
    const host = parseHostHeader(where.host.includes(":") ? `[${where.host}]` : where.host)?.host;
    if (host) {
      // Port 0 (tests, benchmarks) is only known once bound: the name alone decides then.
      if (where.port === 0) rules.push({ host, anyPort: true, port: null });
      else rules.push({ host, anyPort: false, port: where.port }, { host, anyPort: false, port: null });
    }
  }
  for (const entry of extra) {
    const hp = parseHostHeader(entry);
    // The config schema refuses these first; this guards callers that build deps by hand.
    if (!hp) throw new Error(`http.allowed_hosts: "${entry}" is not a host name, address or host:port`);
    rules.push({ host: hp.host, anyPort: hp.port === null, port: hp.port });
  }
  return rules.filter((r) => !WILDCARDS.has(r.host));
}

/** Whether a request's Host header names this endpoint. Missing or malformed → false. */
export function hostAllowed(header: string | null | undefined, rules: readonly HostRule[]): boolean {
  if (!header) return false;
  const h = parseHostHeader(header);
  if (!h) return false;
  return rules.some((r) => r.host === h.host && (r.anyPort || r.port === h.port));
}

/** http.listen as host and port; port 0 is accepted (tests use it); null for a unix socket or garbage. */
function listenHostPort(listen: string): { host: string; port: number } | null {
  const parsed = parseListen(listen);
  if (parsed) return parsed.kind === "tcp" ? parsed : null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):0$/.exec(listen);
  return m ? { host: m[1] ?? m[2]!, port: 0 } : null;
}

function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  const v6 = h.includes(":") ? canonicalV6(`[${h}]`) : null;
  return v6 === "[::1]" || (v6 !== null && /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(v6));
}

/**
 * A warning when http.listen is reachable from the network (wildcard, LAN
 * address, or a name that may not be loopback); null for loopback and unix
 * sockets. The endpoint has no TLS and shows IMEI, ICCID, cell and addresses.
 */
export function listenExposureWarning(listen: string): string | null {
  const where = listenHostPort(listen);
  if (!where || isLoopbackHost(where.host)) return null;
  return (
    `http.listen = "${listen}" is not a loopback address: the status endpoint (modem identity, cell, addresses; no TLS) ` +
    `can be reached from the network. Prefer "127.0.0.1:8080", "[::1]:8080" or a unix socket (and an SSH tunnel); ` +
    `clients that reach it by another name or address need it in http.allowed_hosts`
  );
}

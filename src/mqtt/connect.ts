/**
 * Connection options for MQTT.js and the named cause of a failed connection,
 * shared by the publisher and `cellkeep fleet`. The URL is taken apart here
 * (MQTT.js would use the deprecated url.parse), TLS files are read at connect
 * time so a renewed certificate is used on the next connection.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { IClientOptions } from "mqtt";
import { cause, type Cause } from "../core/cause.ts";

/** Where the broker is and how to prove who we are: from the [mqtt] table (settings.ts). */
export interface BrokerAccess {
  broker: string;
  username: string | null;
  password: string | null;
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  keepaliveMs: number;
}

export interface BrokerLogin extends BrokerAccess {
  clientId: string;
  connectTimeoutMs?: number;
  will?: { topic: string; payload: string; qos: 0 | 1 | 2; retain: boolean };
}

export function clientOptions(login: BrokerLogin): IClientOptions {
  const url = new URL(login.broker);
  const tls = url.protocol === "mqtts:";
  const opts: IClientOptions = {
    protocol: tls ? "mqtts" : "mqtt",
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port !== "" ? Number(url.port) : tls ? 8883 : 1883,
    clientId: login.clientId,
    // 3.1.1: every broker in the field speaks it (Mosquitto, EMQX, HiveMQ, AWS IoT Core).
    protocolVersion: 4,
    clean: true,
    keepalive: Math.round(login.keepaliveMs / 1000),
    // Reconnects are ours: spaced with jitter, and the queue (not MQTT.js's memory) resends.
    reconnectPeriod: 0,
    connectTimeout: login.connectTimeoutMs ?? 30_000,
    queueQoSZero: false,
    resubscribe: false,
  };
  if (login.username !== null) opts.username = login.username;
  if (login.password !== null) opts.password = login.password;
  if (login.will) opts.will = { ...login.will };
  if (tls) {
    if (login.caFile) opts.ca = readFileSync(login.caFile);
    if (login.certFile) opts.cert = readFileSync(login.certFile);
    if (login.keyFile) opts.key = readFileSync(login.keyFile);
    opts.rejectUnauthorized = true;
    // SNI carries a host name only (RFC 6066 §3); an IP address is checked against the certificate's IP SAN.
    if (isIP(opts.host!) === 0) opts.servername = opts.host;
  }
  return opts;
}

const TLS_TEXT = /certificate|cert_|self[- ]signed|ssl|tls|handshake|alert|altname|verify/i;
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ECONNABORTED"]);

/** The named cause of a failed connection (never a bare error string). Messages never hold the password. */
export function connectionCause(err: unknown, broker: string): Cause {
  const e = err as { code?: unknown; message?: unknown };
  const code = e?.code;
  const message = typeof e?.message === "string" ? e.message : String(err);
  // CONNACK return codes (MQTT 3.1.1 §3.2.2.3) and their MQTT 5 reason codes.
  if (code === 4 || code === 5 || code === 134 || code === 135) return cause("mqtt-auth-rejected", `${broker}: ${message}`);
  if (typeof code === "number") return cause("mqtt-refused", `${broker}: ${message} (CONNACK ${code})`);
  if (typeof code === "string" && NETWORK_CODES.has(code) && !(code === "ECONNRESET" && broker.startsWith("mqtts:"))) {
    return cause("mqtt-unreachable", `${broker}: ${code}`);
  }
  if ((typeof code === "string" && TLS_TEXT.test(code)) || TLS_TEXT.test(message)) return cause("mqtt-tls-failed", `${broker}: ${typeof code === "string" ? `${code}: ` : ""}${message}`);
  if (broker.startsWith("mqtts:") && code === "ECONNRESET") return cause("mqtt-tls-failed", `${broker}: the broker closed the connection during the TLS handshake (client certificate rejected?)`);
  return cause("mqtt-unreachable", `${broker}: ${message}`);
}

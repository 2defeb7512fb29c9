/**
 * The data budget: telemetry bytes per day on the cellular link for given
 * settings and message sizes, counted as the link sees them: each MQTT packet
 * in its own TCP segment with IPv4 + TCP headers (20 + 20 + 12 bytes of
 * timestamp option), a TLS record's overhead with mqtts, and a bare ACK for
 * every data segment (delayed ACKs would save some: this errs high).
 */
export const IP_TCP_HEADER = 52;
/** TLS 1.2 AES-GCM record: 5 header + 8 explicit nonce + 16 tag (TLS 1.3 is 22). */
export const TLS_RECORD_OVERHEAD = 29;

export interface BudgetInput {
  tls: boolean;
  keepaliveMs: number;
  metricsIntervalMs: number;
  statusIntervalMs: number;
  /** Topic prefix length in bytes, e.g. "cellkeep/gw-0001/" = 17. */
  prefixBytes: number;
  statusBytes: number;
  metricsBytes: number;
  eventBytes: number;
  /** Events a day (a stable link: a handful; each state change also republishes the status). */
  eventsPerDay: number;
  statusChangesPerDay: number;
  /** Connections a day, each a TCP (and TLS) handshake, CONNECT/CONNACK and the presence. */
  connectsPerDay: number;
  /** Bytes of one connection set-up as measured (TCP payload both ways: TLS handshake, CONNECT, CONNACK, presence). */
  connectBytes: number;
}

export interface BudgetLine {
  what: string;
  perDay: number;
  bytesPerDay: number;
}

/** Remaining-length bytes of an MQTT fixed header (MQTT 3.1.1 §2.2.3). */
function remainingLengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** A PUBLISH packet's size: fixed header, topic, packet id (QoS > 0), payload. */
export function publishBytes(topicBytes: number, payloadBytes: number, qos: number): number {
  const rest = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  return 1 + remainingLengthBytes(rest) + rest;
}

/** One MQTT packet on the wire: its bytes, a TLS record around it, a segment's headers, and the peer's bare ACK. */
function onLink(packetBytes: number, tls: boolean): number {
  return packetBytes + (tls ? TLS_RECORD_OVERHEAD : 0) + IP_TCP_HEADER + IP_TCP_HEADER;
}

export function dailyBudget(b: BudgetInput): { lines: BudgetLine[]; total: number } {
  const day = 86_400_000;
  const puback = onLink(4, b.tls);
  const lines: BudgetLine[] = [];
  // MQTT.js sends PINGREQ when nothing was sent for a keep-alive; metrics more often than that would replace pings.
  const pings = b.metricsIntervalMs <= b.keepaliveMs ? 0 : day / b.keepaliveMs;
  lines.push({ what: "keep-alive (PINGREQ + PINGRESP)", perDay: pings, bytesPerDay: pings * 2 * onLink(2, b.tls) });
  const metrics = day / b.metricsIntervalMs;
  lines.push({ what: "metrics (QoS 0)", perDay: metrics, bytesPerDay: metrics * onLink(publishBytes(b.prefixBytes + 7, b.metricsBytes, 0), b.tls) });
  const status = day / b.statusIntervalMs + b.statusChangesPerDay;
  lines.push({ what: "status (retained, QoS 1 + PUBACK)", perDay: status, bytesPerDay: status * (onLink(publishBytes(b.prefixBytes + 6, b.statusBytes, 1), b.tls) + puback) });
  lines.push({ what: "events (QoS 1 + PUBACK)", perDay: b.eventsPerDay, bytesPerDay: b.eventsPerDay * (onLink(publishBytes(b.prefixBytes + 6, b.eventBytes, 1), b.tls) + puback) });
  lines.push({ what: "connections (handshakes, CONNECT, presence)", perDay: b.connectsPerDay, bytesPerDay: b.connectsPerDay * (b.connectBytes + 20 * IP_TCP_HEADER) });
  return { lines, total: lines.reduce((a, l) => a + l.bytesPerDay, 0) };
}

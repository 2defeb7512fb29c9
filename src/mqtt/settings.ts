/**
 * The [mqtt] table turned into what the publisher needs: the device's name
 * (from the host name or the modem's IMEI), the topic prefix, the queue file
 * in the state directory. Pure: the host name and IMEI come in.
 */
import { dirname, join } from "node:path";
import type { Config, MqttConfig } from "../config/schema.ts";
import type { BrokerAccess } from "./connect.ts";

export interface MqttSettings extends BrokerAccess {
  clientIdTemplate: string;
  prefixTemplate: string;
  metricsIntervalMs: number;
  statusIntervalMs: number;
  statusHoldoffMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  qos: 0 | 1 | 2;
  commands: boolean;
  queueMax: number;
  /** The store-and-forward file, beside the recovery state file (the state directory). */
  queuePath: string;
}

export const QUEUE_FILE = "mqtt-queue.jsonl";

export function mqttSettings(config: Pick<Config, "recovery"> & { mqtt?: MqttConfig | undefined }): MqttSettings | null {
  const m = config.mqtt;
  if (!m) return null;
  return {
    broker: m.broker,
    clientIdTemplate: m.client_id,
    prefixTemplate: m.topic_prefix,
    username: m.username ?? null,
    password: m.password,
    caFile: m.ca_file ?? null,
    certFile: m.cert_file ?? null,
    keyFile: m.key_file ?? null,
    keepaliveMs: m.keepalive,
    metricsIntervalMs: m.metrics_interval,
    statusIntervalMs: m.status_interval,
    statusHoldoffMs: m.status_holdoff,
    reconnectMinMs: m.reconnect_min,
    reconnectMaxMs: m.reconnect_max,
    qos: m.qos,
    commands: m.commands,
    queueMax: m.queue_max,
    queuePath: join(dirname(config.recovery.state_file), QUEUE_FILE),
  };
}

/** A host name as one topic level: anything but letters, digits and . _ - becomes "-". */
export function topicSafe(text: string): string {
  const s = text.trim().replace(/[^A-Za-z0-9._-]/g, "-");
  return s === "" ? "unnamed" : s.slice(0, 64);
}

export interface IdentityFacts {
  hostname: string;
  /** Null until the modem told its IMEI. */
  imei: string | null;
}

/** The client id (and device name), or null while it needs an IMEI the modem has not told yet. */
export function resolveClientId(template: string, facts: IdentityFacts): string | null {
  if (template.includes("{imei}") && facts.imei === null) return null;
  return template.replaceAll("{hostname}", topicSafe(facts.hostname)).replaceAll("{imei}", topicSafe(facts.imei ?? ""));
}

export function resolvePrefix(template: string, clientId: string, facts: IdentityFacts): string {
  return template
    .replaceAll("{client_id}", clientId)
    .replaceAll("{hostname}", topicSafe(facts.hostname))
    .replaceAll("{imei}", topicSafe(facts.imei ?? "unknown"));
}

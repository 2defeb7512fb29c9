/**
 * What goes on the wire, with no I/O: which events are telemetry, the payload
 * of each topic, and command parsing. Payloads are JSON with IMSI/ICCID masked
 * and registered secrets replaced (core/mask.ts `safeJson`), the same rules as
 * /status and /events.
 *
 * Topics under the prefix (default `cellkeep/<device-id>/`):
 *   status    retained; the /status document without its bring-up timeline
 *   events    QoS 1, store-and-forward; one agent-level event per message
 *   metrics   QoS 0, compact, every mqtt.metrics_interval; not queued
 *   presence  retained "online"/"offline"; "offline" is also the last will
 *   cmd/<c>   commands (only subscribed with mqtt.commands = true)
 *   reply     the answer to each command
 */
import { safeJson } from "../core/mask.ts";
import type { EventBase } from "../core/events.ts";

export const TOPIC = {
  status: "status",
  events: "events",
  metrics: "metrics",
  presence: "presence",
  reply: "reply",
  command: "cmd/",
} as const;

/**
 * The agent-level events worth a cellular byte. modem.signal and a healthy
 * health.probe repeat every poll: they travel in the metrics instead.
 */
const EVENT_TYPES = new Set([
  "modem.state",
  "modem.identity",
  "modem.registration",
  "modem.dial",
  "ppp.up",
  "ppp.down",
  "health.probe",
  "recovery.action",
  "recovery.state",
  "link.interface",
  "serial.opened",
  "serial.vanished",
  "serial.reopened",
  "agent.started",
  "agent.stopping",
  "agent.reloaded",
]);

/** Events that change what the retained status says: each schedules a status publish. */
const STATUS_TYPES = new Set(["modem.state", "modem.identity", "modem.registration", "ppp.up", "ppp.down", "recovery.state", "link.interface", "agent.started"]);

/**
 * Chooses the events to send. Stateful only to skip repeats: a registration
 * that says what the last one said, and probe results until one changes from
 * ok to failed or back.
 */
export class EventFilter {
  private lastRegistration: string | null = null;
  private lastProbeOk: boolean | null = null;

  /** True when the event goes to the `events` topic. */
  accept(event: EventBase): boolean {
    if (!EVENT_TYPES.has(event.type)) return false;
    const e = event as EventBase & Record<string, unknown>;
    if (event.type === "modem.registration") {
      const key = JSON.stringify([e.stat, e.act, e.operator, e.tac, e.cell]);
      if (key === this.lastRegistration) return false;
      this.lastRegistration = key;
    } else if (event.type === "health.probe") {
      const ok = e.ok === true;
      const changed = this.lastProbeOk === null ? !ok : ok !== this.lastProbeOk;
      this.lastProbeOk = ok;
      return changed;
    }
    return true;
  }
}

export function changesStatus(event: EventBase): boolean {
  return STATUS_TYPES.has(event.type);
}

/** The event as queued: its own JSON, masked; the queue id is added when it is sent. */
export function eventBody(event: EventBase): string {
  return safeJson(event);
}

/** `{"q":"<epoch>","seq":N,...event}`: the queue id first, so receivers can drop a repeat without parsing further. */
export function withQueueId(body: string, epoch: string, seq: number): string {
  const head = `{"q":${JSON.stringify(epoch)},"seq":${seq}`;
  return body === "{}" ? `${head}}` : `${head},${body.slice(1)}`;
}

/** The retained status: the /status document without the bring-up timeline (its steps cost more than the rest). */
export function statusBody(snapshot: object): string {
  const { timeline: _timeline, ...rest } = snapshot as Record<string, unknown>;
  return safeJson(rest);
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === "object" ? (v as Rec) : {});
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export interface QueueFigures {
  pending: number;
  dropped: number;
}

/**
 * The compact metrics line: short keys, nulls left out.
 *   t   ms since the epoch        s    link state           c   cause code
 *   rssi/rsrp/rsrq/sinr  dBm/dB   up   link uptime, s       rtt last probe RTT, ms
 *   rx/tx PPP bytes in/out        q    events queued        d   events dropped (queue bound)
 */
export function metricsBody(snapshot: object | null, queue: QueueFigures, now: number): string {
  const s = rec(snapshot);
  const signal = rec(s.signal);
  const ppp = rec(s.ppp);
  const health = rec(s.health);
  const out: Rec = { t: now, s: str(s.state), c: str(rec(s.cause).code) };
  for (const k of ["rssi", "rsrp", "rsrq", "sinr"]) out[k] = num(signal[k]);
  out.up = linkUptimeSeconds(s, now);
  out.rtt = num(health.rttMs);
  out.rx = num(ppp.bytesIn);
  out.tx = num(ppp.bytesOut);
  out.q = queue.pending;
  out.d = queue.dropped;
  for (const k of Object.keys(out)) if (out[k] === null) delete out[k];
  return JSON.stringify(out);
}

/** Seconds the link has been connected, from a /status document; null when it is not connected. */
export function linkUptimeSeconds(status: object, now: number): number | null {
  const s = rec(status);
  if (s.state !== "connected") return null;
  const since = str(s.since);
  const t = since === null ? NaN : Date.parse(since);
  return Number.isFinite(t) ? Math.max(0, Math.floor((now - t) / 1000)) : null;
}

export type CommandName = "redial" | "reset-modem" | "status";
const COMMANDS: readonly CommandName[] = ["redial", "reset-modem", "status"];

export interface Command {
  name: CommandName;
  /** The sender's id, echoed in the reply so it can match answers to requests. */
  id: string | null;
  force: boolean;
}

/**
 * `cmd/<name>` with an empty payload or `{"id":"…","force":true}`. Anything
 * else is an error with a message for the reply.
 */
export function parseCommand(name: string, payload: Uint8Array): { ok: true; command: Command } | { ok: false; id: string | null; message: string } {
  let id: string | null = null;
  let force = false;
  if (payload.length > 4096) return { ok: false, id, message: "command payload too large (limit 4096 bytes)" };
  const text = new TextDecoder().decode(payload).trim();
  if (text !== "") {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { ok: false, id, message: 'expected an empty payload or JSON such as {"id":"42","force":false}' };
    }
    const b = rec(body);
    if (typeof b.id === "string" || typeof b.id === "number") id = String(b.id).slice(0, 128);
    if (b.force !== undefined && typeof b.force !== "boolean") return { ok: false, id, message: "force must be true or false" };
    force = b.force === true;
  }
  if (!(COMMANDS as readonly string[]).includes(name)) return { ok: false, id, message: `unknown command "${name.slice(0, 64)}"; known: ${COMMANDS.join(", ")}` };
  return { ok: true, command: { name: name as CommandName, id, force } };
}

/** What an action answered: the shape of the HTTP actions' result (src/http/types.ts ActionResult). */
export interface ActionAnswer {
  outcome: string;
  message: string;
  nextActionAt?: number | null;
  cause?: { code: string; hint: string; detail?: string } | null;
}

export function replyBody(command: string, id: string | null, answer: ActionAnswer, now: number, extra?: Rec): string {
  return safeJson({
    id,
    command,
    outcome: answer.outcome,
    message: answer.message,
    nextActionAt: answer.nextActionAt ? new Date(answer.nextActionAt).toISOString() : null,
    cause: answer.cause ?? null,
    at: now,
    ...extra,
  });
}

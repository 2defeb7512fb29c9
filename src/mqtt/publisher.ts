/**
 * The MQTT view of the agent: pushes its status, events and metrics to a
 * broker and (with mqtt.commands = true) takes commands from it. It depends
 * only on the small interfaces below, so it sees neither the HTTP view nor the
 * supervisor: a status source (the /status document), the event stream, and
 * the operator actions (the same guarded actions as POST /actions/*).
 *
 * Events go through the on-disk queue (src/mqtt/queue.ts) before anything is
 * sent: while the broker is unreachable they wait there, and on every
 * (re)connection the queue is sent from its oldest record, in order, a window
 * at a time; each PUBACK marks records done. Status and metrics are the
 * latest picture only and are not queued.
 */
import mqtt, { type MqttClient } from "mqtt";
import { hostname as osHostname } from "node:os";
import type { Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import { clientOptions, connectionCause } from "./connect.ts";
import { EventQueue, type QueueStats } from "./queue.ts";
import { resolveClientId, resolvePrefix, type MqttSettings } from "./settings.ts";
import {
  changesStatus,
  eventBody,
  EventFilter,
  metricsBody,
  parseCommand,
  replyBody,
  statusBody,
  TOPIC,
  withQueueId,
  type ActionAnswer,
} from "./telemetry.ts";

/** The /status document now (the same JSON as GET /status), or null when there is none yet. */
export type StatusSource = () => object | null;

/** The agent's event stream (core/events.ts EventBus has this shape). */
export interface EventSource {
  on(fn: (event: EventBase) => void): () => void;
}

/** Operator actions with the HTTP actions' refusal rules (vendor backoff, network back-off). */
export interface MqttActions {
  redial(force: boolean): Promise<ActionAnswer>;
  resetModem(force: boolean): Promise<ActionAnswer>;
}

export interface PublisherDeps {
  settings: MqttSettings;
  scheduler: Scheduler;
  log: Logger;
  status: StatusSource;
  events: EventSource;
  /** Null: commands are answered "unavailable" even with mqtt.commands = true. */
  actions: MqttActions | null;
  /** Default: os.hostname(). */
  hostname?: string;
  /** For the reconnect jitter; default Math.random. */
  random?: () => number;
}

export interface PublisherStats {
  connected: boolean;
  /** Why the last connection attempt failed or the connection ended; null while connected. */
  cause: Cause | null;
  clientId: string | null;
  prefix: string | null;
  queue: QueueStats;
  sent: { events: number; status: number; metrics: number; replies: number };
  connects: number;
}

/** Records in flight at once: enough to drain a long outage quickly over a 1 s round trip, few enough to bound the resend after a drop. */
const WINDOW = 32;
/** Commands accepted per minute; more are answered "busy" (each may cost a status publish on a metered link). */
const COMMANDS_PER_MINUTE = 10;

export class MqttPublisher {
  private readonly s: MqttSettings;
  private readonly queue: EventQueue;
  private readonly filter = new EventFilter();
  private readonly hostname: string;
  private readonly random: () => number;
  private imei: string | null = null;
  private clientId: string | null = null;
  private prefix: string | null = null;
  private client: MqttClient | null = null;
  /** Incremented per connection: callbacks of an older connection are ignored. */
  private gen = 0;
  private connected = false;
  private lastCause: Cause | null = null;
  private failures = 0;
  private stopped = false;
  private started = false;
  private detach: (() => void) | null = null;
  private timers: { reconnect?: CancelTimer; status?: CancelTimer; refresh?: CancelTimer; metrics?: CancelTimer } = {};
  /** The highest seq handed to the client on this connection. */
  private sentThrough = 0;
  private inflight = 0;
  /** Acknowledged seqs above the queue's floor (PUBACKs arrive in order; kept for safety). */
  private ackedAhead = new Set<number>();
  private commandTimes: number[] = [];
  private counts = { events: 0, status: 0, metrics: 0, replies: 0 };
  private connects = 0;

  constructor(private readonly deps: PublisherDeps) {
    this.s = deps.settings;
    this.hostname = deps.hostname ?? osHostname();
    this.random = deps.random ?? Math.random;
    this.queue = new EventQueue({ path: this.s.queuePath, max: this.s.queueMax });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.detach = this.deps.events.on((e) => this.onEvent(e));
    this.resolveIdentity();
    this.scheduleMetrics();
    if (this.clientId !== null) this.connect();
    else this.deps.log.info("waiting for the modem's IMEI to name this gateway (mqtt.client_id uses {imei}); events are queued meanwhile");
  }

  stats(): PublisherStats {
    return {
      connected: this.connected,
      cause: this.lastCause,
      clientId: this.clientId,
      prefix: this.prefix,
      queue: this.queue.stats(),
      sent: { ...this.counts },
      connects: this.connects,
    };
  }

  /** Say "offline" (retained) if connected, close the connection and the queue file. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.detach?.();
    for (const cancel of Object.values(this.timers)) cancel?.();
    this.timers = {};
    const client = this.client;
    this.client = null;
    this.gen++;
    if (client) {
      if (this.connected && this.prefix !== null) {
        // A clean goodbye instead of the will: the fleet sees "offline" at once, not after 1.5 keep-alives.
        await withTimeout(client.publishAsync(this.prefix + TOPIC.presence, "offline", { qos: this.s.qos, retain: true }), 2000).catch(() => undefined);
        await withTimeout(client.endAsync(), 2000).catch(() => client.end(true));
      } else {
        client.end(true);
      }
    }
    this.connected = false;
    this.queue.close();
  }

  private onEvent(e: EventBase): void {
    if (this.stopped) return;
    if (e.type === "modem.identity" && this.imei === null) {
      const imei = (e as EventBase & { imei?: unknown }).imei;
      if (typeof imei === "string" && imei !== "") {
        this.imei = imei;
        if (this.clientId === null) {
          this.resolveIdentity();
          if (this.clientId !== null) this.connect();
        }
      }
    }
    if (this.filter.accept(e)) {
      this.queue.push(eventBody(e), e.at);
      this.drain();
    }
    if (changesStatus(e)) this.scheduleStatus();
  }

  private resolveIdentity(): void {
    const facts = { hostname: this.hostname, imei: this.imei };
    const id = resolveClientId(this.s.clientIdTemplate, facts);
    if (id === null) return;
    this.clientId = id;
    this.prefix = resolvePrefix(this.s.prefixTemplate, id, facts);
  }

  private connect(): void {
    if (this.stopped || this.clientId === null || this.prefix === null) return;
    const gen = ++this.gen;
    const prefix = this.prefix;
    let opts;
    try {
      opts = clientOptions({
        broker: this.s.broker,
        clientId: this.clientId,
        username: this.s.username,
        password: this.s.password,
        caFile: this.s.caFile,
        certFile: this.s.certFile,
        keyFile: this.s.keyFile,
        keepaliveMs: this.s.keepaliveMs,
        will: { topic: prefix + TOPIC.presence, payload: "offline", qos: this.s.qos, retain: true },
      });
    } catch (err) {
      // A TLS file that vanished since the config was checked: named, and retried like any failure.
      this.onFailure(gen, err);
      return;
    }
    const client = mqtt.connect(opts);
    this.client = client;
    client.on("connect", () => {
      if (gen !== this.gen) return;
      this.onConnected(client, prefix);
    });
    client.on("error", (err) => this.onFailure(gen, err));
    client.on("close", () => this.onFailure(gen, null));
    client.on("message", (topic, payload, packet) => {
      if (gen !== this.gen) return;
      void this.onMessage(client, prefix, topic, payload, packet.retain);
    });
  }

  private onConnected(client: MqttClient, prefix: string): void {
    this.connected = true;
    this.connects++;
    if (this.lastCause !== null || this.failures > 0) this.deps.log.info(`connected to ${this.s.broker} as ${this.clientId} (again, after ${this.lastCause?.code ?? "a drop"})`);
    else this.deps.log.info(`connected to ${this.s.broker} as ${this.clientId}; topics under ${prefix}`);
    this.lastCause = null;
    this.failures = 0;
    this.sentThrough = this.queue.stats().lastSeq - this.queue.stats().pending;
    this.inflight = 0;
    this.ackedAhead.clear();
    client.publish(prefix + TOPIC.presence, "online", { qos: this.s.qos, retain: true });
    if (this.s.commands) {
      client.subscribe(prefix + TOPIC.command + "+", { qos: 1 }, (err) => {
        if (err) this.deps.log.warn(`could not subscribe to commands (${prefix}${TOPIC.command}+): ${err.message}; check the broker's ACL`);
      });
    }
    this.publishStatus();
    this.drain();
  }

  private onFailure(gen: number, err: unknown): void {
    if (gen !== this.gen || this.stopped) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.gen++;
    const old = this.client;
    this.client = null;
    old?.removeAllListeners();
    old?.on("error", () => undefined);
    old?.end(true);
    const c = err === null ? connectionCause({ code: wasConnected ? "ECONNRESET" : "ECONNREFUSED", message: "connection closed" }, this.s.broker) : connectionCause(err, this.s.broker);
    // One line per change of cause, not one per retry (a broker down for a day would flood the log).
    if (this.lastCause?.code !== c.code || wasConnected) {
      this.deps.log.warn(`${wasConnected ? "connection lost" : "cannot connect"}: ${c.code} (${c.detail ?? ""}); hint: ${c.hint}`);
    }
    this.lastCause = c;
    const delay = Math.min(this.s.reconnectMaxMs, this.s.reconnectMinMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    // ±25 % jitter: a broker restart must not bring a whole fleet back in the same second.
    const wait = Math.round(delay * (0.75 + 0.5 * this.random()));
    this.timers.reconnect?.();
    this.timers.reconnect = this.deps.scheduler.setTimer(this.deps.scheduler.now() + wait, () => {
      this.timers.reconnect = undefined;
      this.connect();
    });
  }

  /** Send queued events after sentThrough, keeping at most WINDOW unacknowledged. */
  private drain(): void {
    const client = this.client;
    const prefix = this.prefix;
    if (!this.connected || client === null || prefix === null) return;
    const gen = this.gen;
    const { epoch } = this.queue.stats();
    const batch = this.queue.after(this.sentThrough, WINDOW - this.inflight);
    for (const rec of batch) {
      this.sentThrough = rec.seq;
      this.inflight++;
      client.publish(prefix + TOPIC.events, withQueueId(rec.body, epoch, rec.seq), { qos: this.s.qos }, (err) => {
        if (gen !== this.gen) return;
        if (err) {
          this.onFailure(gen, err);
          return;
        }
        this.inflight--;
        this.counts.events++;
        this.onAck(rec.seq);
        this.drain();
      });
    }
  }

  private onAck(seq: number): void {
    this.ackedAhead.add(seq);
    const first = this.queue.peek(1)[0];
    if (first === undefined) return;
    let through = first.seq - 1;
    while (this.ackedAhead.delete(through + 1)) through++;
    if (through >= first.seq) this.queue.ackThrough(through);
  }

  private scheduleStatus(): void {
    if (this.timers.status || this.stopped) return;
    this.timers.status = this.deps.scheduler.setTimer(this.deps.scheduler.now() + this.s.statusHoldoffMs, () => {
      this.timers.status = undefined;
      this.publishStatus();
    });
  }

  private publishStatus(): void {
    this.timers.refresh?.();
    this.timers.refresh = this.deps.scheduler.setTimer(this.deps.scheduler.now() + this.s.statusIntervalMs, () => {
      this.timers.refresh = undefined;
      this.publishStatus();
    });
    const snapshot = this.deps.status();
    if (!this.connected || !this.client || this.prefix === null || snapshot === null) return;
    this.client.publish(this.prefix + TOPIC.status, statusBody(snapshot), { qos: this.s.qos, retain: true });
    this.counts.status++;
  }

  private scheduleMetrics(): void {
    this.timers.metrics = this.deps.scheduler.setTimer(this.deps.scheduler.now() + this.s.metricsIntervalMs, () => {
      this.timers.metrics = undefined;
      if (this.stopped) return;
      if (this.connected && this.client && this.prefix !== null) {
        this.client.publish(this.prefix + TOPIC.metrics, metricsBody(this.deps.status(), this.queue.stats(), this.deps.scheduler.now()), { qos: 0 });
        this.counts.metrics++;
      }
      this.scheduleMetrics();
    });
  }

  private async onMessage(client: MqttClient, prefix: string, topic: string, payload: Uint8Array, retained: boolean): Promise<void> {
    if (!this.s.commands || !topic.startsWith(prefix + TOPIC.command)) return;
    const name = topic.slice(prefix.length + TOPIC.command.length);
    const now = this.deps.scheduler.now();
    const reply = (id: string | null, answer: ActionAnswer, extra?: Record<string, unknown>) => {
      if (this.client !== client || !this.connected) return;
      client.publish(prefix + TOPIC.reply, replyBody(name, id, answer, this.deps.scheduler.now(), extra), { qos: 1 });
      this.counts.replies++;
    };
    const parsed = parseCommand(name, payload);
    if (retained) {
      // A retained command would run again on every reconnection (a modem reset per reconnect).
      this.deps.log.warn(`ignored a retained command on ${topic}: commands must not be retained`);
      reply(parsed.ok ? parsed.command.id : parsed.id, { outcome: "refused", message: "retained commands are ignored: publish commands without the retain flag" });
      return;
    }
    if (!parsed.ok) {
      reply(parsed.id, { outcome: "refused", message: parsed.message });
      return;
    }
    this.commandTimes = this.commandTimes.filter((t) => t > now - 60_000);
    if (this.commandTimes.length >= COMMANDS_PER_MINUTE) {
      reply(parsed.command.id, { outcome: "busy", message: `more than ${COMMANDS_PER_MINUTE} commands in a minute; try again later` });
      return;
    }
    this.commandTimes.push(now);
    const { name: command, id, force } = parsed.command;
    this.deps.log.info(`command ${command}${force ? " (forced)" : ""} from the broker${id ? ` (id ${id})` : ""}`);
    if (command === "status") {
      const snapshot = this.deps.status();
      this.publishStatus();
      reply(id, snapshot ? { outcome: "done", message: "status published" } : { outcome: "unavailable", message: "no status yet" }, snapshot ? { status: JSON.parse(statusBody(snapshot)) } : undefined);
      return;
    }
    const actions = this.deps.actions;
    if (!actions) {
      reply(id, { outcome: "unavailable", message: "this agent has no actions to offer" });
      return;
    }
    try {
      const answer = command === "redial" ? await actions.redial(force) : await actions.resetModem(force);
      reply(id, answer);
    } catch (err) {
      reply(id, { outcome: "failed", message: `the action failed: ${(err as Error).message}` });
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), ms)))]).finally(() => clearTimeout(timer));
}

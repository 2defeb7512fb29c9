/** Shared by the MQTT tests: settings with short intervals, a recording subscriber, a publisher on a fake agent. */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { join } from "node:path";
import { RealScheduler } from "../../src/core/clock.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import { MqttPublisher, type MqttActions } from "../../src/mqtt/publisher.ts";
import { QUEUE_FILE, type MqttSettings } from "../../src/mqtt/settings.ts";

export function testSettings(broker: string, dir: string, over: Partial<MqttSettings> = {}): MqttSettings {
  return {
    broker,
    clientIdTemplate: "gw-1",
    prefixTemplate: "cellkeep/{client_id}/",
    username: null,
    password: null,
    caFile: null,
    certFile: null,
    keyFile: null,
    keepaliveMs: 5_000,
    metricsIntervalMs: 60_000,
    statusIntervalMs: 3_600_000,
    statusHoldoffMs: 50,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    qos: 1,
    commands: false,
    queueMax: 10_000,
    queuePath: join(dir, QUEUE_FILE),
    ...over,
  };
}

export interface Message {
  topic: string;
  text: string;
  retain: boolean;
}

/** A subscriber that records every message; `waitFor` polls its list (bounded, not a speed check). */
export class Recorder {
  messages: Message[] = [];
  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => this.messages.push({ topic, text: payload.toString(), retain: packet.retain }));
  }

  static async connect(url: string, topics: string[], opts: IClientOptions = {}): Promise<Recorder> {
    const u = new URL(url);
    const client = await mqtt.connectAsync({ protocol: u.protocol === "mqtts:" ? "mqtts" : "mqtt", host: u.hostname, port: Number(u.port), reconnectPeriod: 200, ...opts });
    client.on("error", () => undefined);
    const r = new Recorder(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return r;
  }

  on(topic: string): Message[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async waitFor(pred: (m: Message[]) => boolean, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!pred(this.messages) && Date.now() < end) await Bun.sleep(10);
    return pred(this.messages);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export interface FakeGateway {
  bus: EventBus<EventBase>;
  publisher: MqttPublisher;
  logs: MemorySink;
  status: Record<string, unknown>;
  emit(e: Record<string, unknown> & { type: string }): void;
}

/** A publisher on an event bus and a status document the test changes; no modem, no HTTP. */
export function fakeGateway(settings: MqttSettings, actions: MqttActions | null = null): FakeGateway {
  const bus = new EventBus<EventBase>(100);
  const logs = new MemorySink();
  const status: Record<string, unknown> = { state: "starting", since: null, cause: null, signal: { rssi: -71, rsrp: -95, rsrq: -10, sinr: 8 }, modem: { imsi: "262011234567890" }, timeline: { current: null }, now: new Date().toISOString() };
  const scheduler = new RealScheduler();
  const publisher = new MqttPublisher({
    settings,
    scheduler,
    log: createLogger({ level: "debug", format: "text", sink: logs }),
    status: () => ({ ...status, now: new Date(scheduler.now()).toISOString() }),
    events: bus,
    actions,
    hostname: "test-host",
  });
  return { bus, publisher, logs, status, emit: (e) => bus.emit({ at: Date.now(), ...e } as EventBase) };
}

export function state(to: string, from = "starting"): Record<string, unknown> & { type: string } {
  return { type: "modem.state", state: to, previous: from, cause: null };
}

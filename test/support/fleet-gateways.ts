/**
 * Worker of the fleet benchmark (test/bench/fleet.ts): `bun fleet-gateways.ts
 * BROKER_URL DIR FIRST COUNT SECONDS EVENT_EVERY_MS` runs COUNT simulated
 * gateways (the real MqttPublisher, each with its own queue file and event bus)
 * named gw-FIRST…, each emitting a link-state event every EVENT_EVERY_MS
 * (staggered) for SECONDS, then stops them and prints its counts as JSON.
 */
import { join } from "node:path";
import { RealScheduler } from "../../src/core/clock.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createLogger } from "../../src/core/log.ts";
import { MqttPublisher } from "../../src/mqtt/publisher.ts";
import { testSettings } from "../mqtt/helpers.ts";

const [broker, dir, firstText, countText, secondsText, everyText] = process.argv.slice(2) as [string, string, string, string, string, string];
const first = Number(firstText);
const count = Number(countText);
const every = Number(everyText);
const scheduler = new RealScheduler();
const log = createLogger({ level: "error", format: "text" });
const STATES = ["connected", "hanging-up", "waiting", "dialing", "negotiating"];
const gateways = Array.from({ length: count }, (_, i) => {
  const id = `gw-${String(first + i).padStart(4, "0")}`;
  const bus = new EventBus<EventBase>(0);
  let state = "connected";
  const since = new Date().toISOString();
  const publisher = new MqttPublisher({
    // The test settings, with a fleet member's id and a real gateway's slower timings.
    settings: testSettings(broker, join(dir, id), {
      clientIdTemplate: id,
      keepaliveMs: 60_000,
      metricsIntervalMs: 10_000,
      statusHoldoffMs: 1_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 5_000,
    }),
    scheduler,
    log,
    status: () => ({ state, since, cause: null, signal: { rssi: -70, rsrp: -95, rsrq: -10, sinr: 7, act: "LTE-M" }, ppp: { bytesIn: 1000, bytesOut: 2000 }, now: new Date().toISOString() }),
    events: bus,
    actions: null,
  });
  return { id, bus, publisher, step: 0, setState: (s: string) => (state = s) };
});
for (const g of gateways) g.publisher.start();
const timers = gateways.map((g, i) =>
  setTimeout(() => {
    const tick = () => {
      const previous = STATES[g.step % STATES.length]!;
      const next = STATES[++g.step % STATES.length]!;
      g.setState(next);
      g.bus.emit({ type: "modem.state", at: Date.now(), state: next, previous, cause: null } as EventBase);
    };
    tick();
    timers[i] = setInterval(tick, every) as unknown as ReturnType<typeof setTimeout>;
  }, (every * i) / count),
);
await Bun.sleep(Number(secondsText) * 1000);
for (const t of timers) clearInterval(t);
const sent = { events: 0, status: 0, metrics: 0, pending: 0, connects: 0 };
for (const g of gateways) {
  const s = g.publisher.stats();
  sent.events += s.sent.events;
  sent.status += s.sent.status;
  sent.metrics += s.sent.metrics;
  sent.pending += s.queue.pending;
  sent.connects += s.connects;
}
await Promise.all(gateways.map((g) => g.publisher.stop()));
process.stdout.write(JSON.stringify(sent) + "\n");
process.exit(0);

/** `cellkeep fleet` against a real Mosquitto: the JSON view, following, the live table, refused logins. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { fleetCommand } from "../../src/mqtt/fleet-command.ts";
import { hasMosquitto, startBroker, type Broker } from "../support/mosquitto.ts";

let broker: Broker;
let authBroker: Broker;
beforeAll(async () => {
  if (!hasMosquitto) return;
  broker = await startBroker();
  authBroker = await startBroker({ users: { ops: "pw" } });
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port });
  const now = new Date().toISOString();
  for (const [id, state, rsrp] of [["gw-1", "connected", -90], ["gw-2", "waiting", -120], ["gw-3", "connected", -101]] as const) {
    await c.publishAsync(`cellkeep/${id}/status`, JSON.stringify({ state, since: now, cause: state === "waiting" ? { code: "not-registered" } : null, signal: { rsrp }, now }), { qos: 1, retain: true });
    await c.publishAsync(`cellkeep/${id}/presence`, "online", { qos: 1, retain: true });
  }
  await c.endAsync();
});
afterAll(async () => {
  await broker?.close();
  await authBroker?.close();
});

function io(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), ...(signal ? { signal } : {}) } };
}

describe.skipIf(!hasMosquitto)("cellkeep fleet", () => {
  test("--json prints every gateway from the retained messages", async () => {
    const o = io();
    expect(await fleetCommand(["--broker", broker.url, "--json"], o.io)).toBe(0);
    const rows = JSON.parse(o.out.join(""));
    expect(rows.map((r: { device: string }) => r.device)).toEqual(["gw-1", "gw-2", "gw-3"]);
    expect(rows[1]).toMatchObject({ presence: "online", state: "waiting", cause: "not-registered", signalDbm: -120, linkUptime: null });
    expect(rows[0].linkUptime).toBeGreaterThanOrEqual(0);
  });

  test("--json --follow prints one line per message, repeats marked, until stopped", async () => {
    const stop = new AbortController();
    const o = io(stop.signal);
    const run = fleetCommand(["--broker", broker.url, "--json", "--follow"], o.io);
    const lines = () => o.out.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const end = Date.now() + 5000;
    while (lines().length < 6 && Date.now() < end) await Bun.sleep(10);
    const c = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port });
    const ev = JSON.stringify({ q: "e1", seq: 1, type: "modem.state", at: Date.now(), state: "dialing", previous: "waiting", cause: null });
    await c.publishAsync("cellkeep/gw-2/events", ev, { qos: 1 });
    await c.publishAsync("cellkeep/gw-2/events", ev, { qos: 1 });
    await c.endAsync();
    while (lines().filter((l) => l.device === "gw-2" && (l.kind === "event" || l.kind === "duplicate")).length < 2 && Date.now() < end) await Bun.sleep(10);
    stop.abort();
    expect(await run).toBe(0);
    const gw2 = lines().filter((l) => l.device === "gw-2" && l.kind !== "status" && l.kind !== "presence");
    expect(gw2.map((l) => l.kind)).toEqual(["event", "duplicate"]);
    expect(gw2[0].gateway.state).toBe("dialing");
  });

  test("the live table", async () => {
    const stop = new AbortController();
    const o = io(stop.signal);
    const run = fleetCommand(["--broker", broker.url], { ...o.io, isTty: false });
    const end = Date.now() + 5000;
    while (!o.out.join("").includes("3 gateways: 3 online, 2 connected") && Date.now() < end) await Bun.sleep(20);
    stop.abort();
    expect(await run).toBe(0);
    const last = o.out.filter((t) => t.includes("3 gateways")).at(-1)!;
    expect(last).toMatch(/gw-2\s+online\s+waiting\s+not-registered\s+-120 dBm/);
  });

  test("a refused login or no broker: exit 3 with the cause; a bad command line: exit 2", async () => {
    const o = io();
    expect(await fleetCommand(["--broker", authBroker.url, "--json", "--username", "ops"], o.io)).toBe(3);
    expect(o.err.join("")).toContain("mqtt-auth-rejected");
    const down = io();
    expect(await fleetCommand(["--broker", "mqtt://127.0.0.1:1", "--json"], down.io)).toBe(3);
    expect(down.err.join("")).toContain("mqtt-unreachable");
    const bad = io();
    expect(await fleetCommand(["--broker", "http://x"], bad.io)).toBe(2);
    expect(await fleetCommand(["--json"], bad.io)).toBe(2);
    expect(await fleetCommand(["--broker", broker.url, "--follow"], bad.io)).toBe(2);
  });
});

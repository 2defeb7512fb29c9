/**
 * The publisher against a real Mosquitto on loopback: topics and retained
 * messages, the last will on kill -9, store-and-forward across a broker
 * restart and across a kill -9 of the agent, TLS with a throwaway CA, refused
 * logins named by cause, and commands only with mqtt.commands = true.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FleetModel } from "../../src/mqtt/fleet.ts";
import { hasMosquitto, makeTestCa, startBroker, type Broker, type TestCa } from "../support/mosquitto.ts";
import { fakeGateway, Recorder, state, testSettings, type FakeGateway } from "./helpers.ts";
import type { MqttActions } from "../../src/mqtt/publisher.ts";

const CHILD = resolve(import.meta.dir, "child-gateway.ts");
let dir = "";
let broker: Broker;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  broker = await startBroker({ persistence: true });
});
afterAll(async () => {
  await broker?.close();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  dir = mkdtempSync(join(tmpdir(), "ck-mqtt-"));
  return dir;
}

function gateway(g: FakeGateway): FakeGateway {
  cleanups.push(() => g.publisher.stop());
  return g;
}

async function recorder(topics: string[], url = broker.url, opts = {}): Promise<Recorder> {
  const r = await Recorder.connect(url, topics, opts);
  cleanups.push(() => r.close());
  return r;
}

describe.skipIf(!hasMosquitto)("MQTT publisher against mosquitto", () => {
  test("presence online, retained status without the timeline, events in order with queue ids, IMSI masked", async () => {
    const g = gateway(fakeGateway(testSettings(broker.url, newDir())));
    const r = await recorder(["cellkeep/gw-1/#"]);
    g.publisher.start();
    expect(await r.waitFor(() => r.on("cellkeep/gw-1/presence").some((m) => m.text === "online"))).toBe(true);
    g.status.state = "connected";
    g.status.since = new Date().toISOString();
    g.emit(state("dialing"));
    g.emit(state("connected", "dialing"));
    g.emit({ type: "modem.identity", manufacturer: "Quectel", model: "BG77", firmware: "x", imei: "867000000000001", imsi: "262011234567890", iccid: "8949000000000000001", profile: "quectel-bg77" });
    g.emit({ type: "modem.signal", rssi: -70, rsrp: -90, rsrq: -9, sinr: 10, act: "LTE-M" });
    expect(await r.waitFor(() => r.on("cellkeep/gw-1/events").length >= 3 && r.on("cellkeep/gw-1/status").some((m) => m.text.includes('"connected"')))).toBe(true);
    const events = r.on("cellkeep/gw-1/events").map((m) => JSON.parse(m.text));
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events.map((e) => e.type)).toEqual(["modem.state", "modem.state", "modem.identity"]); // modem.signal goes in metrics only
    expect(typeof events[0].q).toBe("string");
    expect(events[2].imsi).toBe("26201********90");
    expect(JSON.stringify(events)).not.toContain("262011234567890");
    // A new subscriber gets the retained status and presence at once.
    const late = await recorder(["cellkeep/gw-1/status", "cellkeep/gw-1/presence"]);
    expect(await late.waitFor(() => late.messages.length >= 2)).toBe(true);
    const status = late.on("cellkeep/gw-1/status").at(-1)!;
    expect(status.retain).toBe(true);
    const doc = JSON.parse(status.text);
    expect(doc.state).toBe("connected");
    expect(doc.timeline).toBeUndefined();
    expect(doc.modem.imsi).not.toContain("1234567");
    expect(late.on("cellkeep/gw-1/presence")[0]).toMatchObject({ text: "online", retain: true });
    expect(g.publisher.stats().queue.pending).toBe(0);
    // A clean stop says offline (retained) at once.
    await g.publisher.stop();
    expect(await r.waitFor(() => r.on("cellkeep/gw-1/presence").at(-1)?.text === "offline")).toBe(true);
  });

  test("compact metrics at the interval", async () => {
    const g = gateway(fakeGateway(testSettings(broker.url, newDir(), { metricsIntervalMs: 100 })));
    g.status.state = "connected";
    g.status.since = new Date(Date.now() - 42_000).toISOString();
    g.status.ppp = { bytesIn: 1000, bytesOut: 2000 };
    const r = await recorder(["cellkeep/gw-1/metrics"]);
    g.publisher.start();
    expect(await r.waitFor(() => r.messages.length >= 2)).toBe(true);
    const m = JSON.parse(r.messages[0]!.text);
    expect(m).toMatchObject({ s: "connected", rssi: -71, rsrp: -95, rx: 1000, tx: 2000, q: 0, d: 0 });
    expect(m.up).toBeGreaterThanOrEqual(42);
    expect(r.messages[0]!.text.length).toBeLessThan(200);
  });

  test("last will: kill -9 of the agent process turns its retained presence to offline", async () => {
    const d = newDir();
    const r = await recorder(["cellkeep/child-1/presence"]);
    const child = Bun.spawn([process.execPath, CHILD, broker.url, d, "child-1", "0"], { stdout: "pipe", stderr: "inherit" });
    cleanups.push(() => child.kill("SIGKILL"));
    expect(await r.waitFor(() => r.messages.at(-1)?.text === "online")).toBe(true);
    child.kill("SIGKILL");
    await child.exited;
    expect(await r.waitFor(() => r.messages.at(-1)?.text === "offline")).toBe(true);
    expect(r.messages.at(-1)!.retain).toBe(false); // delivered live; the retained copy is what a new subscriber sees:
    const late = await recorder(["cellkeep/child-1/presence"]);
    expect(await late.waitFor(() => late.messages.length > 0)).toBe(true);
    expect(late.messages[0]).toMatchObject({ text: "offline", retain: true });
  });

  test("kill -9 while the broker is unreachable loses nothing queued: the next start sends it all, in order", async () => {
    const d = newDir();
    const down = "mqtt://127.0.0.1:1"; // nothing listens on port 1
    const child = Bun.spawn([process.execPath, CHILD, down, d, "child-2", "50"], { stdout: "pipe", stderr: "inherit" });
    cleanups.push(() => child.kill("SIGKILL"));
    // The child prints "queued N" once its 50 events are in the file; then it is killed without warning.
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("queued 50")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out).toContain("queued 50");
    child.kill("SIGKILL");
    await child.exited;
    const r = await recorder(["cellkeep/child-2/events"]);
    const g = gateway(fakeGateway(testSettings(broker.url, d, { clientIdTemplate: "child-2" })));
    g.publisher.start();
    expect(await r.waitFor(() => r.messages.length >= 50)).toBe(true);
    const seqs = r.messages.map((m) => JSON.parse(m.text).seq);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(r.messages.map((m) => JSON.parse(m.text).detail)).toEqual(Array.from({ length: 50 }, (_, i) => `event ${i + 1}`));
  });

  test("broker restart mid-stream: every event arrives once, in order (QoS 1 + queue ids, persistent subscriber)", async () => {
    const g = gateway(fakeGateway(testSettings(broker.url, newDir())));
    // The fleet's back end: a persistent session, so what arrives while it reconnects waits in the broker for it.
    const r = await recorder(["cellkeep/gw-1/events"], broker.url, { clientId: "fleet-backend", clean: false });
    g.publisher.start();
    const total = 300;
    let n = 0;
    const emitSome = async (count: number) => {
      for (let i = 0; i < count; i++) {
        n++;
        g.emit({ type: "agent.reloaded", version: "t", detail: `event ${n}` });
        if (i % 10 === 0) await Bun.sleep(1);
      }
    };
    await emitSome(100);
    await broker.restart(); // SIGTERM: mosquitto saves the persistent session; every connection drops
    await emitSome(100);
    await Bun.sleep(300);
    await emitSome(100);
    const model = new FleetModel("cellkeep/");
    const delivered: number[] = [];
    expect(await r.waitFor(() => {
      for (const m of r.messages.splice(0)) {
        const u = model.apply(m.topic, m.text, Date.now());
        if (u?.kind === "event") delivered.push(Number(String(u.event.detail).slice(6)));
      }
      return delivered.length >= total;
    }, 20_000)).toBe(true);
    expect(delivered).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(n).toBe(total);
    // The subscriber can see the last events before the gateway got their PUBACKs.
    const end = Date.now() + 5000;
    while (g.publisher.stats().queue.pending > 0 && Date.now() < end) await Bun.sleep(10);
    expect(g.publisher.stats().queue.pending).toBe(0);
    expect(g.publisher.stats().connects).toBeGreaterThanOrEqual(2);
    console.log(`broker restart: ${total} events delivered once each, ${model.row("gw-1").duplicates} resends dropped by queue id`);
  }, 30_000);

  test("past the queue bound the oldest are dropped and counted; the rest arrive", async () => {
    const d = newDir();
    const g = gateway(fakeGateway(testSettings("mqtt://127.0.0.1:1", d, { queueMax: 10 })));
    g.publisher.start();
    for (let i = 1; i <= 25; i++) g.emit({ type: "agent.reloaded", version: "t", detail: `event ${i}` });
    expect(g.publisher.stats().queue).toMatchObject({ pending: 10, dropped: 15 });
    await g.publisher.stop();
    const r = await recorder(["cellkeep/gw-1/events"]);
    const g2 = gateway(fakeGateway(testSettings(broker.url, d)));
    g2.publisher.start();
    expect(await r.waitFor(() => r.messages.length >= 10)).toBe(true);
    expect(r.messages.map((m) => JSON.parse(m.text).detail)).toEqual(Array.from({ length: 10 }, (_, i) => `event ${i + 16}`));
    expect(g2.publisher.stats().queue.dropped).toBe(15);
  });

  test("an unreachable broker is named (mqtt-unreachable) and retried; events wait and go once it is there", async () => {
    const other = await startBroker();
    cleanups.push(() => other.close());
    await other.stop();
    const g = gateway(fakeGateway(testSettings(other.url, newDir())));
    g.publisher.start();
    g.emit(state("dialing"));
    const until = Date.now() + 5000;
    while (g.publisher.stats().cause === null && Date.now() < until) await Bun.sleep(10);
    expect(g.publisher.stats().cause?.code).toBe("mqtt-unreachable");
    expect(g.logs.lines.join("\n")).toContain("mqtt-unreachable");
    await other.start();
    const r = await recorder(["cellkeep/gw-1/events"], other.url);
    expect(await r.waitFor(() => r.messages.length >= 1)).toBe(true);
    expect(g.publisher.stats().cause).toBeNull();
  });
});

describe.skipIf(!hasMosquitto)("logins and TLS", () => {
  let ca: TestCa;
  beforeAll(() => {
    ca = makeTestCa();
  });
  afterAll(() => {
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  test("wrong password: cause mqtt-auth-rejected, logged without the password", async () => {
    const b = await startBroker({ users: { gateway: "right-password" } });
    cleanups.push(() => b.close());
    const g = gateway(fakeGateway(testSettings(b.url, newDir(), { username: "gateway", password: "wrong-password" })));
    g.publisher.start();
    const end = Date.now() + 5000;
    while (g.publisher.stats().cause === null && Date.now() < end) await Bun.sleep(10);
    expect(g.publisher.stats().cause?.code).toBe("mqtt-auth-rejected");
    const log = g.logs.lines.join("\n");
    expect(log).toContain("mqtt-auth-rejected");
    expect(log).not.toContain("wrong-password");
    // The right one connects.
    const ok = gateway(fakeGateway(testSettings(b.url, newDir(), { username: "gateway", password: "right-password", clientIdTemplate: "gw-2" })));
    const r = await recorder(["cellkeep/gw-2/presence"], b.url, { username: "gateway", password: "right-password" });
    ok.publisher.start();
    expect(await r.waitFor(() => r.messages.some((m) => m.text === "online"))).toBe(true);
  });

  test("mqtts with a throwaway CA and a client certificate; the wrong CA is mqtt-tls-failed", async () => {
    const b = await startBroker({ tls: { ca, requireClientCert: true } });
    cleanups.push(() => b.close());
    const tlsOpts = { ca: await Bun.file(ca.caCert).bytes(), cert: await Bun.file(ca.clientCert).bytes(), key: await Bun.file(ca.clientKey).bytes() };
    const r = await recorder(["cellkeep/gw-1/#"], b.url, { ...tlsOpts, ca: Buffer.from(tlsOpts.ca), cert: Buffer.from(tlsOpts.cert), key: Buffer.from(tlsOpts.key) });
    const g = gateway(fakeGateway(testSettings(b.url, newDir(), { caFile: ca.caCert, certFile: ca.clientCert, keyFile: ca.clientKey })));
    g.publisher.start();
    g.emit(state("dialing"));
    expect(await r.waitFor(() => r.on("cellkeep/gw-1/events").length >= 1 && r.on("cellkeep/gw-1/presence").length >= 1)).toBe(true);

    const wrong = gateway(fakeGateway(testSettings(b.url, newDir(), { caFile: ca.otherCaCert, certFile: ca.clientCert, keyFile: ca.clientKey, clientIdTemplate: "gw-3" })));
    wrong.publisher.start();
    const end = Date.now() + 5000;
    while (wrong.publisher.stats().cause === null && Date.now() < end) await Bun.sleep(10);
    expect(wrong.publisher.stats().cause?.code).toBe("mqtt-tls-failed");
    // No client certificate where the broker requires one: refused in the handshake.
    const noCert = gateway(fakeGateway(testSettings(b.url, newDir(), { caFile: ca.caCert, clientIdTemplate: "gw-4" })));
    noCert.publisher.start();
    const end2 = Date.now() + 5000;
    while (noCert.publisher.stats().cause === null && Date.now() < end2) await Bun.sleep(10);
    expect(noCert.publisher.stats().cause?.code).toBe("mqtt-tls-failed");
    expect(noCert.publisher.stats().connected).toBe(false);
  });
});

describe.skipIf(!hasMosquitto)("commands", () => {
  function fakeActions(): MqttActions & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      async redial(force) {
        calls.push(`redial force=${force}`);
        return { outcome: "started", message: "hanging up and dialling again" };
      },
      async resetModem(force) {
        calls.push(`reset force=${force}`);
        if (force) return { outcome: "started", message: "resetting the modem module" };
        // What the ladder answers during the vendor's wait (src/agent/actions.ts): passed through unchanged.
        return { outcome: "refused-backoff", message: "the vendor backoff allows the next module reset at …; add ?force=1 to reset anyway", nextActionAt: Date.parse("2030-01-01T00:00:00Z") };
      },
    };
  }

  test("without mqtt.commands = true nothing is subscribed: a command does nothing and gets no reply", async () => {
    const actions = fakeActions();
    const g = gateway(fakeGateway(testSettings(broker.url, newDir(), { clientIdTemplate: "gw-off" }), actions));
    const r = await recorder(["cellkeep/gw-off/reply", "cellkeep/gw-off/presence"]);
    g.publisher.start();
    expect(await r.waitFor(() => r.messages.some((m) => m.text === "online"))).toBe(true);
    await r.client.publishAsync("cellkeep/gw-off/cmd/redial", "", { qos: 1 });
    await r.client.publishAsync("cellkeep/gw-off/cmd/reset-modem", '{"force":true}', { qos: 1 });
    // A round trip through the broker that is known to complete: the commands were delivered before it.
    await r.client.publishAsync("cellkeep/gw-off/presence", "online", { qos: 1, retain: true });
    await Bun.sleep(300);
    expect(actions.calls).toEqual([]);
    expect(r.on("cellkeep/gw-off/reply")).toEqual([]);
  });

  test("with mqtt.commands = true: redial, reset refused by the backoff, forced reset, status, bad and retained commands", async () => {
    const actions = fakeActions();
    const g = gateway(fakeGateway(testSettings(broker.url, newDir(), { clientIdTemplate: "gw-cmd", commands: true }), actions));
    const r = await recorder(["cellkeep/gw-cmd/reply", "cellkeep/gw-cmd/presence"]);
    g.publisher.start();
    expect(await r.waitFor(() => r.messages.some((m) => m.text === "online"))).toBe(true);
    await Bun.sleep(100); // the command subscription follows the CONNACK
    const send = (cmd: string, body: string, retain = false) => r.client.publishAsync(`cellkeep/gw-cmd/cmd/${cmd}`, body, { qos: 1, retain });
    await send("redial", '{"id":"a1"}');
    await send("reset-modem", '{"id":"a2"}');
    await send("reset-modem", '{"id":"a3","force":true}');
    await send("status", '{"id":"a4"}');
    await send("reboot", '{"id":"a5"}');
    await send("redial", "not json");
    expect(await r.waitFor(() => r.on("cellkeep/gw-cmd/reply").length >= 6)).toBe(true);
    const replies = new Map(r.on("cellkeep/gw-cmd/reply").map((m) => JSON.parse(m.text)).map((x) => [x.id ?? "none", x]));
    expect(replies.get("a1")).toMatchObject({ command: "redial", outcome: "started" });
    expect(replies.get("a2")).toMatchObject({ command: "reset-modem", outcome: "refused-backoff", nextActionAt: "2030-01-01T00:00:00.000Z" });
    expect(replies.get("a3")).toMatchObject({ command: "reset-modem", outcome: "started" });
    expect(replies.get("a4")).toMatchObject({ command: "status", outcome: "done" });
    expect(replies.get("a4").status.state).toBe("starting");
    expect(replies.get("a5")).toMatchObject({ outcome: "refused" });
    expect(replies.get("none")).toMatchObject({ command: "redial", outcome: "refused" });
    expect(actions.calls).toEqual(["redial force=false", "reset force=false", "reset force=true"]);
    expect(actions.calls.length).toBe(3);
  });

  test("a retained command (it would run again on every reconnection) is refused, not run", async () => {
    const actions = fakeActions();
    const r = await recorder(["cellkeep/gw-ret/reply"]);
    await r.client.publishAsync("cellkeep/gw-ret/cmd/redial", '{"id":"r1"}', { qos: 1, retain: true });
    cleanups.push(() => r.client.publishAsync("cellkeep/gw-ret/cmd/redial", "", { qos: 1, retain: true }));
    const g = gateway(fakeGateway(testSettings(broker.url, newDir(), { clientIdTemplate: "gw-ret", commands: true }), actions));
    g.publisher.start();
    expect(await r.waitFor(() => r.messages.length >= 1)).toBe(true);
    expect(JSON.parse(r.messages[0]!.text)).toMatchObject({ id: "r1", outcome: "refused" });
    expect(actions.calls).toEqual([]);
  });
});

#!/usr/bin/env bun
/**
 * Data budget of fleet telemetry at the default [mqtt] settings. A real agent
 * (the in-process virtual modem) reports over mqtts (throwaway CA, client
 * certificate) to a local Mosquitto through a byte-counting TCP proxy: that
 * measures a connection's set-up and the real payload sizes (status, metrics,
 * events); src/mqtt/budget.ts then counts a day at the default intervals with
 * TCP/IP and TLS overheads. Prints the table; asserts nothing.
 */
import { rmSync } from "node:fs";
import { dailyBudget } from "../../src/mqtt/budget.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { mqttSettings } from "../../src/mqtt/settings.ts";
import { freePort, makeTestCa, startBroker } from "../support/mosquitto.ts";
import { Recorder } from "../mqtt/helpers.ts";
import { removeDir, startRig, tempDir } from "../agent/rig.ts";

const ca = makeTestCa();
const broker = await startBroker({ tls: { ca, requireClientCert: true } });
// The proxy: every byte between the agent and the broker, both ways.
let bytes = 0;
const proxyPort = freePort();
type Peer = { peer: import("bun").Socket<unknown> | null; pending: Uint8Array[] };
const proxy = Bun.listen<Peer>({
  hostname: "127.0.0.1",
  port: proxyPort,
  socket: {
    async open(client) {
      client.data = { peer: null, pending: [] };
      const upstream = await Bun.connect({
        hostname: "127.0.0.1",
        port: broker.port,
        socket: {
          data(_s, chunk) {
            bytes += chunk.length;
            client.write(chunk);
          },
          close() {
            client.end();
          },
        },
      });
      client.data.peer = upstream;
      for (const c of client.data.pending) upstream.write(c);
    },
    data(client, chunk) {
      bytes += chunk.length;
      if (client.data.peer) client.data.peer.write(chunk);
      else client.data.pending.push(new Uint8Array(chunk));
    },
    close(client) {
      client.data.peer?.end();
    },
  },
});

const dir = tempDir();
const tlsFiles = `ca_file = "${ca.caCert}"\ncert_file = "${ca.clientCert}"\nkey_file = "${ca.clientKey}"\n`;
const rec = await Recorder.connect(broker.url, ["cellkeep/budget-gw/#"], { ca: Buffer.from(await Bun.file(ca.caCert).bytes()), cert: Buffer.from(await Bun.file(ca.clientCert).bytes()), key: Buffer.from(await Bun.file(ca.clientKey).bytes()) });
const rig = await startRig({
  dir,
  tail: `[mqtt]\nbroker = "mqtts://127.0.0.1:${proxyPort}"\nclient_id = "budget-gw"\nmetrics_interval = "1s"\nstatus_holdoff = "0s"\n${tlsFiles}`,
  overrides: { httpListen: "127.0.0.1:0" },
  logLevel: "info",
});
try {
  // The connection's set-up: up to the first presence "online" (TLS handshake, CONNECT, CONNACK, presence).
  await rec.waitFor((m) => m.some((x) => x.topic.endsWith("/presence") && x.text === "online"));
  const connectBytes = bytes;
  await rec.waitFor((m) => m.filter((x) => x.topic.endsWith("/metrics")).length >= 3 && m.some((x) => x.topic.endsWith("/status") && JSON.parse(x.text).state === "connected"));
  const avg = (topic: string) => {
    const l = rec.on(topic).map((m) => Buffer.byteLength(m.text));
    return Math.round(l.reduce((a, b) => a + b, 0) / l.length);
  };
  const statusBytes = Buffer.byteLength(rec.on("cellkeep/budget-gw/status").at(-1)!.text);
  const metricsBytes = avg("cellkeep/budget-gw/metrics");
  const eventBytes = avg("cellkeep/budget-gw/events");
  const events = rec.on("cellkeep/budget-gw/events").length;
  const defaults = loadConfigText('[network]\napn = "x"\n[mqtt]\nbroker = "mqtts://b"\n');
  if (!defaults.ok) throw new Error("default config");
  const s = mqttSettings(defaults.config)!;
  const prefixBytes = "cellkeep/budget-gw/".length;
  const common = { tls: true, keepaliveMs: s.keepaliveMs, metricsIntervalMs: s.metricsIntervalMs, statusIntervalMs: s.statusIntervalMs, prefixBytes, statusBytes, metricsBytes, eventBytes, connectBytes };
  console.log(`measured: connection set-up ${connectBytes} B over mqtts (EC P-256 throwaway CA, client certificate; an RSA chain from a public CA adds a few KB), status ${statusBytes} B, metrics ${metricsBytes} B, events ${eventBytes} B on average (${events} events in one bring-up)`);
  console.log(`defaults: keepalive ${s.keepaliveMs / 1000} s, metrics every ${s.metricsIntervalMs / 1000} s, status refresh every ${s.statusIntervalMs / 1000} s, QoS ${s.qos}`);
  for (const [name, extra] of [
    ["a stable link (1 connection, 10 events, 5 status changes a day)", { eventsPerDay: 10, statusChangesPerDay: 5, connectsPerDay: 1 }],
    ["a flapping link (24 connections, 24 bring-ups of ~" + events + " events each)", { eventsPerDay: 24 * events, statusChangesPerDay: 24 * 4, connectsPerDay: 24 }],
  ] as const) {
    const b = dailyBudget({ ...common, ...extra });
    console.log(`\n${name}:`);
    for (const l of b.lines) console.log(`  ${l.what.padEnd(46)} ${String(Math.round(l.perDay)).padStart(6)}/day ${(l.bytesPerDay / 1024).toFixed(1).padStart(8)} KiB`);
    console.log(`  ${"total".padEnd(46)} ${"".padStart(10)} ${(b.total / 1024).toFixed(1).padStart(8)} KiB/day (${(b.total / 1e6).toFixed(3)} MB)`);
  }
} finally {
  await rig.stop();
  await rec.close();
  proxy.stop(true);
  await broker.close();
  removeDir(dir);
  rmSync(ca.dir, { recursive: true, force: true });
}
process.exit(0);

/**
 * MQTT.js inside the single-file binary: the built x64 binary's `fleet`
 * connects to a real Mosquitto over TLS (throwaway CA, client certificate),
 * subscribes, and prints the retained statuses; and it names a refused login.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { buildBinary } from "../../build/build.ts";
import { hasMosquitto, makeTestCa, startBroker, type Broker, type TestCa } from "../support/mosquitto.ts";

let dir = "";
let ca: TestCa;
let broker: Broker;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ck-build-mqtt-"));
  if (!hasMosquitto) return;
  ca = makeTestCa();
  broker = await startBroker({ tls: { ca, requireClientCert: true } });
});
afterAll(async () => {
  await broker?.close();
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

describe.skipIf(!hasMosquitto)("MQTT in the built binary", () => {
  test("cellkeep fleet (compiled) reads retained statuses over mqtts with a client certificate", async () => {
    const tls = { ca: await Bun.file(ca.caCert).bytes(), cert: await Bun.file(ca.clientCert).bytes(), key: await Bun.file(ca.clientKey).bytes() };
    const c = await mqtt.connectAsync({ protocol: "mqtts", host: "127.0.0.1", port: broker.port, ca: Buffer.from(tls.ca), cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) });
    await c.publishAsync("cellkeep/bin-gw/status", JSON.stringify({ state: "connected", since: new Date().toISOString(), cause: null, signal: { rsrp: -88 }, now: new Date().toISOString() }), { qos: 1, retain: true });
    await c.endAsync();
    const { path } = await buildBinary("linux-x64", dir);
    const ok = await run([path, "fleet", "--broker", broker.url, "--json", "--ca-file", ca.caCert, "--cert-file", ca.clientCert, "--key-file", ca.clientKey]);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject([{ device: "bin-gw", state: "connected", signalDbm: -88 }]);
    // Without the client certificate the broker refuses the handshake: a named cause, exit 3.
    const refused = await run([path, "fleet", "--broker", broker.url, "--json", "--ca-file", ca.caCert]);
    expect(refused.code).toBe(3);
    expect(refused.err).toContain("mqtt-tls-failed");
  }, 120_000);
});

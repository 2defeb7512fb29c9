/**
 * The real agent with [mqtt] set, on the in-process virtual modem, reporting
 * to a real Mosquitto: its events and status reach the broker, a redial over
 * MQTT goes through the same guarded actions as POST /actions/redial, and a
 * stop says "offline".
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { hasMosquitto, startBroker, type Broker } from "../support/mosquitto.ts";
import { Recorder } from "../mqtt/helpers.ts";
import { removeDir, startRig, tempDir, type Rig } from "./rig.ts";

let broker: Broker;
let rig: Rig | null = null;
let dir = "";
let rec: Recorder | null = null;

beforeAll(async () => {
  if (hasMosquitto) broker = await startBroker();
});
afterAll(async () => {
  await broker?.close();
});
afterEach(async () => {
  await rig?.stop();
  rig = null;
  await rec?.close();
  rec = null;
  if (dir) removeDir(dir);
});

describe.skipIf(!hasMosquitto)("agent with [mqtt]", () => {
  test("events and the retained status reach the broker; a redial command is answered; stop says offline", async () => {
    dir = tempDir();
    rec = await Recorder.connect(broker.url, ["cellkeep/rig-gw/#"]);
    rig = await startRig({
      dir,
      tail: `[mqtt]\nbroker = "${broker.url}"\nclient_id = "rig-gw"\nstatus_holdoff = "0s"\ncommands = true\n`,
      overrides: { httpListen: "127.0.0.1:0" },
    });
    const r = rec;
    const events = () => r.on("cellkeep/rig-gw/events").map((m) => JSON.parse(m.text));
    expect(await r.waitFor(() => events().some((e) => e.type === "modem.state" && e.state === "connected"))).toBe(true);
    expect(events()[0].type).toBe("agent.started");
    expect(events().map((e) => e.seq)).toEqual(events().map((_, i) => i + 1));
    expect(await r.waitFor(() => r.on("cellkeep/rig-gw/status").some((m) => JSON.parse(m.text).state === "connected"))).toBe(true);
    // The password of the rig's PPP login never leaves in any payload.
    expect(r.messages.some((m) => m.text.includes("e2e-secret"))).toBe(false);

    await r.client.publishAsync("cellkeep/rig-gw/cmd/redial", '{"id":"x1"}', { qos: 1 });
    expect(await r.waitFor(() => r.on("cellkeep/rig-gw/reply").length > 0)).toBe(true);
    expect(JSON.parse(r.on("cellkeep/rig-gw/reply")[0]!.text)).toMatchObject({ id: "x1", command: "redial", outcome: "started" });
    expect(await r.waitFor(() => events().some((e) => e.type === "recovery.action" && e.rung === "redial"))).toBe(true);

    await rig.stop();
    rig = null;
    expect(await r.waitFor(() => r.on("cellkeep/rig-gw/presence").at(-1)?.text === "offline")).toBe(true);
    expect(events().some((e) => e.type === "agent.stopping")).toBe(true);
  }, 30_000);
});

/** The pure parts: which events are sent, payloads, commands, names, causes, the fleet reducer and table. */
import { describe, expect, test } from "bun:test";
import { EventFilter, metricsBody, parseCommand, statusBody, withQueueId } from "../../src/mqtt/telemetry.ts";
import { resolveClientId, resolvePrefix, topicSafe } from "../../src/mqtt/settings.ts";
import { connectionCause } from "../../src/mqtt/connect.ts";
import { FleetModel, renderTable, rowJson } from "../../src/mqtt/fleet.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("telemetry payloads", () => {
  test("the filter sends state changes, skips signal polls, repeated registrations and healthy probe rounds", () => {
    const f = new EventFilter();
    const ev = (type: string, extra: Record<string, unknown> = {}) => f.accept({ type, at: 1, ...extra });
    expect(ev("modem.state")).toBe(true);
    expect(ev("modem.signal")).toBe(false);
    expect(ev("ppp.phase")).toBe(false);
    expect(ev("some.module.detail")).toBe(false);
    const reg = { stat: 1, act: "LTE-M", operator: "Op", tac: "1", cell: "A" };
    expect(ev("modem.registration", reg)).toBe(true);
    expect(ev("modem.registration", reg)).toBe(false);
    expect(ev("modem.registration", { ...reg, cell: "B" })).toBe(true);
    expect(ev("health.probe", { ok: true })).toBe(false);
    expect(ev("health.probe", { ok: false })).toBe(true);
    expect(ev("health.probe", { ok: false })).toBe(false);
    expect(ev("health.probe", { ok: true })).toBe(true);
  });

  test("queue ids go first; status drops the timeline; metrics are compact and leave nulls out", () => {
    expect(withQueueId('{"type":"a","at":1}', "ep", 7)).toBe('{"q":"ep","seq":7,"type":"a","at":1}');
    expect(withQueueId("{}", "ep", 1)).toBe('{"q":"ep","seq":1}');
    const status = { state: "connected", since: "2030-01-01T00:00:00.000Z", modem: { iccid: "8949000000000000001" }, timeline: { current: { steps: [1, 2, 3] } } };
    const s = JSON.parse(statusBody(status));
    expect(s.timeline).toBeUndefined();
    expect(s.modem.iccid).toBe("89490************01");
    const m = metricsBody({ ...status, signal: { rssi: -70, rsrp: null }, ppp: { bytesIn: 5, bytesOut: 6 }, health: { rttMs: 80 } }, { pending: 2, dropped: 1 }, Date.parse("2030-01-01T00:01:40.000Z"));
    expect(JSON.parse(m)).toEqual({ t: Date.parse("2030-01-01T00:01:40.000Z"), s: "connected", rssi: -70, up: 100, rtt: 80, rx: 5, tx: 6, q: 2, d: 1 });
  });

  test("commands: empty or JSON payloads, force must be a boolean, unknown names refused", () => {
    expect(parseCommand("redial", enc(""))).toEqual({ ok: true, command: { name: "redial", id: null, force: false } });
    expect(parseCommand("reset-modem", enc('{"id":9,"force":true}'))).toEqual({ ok: true, command: { name: "reset-modem", id: "9", force: true } });
    expect(parseCommand("redial", enc('{"force":"yes"}'))).toMatchObject({ ok: false, message: "force must be true or false" });
    expect(parseCommand("redial", enc("{nope"))).toMatchObject({ ok: false });
    expect(parseCommand("reboot", enc('{"id":"x"}'))).toMatchObject({ ok: false, id: "x" });
    expect(parseCommand("status", new Uint8Array(5000))).toMatchObject({ ok: false });
  });
});

describe("names", () => {
  test("client id from the host name or the IMEI; the prefix from the client id", () => {
    expect(resolveClientId("{hostname}", { hostname: "gw 7/a", imei: null })).toBe("gw-7-a");
    expect(resolveClientId("gw-{imei}", { hostname: "h", imei: null })).toBeNull();
    expect(resolveClientId("gw-{imei}", { hostname: "h", imei: "867000000000001" })).toBe("gw-867000000000001");
    expect(resolvePrefix("cellkeep/{client_id}/", "gw-1", { hostname: "h", imei: null })).toBe("cellkeep/gw-1/");
    expect(resolvePrefix("site/{hostname}/{imei}/", "gw-1", { hostname: "h", imei: "1" })).toBe("site/h/1/");
    expect(topicSafe("  ")).toBe("unnamed");
  });

  test("connection failures are named causes", () => {
    expect(connectionCause({ code: 4, message: "Connection refused: Bad username or password" }, "mqtt://b").code).toBe("mqtt-auth-rejected");
    expect(connectionCause({ code: 5, message: "Connection refused: Not authorized" }, "mqtt://b").code).toBe("mqtt-auth-rejected");
    expect(connectionCause({ code: 3, message: "Connection refused: Server unavailable" }, "mqtt://b").code).toBe("mqtt-refused");
    expect(connectionCause({ code: "ECONNREFUSED", message: "x" }, "mqtt://b").code).toBe("mqtt-unreachable");
    expect(connectionCause({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", message: "unable to verify the first certificate" }, "mqtts://b").code).toBe("mqtt-tls-failed");
    expect(connectionCause({ code: "ECONNRESET", message: "reset" }, "mqtts://b").code).toBe("mqtt-tls-failed");
    expect(connectionCause(new Error("connack timeout"), "mqtt://b").code).toBe("mqtt-unreachable");
  });
});

describe("FleetModel", () => {
  const t0 = Date.parse("2030-01-01T00:00:00.000Z");
  test("rows from status, presence, metrics and events; a repeated event id counts once", () => {
    const m = new FleetModel("cellkeep/");
    m.apply("cellkeep/gw-a/presence", "online", t0);
    m.apply("cellkeep/gw-a/status", JSON.stringify({ state: "connected", since: "2029-12-31T23:00:00.000Z", cause: null, signal: { rsrp: -97, rssi: -70 }, now: "2030-01-01T00:00:00.000Z" }), t0 + 5);
    expect(rowJson(m.row("gw-a"), t0 + 60_000)).toMatchObject({ presence: "online", state: "connected", signalDbm: -97, linkUptime: 3660, lastSeen: "2030-01-01T00:00:00.000Z" });
    const ev = (seq: number, state: string) => JSON.stringify({ q: "e", seq, type: "modem.state", at: t0 + seq, state, previous: "x", cause: state === "waiting" ? { code: "no-carrier" } : null });
    expect(m.apply("cellkeep/gw-a/events", ev(1, "waiting"), t0 + 10)?.kind).toBe("event");
    expect(m.apply("cellkeep/gw-a/events", ev(1, "waiting"), t0 + 11)?.kind).toBe("duplicate");
    expect(m.row("gw-a")).toMatchObject({ state: "waiting", cause: "no-carrier", linkUpSince: null, events: 1, duplicates: 1 });
    m.apply("cellkeep/gw-a/metrics", JSON.stringify({ t: t0 + 20, s: "connected", rssi: -60, up: 5, d: 3 }), t0 + 20);
    expect(m.row("gw-a")).toMatchObject({ state: "connected", cause: null, signal: -60, linkUpSince: t0 + 20 - 5000, dropped: 3 });
    expect(m.apply("other/gw-a/status", "{}", t0)).toBeNull();
    expect(m.apply("cellkeep/gw-b/status", "not json", t0)).toBeNull();
    m.apply("cellkeep/gw-b/presence", "offline", t0);
    const table = renderTable(m.gateways(), t0 + 30_000);
    expect(table.split("\n")[0]).toBe("2 gateways: 1 online, 1 connected");
    expect(table).toContain("DEVICE");
    expect(table).toMatch(/gw-a\s+online\s+connected\s+-\s+-60 dBm\s+29s ago\s+34s/);
    expect(table).toMatch(/gw-b\s+offline\s+\?/);
  });
});

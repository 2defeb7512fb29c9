/**
 * Secrets from the config (a 2-character PAP password, credentials inside
 * modem.init) never appear in log lines, /events, /status, /metrics or the
 * page, even when the modem echoes them back in a URC. Unit-level version of
 * test/agent/http-real.test.ts "the PAP password appears in no endpoint's
 * output": the config loader registers the secrets, events go through the
 * real event-log view and the real HTTP app.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { attachEventLog } from "../../src/agent/event-log.ts";
import { redactCommand } from "../../src/core/redact.ts";
import { cause } from "../../src/core/cause.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import { createHttpApp, type HttpApp } from "../../src/http/app.ts";
import { FakeLinkSource } from "../support/fake-source.ts";

/** auth.password: two characters. */
const PASSWORD = "Zj";
/** The password inside a modem.init AT+QICSGP: two characters as well. */
const INIT_PASSWORD = "Q7";
/** A PIN inside a modem.init AT+CLCK (all digits: must not be hunted inside numbers). */
const INIT_PIN = "8642";
const T0 = 1_700_000_000_000;

const CONFIG = `
[network]
apn = "internet"
[modem]
init = ['AT+QICSGP=1,1,"internet","gw","${INIT_PASSWORD}",1', 'AT+CLCK="SC",0,"${INIT_PIN}"']
[auth]
method = "pap"
username = "gw"
password = "${PASSWORD}"
`;

const apps: HttpApp[] = [];
afterAll(() => {
  for (const a of apps) a.close();
});

describe("short and modem.init secrets in every output", () => {
  test("the config loads and the short password is kept as given", () => {
    const r = loadConfigText(CONFIG);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.auth.password).toBe(PASSWORD);
  });

  test("URCs and answers that echo the credentials: log lines, /events, /status, /metrics and / never show them", async () => {
    expect(loadConfigText(CONFIG).ok).toBe(true);
    const bus = new EventBus<EventBase>(1000);
    const clock = { t: T0 };
    const textSink = new MemorySink();
    const jsonSink = new MemorySink();
    attachEventLog(bus, createLogger({ level: "debug", format: "text", sink: textSink }));
    attachEventLog(bus, createLogger({ level: "debug", format: "json", sink: jsonSink }));
    const app = createHttpApp({
      events: bus,
      clock: { now: () => clock.t },
      version: "9.9.9",
      startedAt: T0 - 60_000,
      token: null,
      counters: () => ({ bytesIn: 1, bytesOut: 2, packetsIn: 3, packetsOut: 4, errors: { badFcs: 0 } }),
    });
    apps.push(app);
    const src = new FakeLinkSource(bus, () => clock.t);
    src.bringUp();

    const urcs = [
      // The module's answer to a query of the stored context (a shape redactLine knows).
      `+QICSGP: 1,"internet","gw","${INIT_PASSWORD}",1`,
      // The init command echoed back (echo on after a module reboot).
      `AT+QICSGP=1,1,"internet","gw","${INIT_PASSWORD}",1`,
      `AT+CGAUTH=1,1,"gw","${PASSWORD}"`,
      // A line of a shape nobody listed: only the registered values can catch it.
      `+XAUTH: "gw","${PASSWORD}"`,
      `+XLOCK: "SC","${INIT_PIN}"`,
    ];
    for (const line of urcs) bus.emit({ type: "modem.urc", at: ++clock.t, name: line.split(":")[0]!, line } as EventBase);
    const failed = `AT+CLCK="SC",0,"${INIT_PIN}"`;
    bus.emit({ type: "modem.command-failed", at: ++clock.t, command: redactCommand(failed), status: "error", detail: `+CME ERROR: incorrect password "${PASSWORD}"` } as EventBase);
    src.setState("waiting", cause("auth-rejected", `peer said: password "${PASSWORD}" rejected`));

    const outputs: string[] = [];
    for (const p of ["/healthz", "/status", "/metrics", "/events?limit=1000", "/history", "/"]) {
      const r = await app.request(p);
      outputs.push(await r.text());
    }
    const events = JSON.parse(outputs[3]!) as { events: { type: string; line?: string }[] };
    const lines = events.events.filter((e) => e.type === "modem.urc").map((e) => e.line);
    expect(lines).toEqual([
      "+QICSGP: ***",
      "AT+QICSGP=***",
      "AT+CGAUTH=***",
      '+XAUTH: "gw","***"',
      '+XLOCK: "SC","***"',
    ]);
    expect(textSink.lines.length).toBeGreaterThan(10);
    expect(textSink.lines.some((l) => l.includes("+QICSGP: ***"))).toBe(true);
    for (const text of [...outputs, ...textSink.lines, ...jsonSink.lines]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(INIT_PASSWORD);
      expect(text).not.toContain(INIT_PIN);
    }
    // Every JSON output still parses (no number was eaten by the redaction).
    for (const i of [1, 3]) expect(() => JSON.parse(outputs[i]!)).not.toThrow();
    for (const l of jsonSink.lines) expect(() => JSON.parse(l)).not.toThrow();
  });
});

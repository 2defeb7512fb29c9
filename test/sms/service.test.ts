/**
 * SMS control end to end under fake time: the virtual modem's core on an
 * in-memory pipe, an AT channel, the agent's SMS wiring (src/agent/sms.ts)
 * with a real recovery ladder and status model. A stand-in supervisor hands
 * out the channel (as its side channel does) and records requested actions.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtChannel } from "../../src/at/channel.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import type { LinkState } from "../../src/core/agent-events.ts";
import { nullLogger } from "../../src/core/log.ts";
import { wireSms } from "../../src/agent/sms.ts";
import { openRecoveryFromConfig } from "../../src/health/persistent-ladder.ts";
import { StatusModel } from "../../src/status/model.ts";
import { TestModem, runUntil, testConfig } from "../modem/harness.ts";

const ALLOWED = "+491701234567";
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function rig(extra = "") {
  const dir = mkdtempSync(join(tmpdir(), "cellkeep-sms-"));
  dirs.push(dir);
  const config = testConfig(`[recovery]\nstate_file = "${dir}/recovery.json"\n[sms]\nallow_from = ["${ALLOWED}"]\nsecret = "s3cretpw"\n${extra}`);
  const sched = new ManualScheduler(Date.UTC(2025, 4, 1, 12, 0, 0));
  const modem = new TestModem(sched);
  const ch = new AtChannel(await modem.openPort(), sched);
  await ch.command("ATE0");
  const events = new EventBus<EventBase>(500);
  const seen: EventBase[] = [];
  events.on((e) => seen.push(e));
  // The supervisor turns every URC into a modem.urc event; SMS control listens there for +CMTI.
  ch.onUrc((u) => events.emit({ type: "modem.urc", at: u.at, name: u.name, line: u.line } as EventBase));
  const recovery = openRecoveryFromConfig(config, sched, (e) => events.emit(e));
  const status = new StatusModel({ clock: sched, version: "test", startedAt: sched.now() });
  status.follow(events);
  const requested: string[] = [];
  const supervisor = {
    state: "waiting" as LinkState,
    sideChannel: async () => ch,
    requestRedial: () => void requested.push("redial"),
    requestModemReset: () => void requested.push("reset"),
  };
  const wired = wireSms({ config, scheduler: sched, supervisor, recovery, status, events, runCommand: async () => ({ kind: "exited", code: 0, durationMs: 0 }), log: (process.env.DBG ? { ...nullLogger, warn: (...a: unknown[]) => console.log("WARN", ...a), child() { return this; } } as never : nullLogger) })!;
  const deliver = (from: string, text: string) => {
    const i = modem.core.deliverSms(from, text, sched.now());
    modem.pump();
    return i;
  };
  const of = <T extends string>(type: T) => seen.filter((e) => e.type === type) as (EventBase & Record<string, unknown>)[];
  return { sched, modem, ch, wired, deliver, of, requested, recovery, status, seen, stop: () => (wired.stop(), recovery.policy.stop(), modem.stop()) };
}

describe("SMS control under fake time", () => {
  test("an allowed `secret status` gets the status by SMS; the message is deleted", async () => {
    const r = await rig();
    r.deliver(ALLOWED, "s3cretpw status");
    expect(await runUntil(r.sched, () => r.modem.core.sms.sent.length > 0, 10_000)).toBe(true);
    const reply = r.modem.core.sms.sent[0]!;
    expect(reply.to).toBe(ALLOWED);
    expect(reply.text).toMatch(/^cellkeep test: starting/);
    expect(r.modem.core.sms.count).toBe(0);
    expect(r.of("sms.command")[0]).toMatchObject({ from: "+4917******67", command: "status", outcome: "done" });
    expect(r.of("sms.reply")[0]).toMatchObject({ ok: true, sent: 1, parts: 1 });
    // The secret never reaches an event.
    expect(JSON.stringify(r.seen)).not.toContain("s3cretpw");
    expect(r.status.snapshot().sms).toMatchObject({ commands: 1, rejected: 0, replies: 1 });
    r.stop();
  });

  test("a wrong secret and an unknown number: deleted, counted, never answered", async () => {
    const r = await rig();
    r.deliver(ALLOWED, "guess123 reboot");
    r.deliver("+4930999999", "s3cretpw status");
    expect(await runUntil(r.sched, () => r.of("sms.rejected").length === 2, 10_000)).toBe(true);
    expect(r.of("sms.rejected").map((e) => e.reason).sort()).toEqual(["bad-secret", "unknown-sender"]);
    expect(r.modem.core.sms.count).toBe(0);
    expect(r.modem.core.sms.sent).toEqual([]);
    expect(r.status.snapshot().sms.rejectedBy).toEqual({ "bad-secret": 1, "unknown-sender": 1 });
    r.stop();
  });

  test("rate limit: past sms.max_per_hour, commands are deleted unanswered until the hour has passed", async () => {
    const r = await rig("max_per_hour = 2");
    for (let i = 0; i < 3; i++) r.deliver(ALLOWED, "s3cretpw status");
    expect(await runUntil(r.sched, () => r.of("sms.rejected").length === 1 && r.modem.core.sms.sent.length === 2, 10_000)).toBe(true);
    expect(r.of("sms.rejected")[0]).toMatchObject({ reason: "rate-limited" });
    r.sched.advance(3_600_000);
    r.deliver(ALLOWED, "s3cretpw status");
    expect(await runUntil(r.sched, () => r.modem.core.sms.sent.length === 3, 10_000)).toBe(true);
    r.stop();
  });

  test("redial is refused during the network's back-off, and the reply says until when; force runs it", async () => {
    const r = await rig();
    const until = r.sched.now() + 30 * 60_000;
    r.recovery.policy.onNetworkBackoff(until, r.sched.now());
    r.deliver(ALLOWED, "s3cretpw redial");
    expect(await runUntil(r.sched, () => r.of("sms.reply").length === 1, 10_000)).toBe(true);
    // A long reply: numbered parts ("1/2 ...", "2/2 ..."), each one SMS.
    const sent = r.modem.core.sms.sent.map((m) => m.text);
    expect(sent.length).toBe(2);
    expect(sent[0]).toMatch(/^1\/2 /);
    for (const p of sent) expect(p.length).toBeLessThanOrEqual(160);
    const text = sent.map((p) => p.slice(4)).join(" ");
    expect(text).toContain("redial: refused-backoff: the network's back-off runs until 2025-05-01T12:30:00.000Z");
    expect(text).toContain('send "<secret> redial force"');
    expect(r.requested).toEqual([]);
    r.deliver(ALLOWED, "s3cretpw redial force");
    expect(await runUntil(r.sched, () => r.of("sms.reply").length === 2, 10_000)).toBe(true);
    expect(r.modem.core.sms.sent.at(-1)!.text).toMatch(/^redial: started/);
    expect(r.requested).toEqual(["redial"]);
    r.stop();
  });

  test("a message whose text is a result code (\"OK\") cannot desynchronise the AT channel", async () => {
    const r = await rig();
    r.deliver("+4930999999", "OK");
    r.deliver("+4930999998", "+CMTI: \"SM\",9\r\nOK");
    r.deliver(ALLOWED, "s3cretpw status");
    expect(await runUntil(r.sched, () => r.modem.core.sms.sent.length === 1, 10_000)).toBe(true);
    expect(r.of("sms.rejected").length).toBe(2);
    // The channel still pairs answers with commands.
    const a = await r.ch.command("AT+CMGF?");
    expect(a.lines).toEqual(["+CMGF: 1"]);
    r.stop();
  });

  test("no SMS control without sms.allow_from", async () => {
    const config = testConfig();
    expect(config.sms.allow_from).toEqual([]);
  });
});

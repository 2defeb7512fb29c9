/**
 * Events of the features issue 14 and 17 added to the status model (CMUX,
 * radio policy, APN and SIM failover, network time, SMS control), in the
 * shapes of src/core/agent-events.ts, for the tests of the views that show
 * them (the page, `cellkeep status`). One SMS sender arrives unmasked on
 * purpose: the views must mask it themselves.
 */
import { cause } from "../../src/core/cause.ts";
import type { AgentEvent } from "../../src/core/agent-events.ts";

/** As the SMS service emits it (masked), and one an emitter forgot to mask. */
export const MASKED_SENDER = "+4917*****23";
export const RAW_SENDER = "+491701234567";

/** The features' events ending at `now` (ms); `clockFailed` makes the system clock attempt fail. */
export function featureEvents(now: number, opts: { clockFailed?: boolean; roamingDenied?: boolean } = {}): AgentEvent[] {
  const counts = { framesIn: 5120, framesOut: 4800, badFcs: 2, garbageBytes: 0, malformed: 0, oversize: 0, retransmissions: 1, unexpected: 0, badControl: 0 };
  const dlcis = [
    { dlci: 1, use: "control", state: "open" as const, dcd: null },
    { dlci: 2, use: "data", state: "open" as const, dcd: true },
  ];
  const events: AgentEvent[] = [
    { type: "cmux.state", at: now - 60_000, state: "open", frameSize: 127, dlcis, counts: { ...counts, framesIn: 10, framesOut: 10, badFcs: 0, retransmissions: 0 }, cause: null },
    { type: "cmux.counts", at: now - 5_000, state: "open", frameSize: 127, dlcis, counts, cause: null },
    {
      type: "modem.radio", at: now - 50_000, profile: "quectel-bg77", written: 1, ok: true,
      settings: [
        { name: "technologies", result: "written", wanted: "lte-m,nb-iot", found: "gsm" },
        { name: "bands", result: "unchanged", wanted: "lte-m:3,8,20", found: "lte-m:3,8,20" },
        { name: "roaming", result: "unchanged", wanted: "deny", found: "deny" },
      ],
      notes: ["operator left as the modem has it"],
    },
    { type: "modem.apn", at: now - 40_000, apn: "iot.backup", index: 1, count: 3, previous: "internet", cause: cause("apn-rejected") },
    { type: "modem.sim-switch", at: now - 30_000, result: "switched", from: 1, to: 2, reason: "no service for 10 min" },
    { type: "time.network", at: now - 20_000, source: "nitz", networkTime: Date.parse("2025-02-20T11:59:38.500Z"), offsetMs: 1500 },
    opts.clockFailed
      ? { type: "time.system-clock", at: now - 19_000, result: "failed", reason: "unset", from: 0, to: 1, method: "clock_settime", cause: cause("clock-set-failed") }
      : { type: "time.system-clock", at: now - 19_000, result: "set", reason: "far-off", from: 0, to: 1, method: "clock_settime", cause: null },
    // Not "bad-secret": in a full test run the process-wide secret registry may hold "secret"
    // (another suite's sms.secret), and /status bodies are redacted through it.
    { type: "sms.rejected", at: now - 15_000, from: MASKED_SENDER, reason: "rate-limited" },
    { type: "sms.rejected", at: now - 14_000, from: MASKED_SENDER, reason: "rate-limited" },
    { type: "sms.rejected", at: now - 13_000, from: null, reason: "unknown-sender" },
    { type: "sms.command", at: now - 12_000, from: MASKED_SENDER, command: "status", force: false, outcome: "done", message: "status sent" },
    { type: "sms.reply", at: now - 11_000, to: MASKED_SENDER, sent: 2, parts: 2, ok: true },
    { type: "sms.command", at: now - 10_000, from: RAW_SENDER, command: "redial", force: true, outcome: "started", message: "redialling" },
    { type: "sms.reply", at: now - 9_000, to: MASKED_SENDER, sent: 0, parts: 1, ok: false, detail: "+CMS ERROR: 500" },
  ];
  if (opts.roamingDenied) {
    events.push({ type: "modem.state", at: now - 1_000, state: "waiting", previous: "registering", cause: cause("roaming-denied") });
  }
  return events;
}

/** The pure parts of SMS control: modem text, replies, the decision core. */
import { describe, expect, test } from "bun:test";
import { SmsControl, maskNumber } from "../../src/sms/control.ts";
import { fromUcs2Hex, gsmSafe, normalizeNumber, parseCmgl, parseCmgr, parseCmti, splitReply, SMS_CHARS } from "../../src/sms/text.ts";
import { ucs2Hex } from "../../src/config/sms-secret.ts";

const T0 = Date.UTC(2025, 4, 1, 12, 0, 0);

describe("modem text (27.005 text mode under AT+CSCS=\"UCS2\")", () => {
  test("CMGL: sender and text are hex; headers, indexes and service-centre time parsed", () => {
    const lines = [
      `+CMGL: 0,"REC UNREAD","${ucs2Hex("+491701234567")}",,"25/05/01,14:00:00+08"`,
      ucs2Hex("s3cretpw status"),
      `+CMGL: 3,"REC READ","${ucs2Hex("+4930111")}",,"25/05/01,13:59:00+08"`,
      ucs2Hex("OK"),
    ];
    expect(parseCmgl(lines)).toEqual([
      { index: 0, stat: "REC UNREAD", from: "+491701234567", text: "s3cretpw status", sentAt: T0 },
      { index: 3, stat: "REC READ", from: "+4930111", text: "OK", sentAt: T0 - 60_000 },
    ]);
  });

  test("CMGR and CMTI", () => {
    expect(parseCmgr(7, [`+CMGR: "REC UNREAD","${ucs2Hex("+4917")}",,"25/05/01,12:00:00+00"`, ucs2Hex("hi")])).toEqual({
      index: 7, stat: "REC UNREAD", from: "+4917", text: "hi", sentAt: T0,
    });
    expect(parseCmgr(7, [])).toBeNull();
    expect(parseCmti('+CMTI: "SM",12')).toBe(12);
    expect(parseCmti("+CMTI: ME,3")).toBe(3);
    expect(parseCmti("+CREG: 1")).toBeNull();
  });

  test("text the modem did not convert is kept as it is", () => {
    expect(fromUcs2Hex("hello")).toBe("hello");
    expect(fromUcs2Hex("00480069")).toBe("Hi");
  });

  test("numbers: 00 means +, separators dropped; masked like other personal ids", () => {
    expect(normalizeNumber("0049 170-123 4567")).toBe("+491701234567");
    expect(maskNumber("+491701234567")).toBe("+4917******67");
  });

  test("replies: GSM-safe, one SMS when short, numbered parts of at most 160 characters, capped", () => {
    expect(gsmSafe("a_b{c}\nd€")).toBe("a?b?c?; d?");
    expect(splitReply("short", 3)).toEqual(["short"]);
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
    const parts = splitReply(long, 5);
    expect(parts.length).toBe(3);
    expect(parts[0]!.startsWith("1/3 ")).toBe(true);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(SMS_CHARS);
    expect(parts.map((p) => p.slice(4)).join(" ")).toBe(long);
    const capped = splitReply(long.repeat(3), 2);
    expect(capped.length).toBe(2);
    expect(capped[1]!.endsWith("..")).toBe(true);
  });
});

describe("SmsControl: who may do what", () => {
  const control = () => new SmsControl({ allowFrom: ["+49 170 1234567"], secret: "s3cretpw", maxPerHour: 3, maxAgeMs: 15 * 60_000 });
  const msg = (text: string, from = "+491701234567", sentAt: number | null = T0) => ({ from, text, sentAt });

  test("an allowed sender with the secret and a command runs it; force is the one extra word", () => {
    const c = control();
    expect(c.decide(msg("s3cretpw status"), 0, T0)).toEqual({ kind: "command", command: "status", force: false });
    expect(c.decide(msg("  s3cretpw   RESET  force "), 1, T0)).toEqual({ kind: "command", command: "reset", force: true });
  });

  test("rejections, each with its reason", () => {
    const c = control();
    expect(c.decide(msg("s3cretpw status", "+4930999"), 0, T0)).toEqual({ kind: "rejected", reason: "unknown-sender" });
    expect(c.decide(msg("wrongpw status"), 0, T0)).toEqual({ kind: "rejected", reason: "bad-secret" });
    expect(c.decide(msg("s3cretpw dance"), 0, T0)).toEqual({ kind: "rejected", reason: "unknown-command" });
    // The rate limit counts every message from an allowed sender (not the unknown one): two so far, one left.
    expect(c.decide(msg("s3cretpw status"), 0, T0).kind).toBe("command");
    expect(c.decide(msg("s3cretpw status"), 0, T0)).toEqual({ kind: "rejected", reason: "rate-limited" });
  });

  test("the rate limit is a sliding hour on agent time", () => {
    const c = control();
    for (let i = 0; i < 3; i++) expect(c.decide(msg("s3cretpw status"), i * 1000, T0).kind).toBe("command");
    expect(c.decide(msg("s3cretpw status"), 10_000, T0)).toEqual({ kind: "rejected", reason: "rate-limited" });
    expect(c.rateLimitedUntil(10_000)).toBe(3_600_000);
    expect(c.decide(msg("s3cretpw status"), 3_600_000, T0).kind).toBe("command");
  });

  test("an old message does not run (a reboot queued while the gateway was off), unless the clock cannot judge it", () => {
    expect(control().decide(msg("s3cretpw reboot", undefined, T0 - 16 * 60_000), 0, T0)).toEqual({ kind: "rejected", reason: "stale" });
    // System clock still in 1970 (no RTC, no time yet): age unknown, the command runs.
    expect(control().decide(msg("s3cretpw reboot", undefined, T0 - 16 * 60_000), 0, 5_000).kind).toBe("command");
  });
});

/**
 * SMS control's decision core (issue 17): what a received SMS may do. No I/O,
 * no clock: the message and the times come in, a decision goes out.
 *
 * An SMS runs a command only when all hold, checked in this order:
 *   1. the sender is in sms.allow_from (else unknown-sender: it is not even
 *      read further, and it does not use up the rate limit);
 *   2. the rate limit has room: sms.max_per_hour messages from allowed
 *      senders in any hour (else rate-limited). Counted before the secret,
 *      so guessing the secret from a forged allowed number is slow too;
 *   3. the first word is sms.secret, compared in constant time (bad-secret);
 *   4. the second word is a command (status, redial, reset, reboot), with an
 *      optional third word "force" (unknown-command otherwise);
 *   5. it is not older than sms.max_age by its service-centre time stamp,
 *      when the system clock can be believed (stale: a "reboot" queued while
 *      the gateway was off must not run at the next boot).
 * Whatever the decision, the message is deleted; only a command is answered.
 */
import { timingSafeEqual } from "node:crypto";
import { SMS_COMMANDS, type SmsCommand, type SmsRejectReason } from "../core/agent-events.ts";
import { maskId } from "../core/mask.ts";
import { normalizeNumber, type StoredSms } from "./text.ts";

export interface SmsControlOptions {
  allowFrom: readonly string[];
  secret: string;
  maxPerHour: number;
  maxAgeMs: number;
}

export type SmsDecision = { kind: "command"; command: SmsCommand; force: boolean } | { kind: "rejected"; reason: SmsRejectReason };

/** A system clock before this cannot judge a message's age (see CLOCK_PLAUSIBLE_FROM in modem/network-time.ts). */
const WALL_BELIEVABLE_FROM = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

export class SmsControl {
  private readonly allowed: ReadonlySet<string>;
  private readonly secret: Buffer;
  /** Agent times of messages from allowed senders in the last hour. */
  private recent: number[] = [];

  constructor(private readonly o: SmsControlOptions) {
    this.allowed = new Set(o.allowFrom.map(normalizeNumber));
    this.secret = Buffer.from(o.secret, "utf8");
  }

  /** `now`: agent time (rate limit); `wallNow`: the system clock (age against the service-centre stamp). */
  decide(msg: Pick<StoredSms, "from" | "text" | "sentAt">, now: number, wallNow: number): SmsDecision {
    if (!this.allowed.has(normalizeNumber(msg.from))) return { kind: "rejected", reason: "unknown-sender" };
    this.recent = this.recent.filter((t) => now - t < HOUR);
    if (this.recent.length >= this.o.maxPerHour) return { kind: "rejected", reason: "rate-limited" };
    this.recent.push(now);
    const words = msg.text.trim().split(/\s+/);
    if (!this.secretMatches(words[0] ?? "")) return { kind: "rejected", reason: "bad-secret" };
    const command = (words[1] ?? "").toLowerCase();
    const extra = words.slice(2).map((w) => w.toLowerCase());
    const force = extra.length === 1 && extra[0] === "force";
    if (!(SMS_COMMANDS as readonly string[]).includes(command) || (extra.length > 0 && !force)) return { kind: "rejected", reason: "unknown-command" };
    if (msg.sentAt !== null && wallNow >= WALL_BELIEVABLE_FROM && wallNow - msg.sentAt > this.o.maxAgeMs) return { kind: "rejected", reason: "stale" };
    return { kind: "command", command: command as SmsCommand, force };
  }

  /** When the rate limit has room again (agent time), or null when it has room now. */
  rateLimitedUntil(now: number): number | null {
    const live = this.recent.filter((t) => now - t < HOUR);
    return live.length >= this.o.maxPerHour ? live[0]! + HOUR : null;
  }

  private secretMatches(word: string): boolean {
    const w = Buffer.from(word, "utf8");
    // Same length first (timingSafeEqual needs it); the length of the secret is not what it protects.
    return w.length === this.secret.length && timingSafeEqual(w, this.secret);
  }
}

/** A phone number for events and /status: first 5 and last 2 characters (personal data, as IMSI and ICCID). */
export function maskNumber(n: string): string {
  return maskId(normalizeNumber(n)) ?? "";
}

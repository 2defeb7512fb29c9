/**
 * SMS control's adapter: reads the modem's SMS store on the supervisor's side
 * channel (the control port while PPP holds the data port; the data port
 * itself only while it idles in command mode, src/modem/side-channel.ts),
 * on a +CMTI URC and every sms.poll_interval, decides with SmsControl, runs
 * the command through the agent (the same guarded actions as HTTP), and
 * answers by SMS.
 *
 * Order per message: decide, delete, act, answer. Deleting before acting
 * makes a command run at most once, even if cellkeep stops mid-action (a
 * "reboot" is never repeated from the store at the next start). A message
 * whose delete failed is remembered for this process so it is not run again.
 * Replies that could not go out (no channel now) wait in an outbox and go
 * first on the next round.
 */
import type { AtChannel } from "../at/channel.ts";
import type { SmsCommand, SmsCommandEvent, SmsRejectedEvent, SmsReplyEvent } from "../core/agent-events.ts";
import { WakeTimer, type Scheduler, type WallClock } from "../core/clock.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import { maskNumber, type SmsControl } from "./control.ts";
import { deleteSms, listSms, prepareSms, readSms, sendSms } from "./modem-sms.ts";
import { parseCmti, splitReply, type StoredSms } from "./text.ts";
import { CellkeepError } from "../core/cause.ts";

/** What the agent did with a command: the outcome, the reply text, and what to do once the reply is out (reboot). */
export interface SmsActionReply {
  outcome: string;
  /** The whole reply; cut into numbered SMS here. Never the secret. */
  text: string;
  /** One line for the event. */
  message: string;
  afterReply?: () => Promise<void>;
}

export interface SmsServiceDeps {
  scheduler: Scheduler & WallClock;
  channel: () => Promise<AtChannel | null>;
  control: SmsControl;
  settings: { poll_interval: number; max_reply_parts: number };
  run: (command: SmsCommand, force: boolean) => Promise<SmsActionReply>;
  emit: (e: SmsCommandEvent | SmsRejectedEvent | SmsReplyEvent) => void;
  log?: Logger;
}

interface Reply {
  to: string;
  parts: string[];
  sent: number;
  afterReply?: () => Promise<void>;
}

/** After a +CMTI, read almost at once (the URC may come in a burst of several). */
const URC_DELAY_MS = 200;
/** Messages handled whose delete failed, kept to not run them twice. */
const MAX_REMEMBERED = 200;

export class SmsService {
  /** The next read or round ("wake at T"). */
  private readonly wake: WakeTimer;
  private running = false;
  private round: Promise<void> | null = null;
  private again = false;
  private readonly prepared = new WeakSet<AtChannel>();
  private readonly announced = new Set<number>();
  private readonly handled = new Set<string>();
  private readonly outbox: Reply[] = [];
  private readonly log: Logger;

  constructor(private readonly d: SmsServiceDeps) {
    this.log = d.log ?? nullLogger;
    this.wake = new WakeTimer(d.scheduler, () => {
      void this.runRound();
    });
  }

  start(): void {
    this.running = true;
    this.arm(URC_DELAY_MS);
  }

  stop(): void {
    this.running = false;
    this.wake.disarm();
  }

  /** A URC from either port (the agent forwards modem.urc events): +CMTI starts a round. */
  onUrc(line: string): void {
    const index = parseCmti(line);
    if (index === null || !this.running) return;
    this.announced.add(index);
    this.arm(URC_DELAY_MS);
  }

  /** One round now: pending replies, then every stored message. Concurrent calls share it (and ask for one more). */
  runRound(): Promise<void> {
    if (this.round) {
      this.again = true;
      return this.round;
    }
    this.round = this.roundOnce().finally(() => {
      this.round = null;
      if (this.again && this.running) {
        this.again = false;
        this.arm(0);
      }
    });
    return this.round;
  }

  private arm(ms: number): void {
    if (!this.running) return;
    this.wake.arm(this.d.scheduler.now() + ms);
  }

  private async roundOnce(): Promise<void> {
    try {
      const ch = await this.d.channel();
      if (!ch) return;
      if (!this.prepared.has(ch)) {
        if (!(await prepareSms(ch))) return;
        this.prepared.add(ch);
      }
      if (!(await this.flushOutbox())) return;
      for (const msg of await this.messages(ch)) {
        if (!this.running) return;
        await this.handle(msg);
      }
      await this.flushOutbox();
    } catch (err) {
      // An AT failure carries its cause and hint; anything else is named as a failed round. The next poll retries.
      const c = err instanceof CellkeepError ? err.causeInfo : null;
      this.log.warn(
        c
          ? `SMS round failed: ${c.code}${c.detail ? ` (${c.detail})` : ""}; hint: ${c.hint}`
          : `SMS round failed: ${String(err)}; hint: the SMS store is read again at the next poll (sms.poll_interval)`,
      );
    } finally {
      this.arm(this.d.settings.poll_interval);
    }
  }

  /** The announced messages (AT+CMGR) and, on a poll, the whole store (AT+CMGL): each once. */
  private async messages(ch: AtChannel): Promise<StoredSms[]> {
    const out = new Map<number, StoredSms>();
    for (const index of [...this.announced]) {
      this.announced.delete(index);
      const m = await readSms(ch, index);
      if (m) out.set(m.index, m);
    }
    for (const m of (await listSms(ch)) ?? []) if (!out.has(m.index)) out.set(m.index, m);
    return [...out.values()].sort((a, b) => a.index - b.index);
  }

  private async handle(msg: StoredSms): Promise<void> {
    const key = `${msg.index}|${msg.from}|${msg.sentAt}|${msg.text}`;
    if (this.handled.has(key)) return;
    const { scheduler } = this.d;
    const decision = this.d.control.decide(msg, scheduler.now(), scheduler.wallNow());
    const ch = await this.d.channel();
    const deleted = ch ? await deleteSms(ch, msg.index) : false;
    if (!deleted) {
      this.handled.add(key);
      if (this.handled.size > MAX_REMEMBERED) this.handled.delete(this.handled.values().next().value!);
      this.log.warn("could not delete an SMS; it is remembered so it is not handled twice", { index: msg.index });
    }
    const from = maskNumber(msg.from);
    if (decision.kind === "rejected") {
      this.d.emit({ type: "sms.rejected", at: scheduler.now(), from: msg.from ? from : null, reason: decision.reason });
      return;
    }
    const r = await this.d.run(decision.command, decision.force);
    this.d.emit({ type: "sms.command", at: scheduler.now(), from, command: decision.command, force: decision.force, outcome: r.outcome, message: r.message });
    this.outbox.push({ to: msg.from, parts: splitReply(r.text, this.d.settings.max_reply_parts), sent: 0, ...(r.afterReply ? { afterReply: r.afterReply } : {}) });
    await this.flushOutbox();
  }

  /** Send what waits; false when the channel went away (the rest waits for the next round). */
  private async flushOutbox(): Promise<boolean> {
    while (this.outbox.length > 0) {
      const reply = this.outbox[0]!;
      const ch = await this.d.channel();
      if (!ch) return false;
      let failure: string | null = null;
      while (reply.sent < reply.parts.length) {
        failure = await sendSms(ch, reply.to, reply.parts[reply.sent]!);
        if (failure) break;
        reply.sent++;
      }
      // A failed send is reported and dropped (no retry loop of paid messages); the action itself has run.
      this.outbox.shift();
      const ok = failure === null;
      this.d.emit({
        type: "sms.reply",
        at: this.d.scheduler.now(),
        to: maskNumber(reply.to),
        sent: reply.sent,
        parts: reply.parts.length,
        ok,
        ...(failure ? { detail: failure } : {}),
      });
      if (reply.afterReply) await reply.afterReply();
    }
    return true;
  }
}

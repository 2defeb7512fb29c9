/**
 * The data call: PPP hand-off after CONNECT, holding the connected link, and
 * leaving data mode. The link ends when PPP reports down, the modem prints
 * NO CARRIER, the port vanishes, or an interrupt arrives; hanging up is
 * PPP's LCP Terminate first (RFC 1661 §5.5), then hangup.ts's procedure.
 */
import { dataEndCause, type AtChannel } from "../at/channel.ts";
import { cause, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { ModemEvent } from "./events.ts";
import { StepFailure } from "./failures.ts";
import { leaveDataMode, type HangupTiming } from "./hangup.ts";
import type { Interrupts } from "./interrupts.ts";
import type { CreatePppLink, PppLinkLike, PppUpInfo, SupervisorTiming } from "./types.ts";

export interface DataCallDeps<L extends PppLinkLike> {
  createPppLink: CreatePppLink<L>;
  scheduler: Scheduler;
  interrupts: Interrupts;
  timing: SupervisorTiming;
  emit(e: ModemEvent): void;
  /** Emit "ppp.up"/"ppp.down" here (false when the PPP module emits them itself). */
  emitPppEvents: boolean;
  /** The data port's channel now (it may have been reopened since the call began). */
  channel(): AtChannel | null;
  hangupTiming(): HangupTiming;
  upHooks: ReadonlySet<(info: PppUpInfo) => void>;
  downHooks: ReadonlySet<(c: Cause | null) => void>;
}

export class DataCall<L extends PppLinkLike> {
  /** The PPP link from CONNECT until hang-up. */
  link: L | null = null;
  private ended: Cause | null = null;

  constructor(private readonly d: DataCallDeps<L>) {}

  /** PPP on the data-mode stream after CONNECT; returns when the network layer is up, else hangs up and throws the cause. */
  async negotiate(ch: AtChannel): Promise<void> {
    const pipe = ch.dataPipe;
    if (!pipe) throw new StepFailure("dial-failed", "CONNECT but no data stream");
    const { interrupts, scheduler } = this.d;
    this.ended = null;
    let upInfo: PppUpInfo | null = null;
    const link = this.d.createPppLink(pipe, {
      up: (info) => {
        if (this.link !== link) return;
        upInfo = info;
        interrupts.wake();
      },
      down: (c) => {
        if (this.link !== link) return;
        this.ended = c ?? cause("terminated-by-peer");
        interrupts.wake();
      },
    });
    this.link = link;
    const offCarrier = this.watchCarrier(ch, link);
    try {
      link.start();
      const deadline = scheduler.now() + this.d.timing.negotiateTimeoutMs;
      while (!upInfo && !this.ended && !interrupts.current && scheduler.now() < deadline && ch.pipe.isOpen) {
        await interrupts.sleepUntil(deadline);
      }
    } finally {
      offCarrier();
    }
    if (upInfo) {
      const info: PppUpInfo = upInfo;
      if (this.d.emitPppEvents) this.d.emit({ type: "ppp.up", at: scheduler.now(), ...info });
      for (const fn of this.d.upHooks) fn(info);
      return;
    }
    const c =
      this.ended ??
      (!ch.pipe.isOpen
        ? cause("port-vanished")
        : interrupts.current
          ? interrupts.cause()
          : cause("lcp-timeout", `PPP not up ${Math.round(this.d.timing.negotiateTimeoutMs / 1000)} s after CONNECT`));
    await this.hangUp();
    throw new StepFailure(c.code, c.detail);
  }

  /** Connected: waits until the link ends (PPP down, NO CARRIER, port gone, interrupt); returns why. */
  async waitForEnd(ch: AtChannel): Promise<Cause> {
    const { interrupts } = this.d;
    const offCarrier = this.watchCarrier(ch, this.link);
    try {
      while (!this.ended && !interrupts.current && ch.pipe.isOpen) await interrupts.sleepUntil(null);
    } finally {
      offCarrier();
    }
    return this.ended ?? (!ch.pipe.isOpen ? cause("port-vanished") : interrupts.cause());
  }

  /** The connected link ended with `c`: report it ("ppp.down", onLinkDown hooks) and hang up. */
  async end(c: Cause): Promise<void> {
    if (this.d.emitPppEvents) this.d.emit({ type: "ppp.down", at: this.d.scheduler.now(), cause: c });
    for (const fn of this.d.downHooks) fn(c);
    await this.hangUp();
  }

  /** Leaving data mode: PPP's LCP Terminate first, then hangup.ts's procedure ("modem.hangup"). */
  async hangUp(): Promise<void> {
    const ch = this.d.channel();
    const link = this.link;
    this.link = null;
    if (link) await this.race(link.stop(), this.d.timing.pppStopTimeoutMs);
    if (!ch || !ch.pipe.isOpen) return;
    const { method, verified } = await leaveDataMode(ch, this.d.scheduler, this.d.hangupTiming());
    this.d.emit({ type: "modem.hangup", at: this.d.scheduler.now(), method, verified });
  }

  /** NO CARRIER (or the boot URC: the module rebooted) ends this link, unless PPP already said why. */
  private watchCarrier(ch: AtChannel, link: L | null): () => void {
    return ch.onDataEnd((why) => {
      const c = dataEndCause(why);
      if (c && this.link === link && !this.ended) {
        this.ended = c;
        this.d.interrupts.wake();
      }
    });
  }

  /** Waits for `p` (its failure ignored) at most `ms`. */
  private async race(p: Promise<void>, ms: number): Promise<void> {
    let cancel: CancelTimer = () => {};
    await Promise.race([
      p.catch(() => undefined),
      new Promise<void>((resolve) => {
        cancel = this.d.scheduler.setTimer(this.d.scheduler.now() + ms, resolve);
      }),
    ]);
    cancel();
  }
}

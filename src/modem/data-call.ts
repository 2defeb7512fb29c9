/**
 * The data call: the data bearer (core/data-bearer.ts; PPP today) on the
 * data-mode pipe after CONNECT, holding the connected link, and leaving data
 * mode. The link ends when the bearer reports down, the modem prints
 * NO CARRIER, the port vanishes, or an interrupt arrives; hanging up is the
 * bearer's own stop first (PPP: LCP Terminate, RFC 1661 §5.5), then
 * hangup.ts's procedure. The events keep their names "ppp.up"/"ppp.down"
 * whatever the bearer: users' log filters and dashboards rely on them.
 */
import { dataEndCause, type AtChannel } from "../at/channel.ts";
import { cause, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { BearerUpInfo, CreateBearer, DataBearer } from "../core/data-bearer.ts";
import type { ModemEvent } from "./events.ts";
import { StepFailure } from "./failures.ts";
import { leaveDataMode, type HangupTiming } from "./hangup.ts";
import type { Interrupts } from "./interrupts.ts";
import type { SupervisorTiming } from "./types.ts";

export interface DataCallDeps<B extends DataBearer> {
  createBearer: CreateBearer<B>;
  scheduler: Scheduler;
  interrupts: Interrupts;
  timing: SupervisorTiming;
  emit(e: ModemEvent): void;
  /** The data port's channel now (it may have been reopened since the call began). */
  channel(): AtChannel | null;
  hangupTiming(): HangupTiming;
  upHooks: ReadonlySet<(info: BearerUpInfo, bearer: B) => void>;
  downHooks: ReadonlySet<(c: Cause | null) => void>;
}

export class DataCall<B extends DataBearer> {
  /** The bearer from CONNECT until hang-up. */
  bearer: B | null = null;
  private ended: Cause | null = null;

  constructor(private readonly d: DataCallDeps<B>) {}

  /** The bearer on the data-mode stream after CONNECT; returns when it carries IP, else hangs up and throws the cause. */
  async negotiate(ch: AtChannel): Promise<void> {
    const pipe = ch.dataPipe;
    if (!pipe) throw new StepFailure("dial-failed", "CONNECT but no data stream");
    const { interrupts, scheduler } = this.d;
    this.ended = null;
    let upInfo: BearerUpInfo | null = null;
    const bearer = this.d.createBearer(pipe, {
      up: (info) => {
        if (this.bearer !== bearer) return;
        upInfo = info;
        interrupts.wake();
      },
      down: (c) => {
        if (this.bearer !== bearer) return;
        this.ended = c ?? cause("terminated-by-peer");
        interrupts.wake();
      },
    });
    this.bearer = bearer;
    const offCarrier = this.watchCarrier(ch, bearer);
    try {
      bearer.start();
      const deadline = scheduler.now() + this.d.timing.negotiateTimeoutMs;
      while (!upInfo && !this.ended && !interrupts.current && scheduler.now() < deadline && ch.pipe.isOpen) {
        await interrupts.sleepUntil(deadline);
      }
    } finally {
      offCarrier();
    }
    if (upInfo) {
      const info: BearerUpInfo = upInfo;
      this.d.emit({ type: "ppp.up", at: scheduler.now(), ipv4: info.ipv4, ipv6: info.ipv6, mru: info.mtu });
      for (const fn of this.d.upHooks) fn(info, bearer);
      return;
    }
    const c =
      this.ended ??
      (!ch.pipe.isOpen
        ? cause("port-vanished")
        : interrupts.current
          ? interrupts.cause()
          : cause("lcp-timeout", `${bearer.kind.toUpperCase()} not up ${Math.round(this.d.timing.negotiateTimeoutMs / 1000)} s after CONNECT`));
    await this.hangUp();
    throw new StepFailure(c.code, c.detail);
  }

  /** Connected: waits until the link ends (bearer down, NO CARRIER, port gone, interrupt); returns why. */
  async waitForEnd(ch: AtChannel): Promise<Cause> {
    const { interrupts } = this.d;
    const offCarrier = this.watchCarrier(ch, this.bearer);
    try {
      while (!this.ended && !interrupts.current && ch.pipe.isOpen) await interrupts.sleepUntil(null);
    } finally {
      offCarrier();
    }
    return this.ended ?? (!ch.pipe.isOpen ? cause("port-vanished") : interrupts.cause());
  }

  /** The connected link ended with `c`: report it ("ppp.down", onLinkDown hooks) and hang up. */
  async end(c: Cause): Promise<void> {
    this.d.emit({ type: "ppp.down", at: this.d.scheduler.now(), cause: c });
    for (const fn of this.d.downHooks) fn(c);
    await this.hangUp();
  }

  /** Leaving data mode: the bearer's own stop first (PPP: LCP Terminate), then hangup.ts's procedure ("modem.hangup"). */
  async hangUp(): Promise<void> {
    const ch = this.d.channel();
    const bearer = this.bearer;
    this.bearer = null;
    if (bearer) await this.race(bearer.stop(), this.d.timing.bearerStopTimeoutMs);
    if (!ch || !ch.pipe.isOpen) return;
    const { method, verified } = await leaveDataMode(ch, this.d.scheduler, this.d.hangupTiming());
    this.d.emit({ type: "modem.hangup", at: this.d.scheduler.now(), method, verified });
  }

  /** NO CARRIER (or the boot URC: the module rebooted) ends this call, unless the bearer already said why. */
  private watchCarrier(ch: AtChannel, bearer: B | null): () => void {
    return ch.onDataEnd((why) => {
      const c = dataEndCause(why);
      if (c && this.bearer === bearer && !this.ended) {
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

/**
 * CmuxSession: the thin adapter that runs a CmuxCore on one serial BytePipe
 * and hands out one BytePipe per DLCI. It owns the core's one wake timer,
 * turns opens into promises, watches the mux (frame errors, a DLCI that
 * stops answering while another flows, a module that left the mux by
 * rebooting) and reports all of it as `cmux.*` events.
 *
 * Closing the session sends CLD and waits for its answer (bounded by N2 × T2),
 * then closes the serial pipe; every DLCI pipe ends with it. When the module
 * leaves on its own (its boot URC in plain text outside any frame) the text
 * is handed to the primary DLCI's pipe first, as the module's own words: the
 * AT channel on it then sees RDY, as it would on a plain port.
 */
import { cause, CellkeepError, type Cause, type CauseCode } from "../core/cause.ts";
import { WakeTimer, type Scheduler } from "../core/clock.ts";
import type { CmuxCountsView, CmuxDlciView, CmuxEvent } from "../core/agent-events.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import { PipeBase, type BytePipe } from "../core/pipe.ts";
import type { V24Signals } from "./control.ts";
import { CmuxCore, type CmuxParams } from "./core.ts";

export interface CmuxWatchOptions {
  /** Frame errors (bad FCS, malformed, oversize) within `errorWindowMs` that make a cmux-frame-errors fault. */
  errorLimit: number;
  errorWindowMs: number;
  /** A DLCI written to and silent this long while another DLCI receives: cmux-dlci-silent. 0 = off. */
  silentAfterMs: number;
}

export const DEFAULT_WATCH: CmuxWatchOptions = { errorLimit: 20, errorWindowMs: 10_000, silentAfterMs: 60_000 };

export interface CmuxSessionOptions {
  scheduler: Scheduler;
  params: Partial<CmuxParams>;
  log?: Logger;
  emit?: (e: CmuxEvent) => void;
  /** The module's boot URC (Quectel: RDY): seen in plain text, the module rebooted out of the mux. */
  bootUrc?: string | null;
  /** The DLCI that receives the module's plain text when it leaves the mux (the one the supervisor runs AT on). */
  primaryDlci?: number;
  /** What each DLCI is used for, for the status ("control", "data"). */
  uses?: Record<number, string>;
  watch?: Partial<CmuxWatchOptions>;
  /** Every frame both ways (pcap, link type 236). */
  trace?: (dir: "in" | "out", raw: Uint8Array, at: number) => void;
}

/**
 * One DLCI as a BytePipe. Closing it sends DISC on that DLCI only; closing
 * the primary one (the supervisor's "port") closes the whole session (CLD,
 * then the serial port), as closing a plain port would.
 */
class DlciPipe extends PipeBase {
  private readonly drainListeners = new Set<() => void>();
  constructor(
    readonly dlci: number,
    private readonly session: CmuxSession,
    private readonly serial: BytePipe,
    private readonly primary: boolean,
  ) {
    super();
  }
  write(data: Uint8Array): void {
    if (this.closed) return;
    this.session.sendOn(this.dlci, data);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.finish(null);
    if (this.primary) await this.session.close();
    else await this.session.closeDlci(this.dlci);
  }
  /** What the mux holds for this DLCI (flow control) plus the serial line's own backlog. */
  backlogBytes(): number {
    return this.session.heldFor(this.dlci) + (this.serial.backlogBytes?.() ?? 0);
  }
  onDrain(fn: () => void): () => void {
    this.drainListeners.add(fn);
    const offSerial = this.serial.onDrain?.(fn);
    return () => {
      this.drainListeners.delete(fn);
      offSerial?.();
    };
  }
  /** What flow control held went out (the serial line may not report a drain of its own for it). */
  drained(): void {
    if (this.closed) return;
    for (const fn of this.drainListeners) fn();
  }
  push(data: Uint8Array): void {
    if (!this.closed) this.deliver(data);
  }
  end(reason: Cause | null): void {
    this.finish(reason);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: CellkeepError) => void;
}

export class CmuxSession {
  readonly core: CmuxCore;
  private readonly wake: WakeTimer;
  private readonly log: Logger;
  private readonly watch: CmuxWatchOptions;
  private readonly pipes = new Map<number, DlciPipe>();
  private readonly openWaiters = new Map<number, Waiter>();
  private readonly signalListeners = new Set<(dlci: number, s: V24Signals) => void>();
  private readonly endListeners = new Set<(c: Cause | null) => void>();
  private readonly faultListeners = new Set<(c: Cause) => void>();
  private readonly unsubs: Array<() => void> = [];
  private closeWaiter: (() => void) | null = null;
  private ended = false;
  /** Recent frame-error times, for the error window. */
  private errorTimes: number[] = [];
  private faulted = new Set<CauseCode>();
  /** Per DLCI: when we first wrote without an answer since, and when it last received. */
  private awaiting = new Map<number, number>();
  private lastRx = new Map<number, number>();
  private countsEmittedAt = 0;
  private countsDirty = false;
  private plainText = "";

  constructor(
    private readonly serial: BytePipe,
    private readonly opts: CmuxSessionOptions,
  ) {
    this.log = opts.log ?? nullLogger;
    this.watch = { ...DEFAULT_WATCH, ...opts.watch };
    const at = () => opts.scheduler.now();
    this.core = new CmuxCore(opts.params, {
      opened: (dlci) => this.onOpened(dlci),
      openFailed: (dlci, why) => this.onOpenFailed(dlci, why),
      closed: (dlci, byPeer) => this.onClosed(dlci, byPeer),
      data: (dlci, data) => this.onData(dlci, data),
      signals: (dlci, s) => {
        for (const fn of this.signalListeners) fn(dlci, s);
        this.emitState("cmux.state");
      },
      closeDown: (byPeer) => this.onCloseDown(byPeer),
      garbage: (g) => this.onGarbage(g),
      rejected: () => this.onFrameError(),
      ...(opts.trace ? { trace: (dir: "in" | "out", raw: Uint8Array) => opts.trace!(dir, raw, at()) } : {}),
    });
    this.wake = new WakeTimer(opts.scheduler, () => this.step(() => this.core.tick(at())));
    this.unsubs.push(
      serial.onData((d) => this.step(() => this.core.receive(d, at()))),
      serial.onClose((reason) => this.finish(reason ?? cause("port-vanished", "the serial port under the CMUX session closed"))),
    );
  }

  get isOpen(): boolean {
    return !this.ended && this.core.state(0) === "open";
  }

  /** SABM on DLCI 0; resolves on UA; rejects with cmux-no-answer after N2 tries. */
  start(): Promise<void> {
    this.emitState("cmux.state", "entering");
    return this.openDlci(0);
  }

  /**
   * Opens a DLCI (SABM/UA) and returns its pipe; the same pipe while it stays
   * open. Closing the `primary` pipe closes the session.
   */
  async channel(dlci: number, opts: { primary?: boolean } = {}): Promise<BytePipe> {
    const have = this.pipes.get(dlci);
    if (have && have.isOpen) return have;
    await this.openDlci(dlci);
    const pipe = new DlciPipe(dlci, this, this.serial, opts.primary === true);
    this.pipes.set(dlci, pipe);
    this.emitState("cmux.state");
    return pipe;
  }

  /** The module's last V.24 signals for a DLCI (MSC), null before any. */
  signals(dlci: number): V24Signals | null {
    return this.core.peerSignals(dlci);
  }

  onSignals(fn: (dlci: number, s: V24Signals) => void): () => void {
    this.signalListeners.add(fn);
    return () => this.signalListeners.delete(fn);
  }

  /** The session ended (null: we closed it). */
  onEnd(fn: (c: Cause | null) => void): () => void {
    this.endListeners.add(fn);
    return () => this.endListeners.delete(fn);
  }

  /** A named trouble the recovery ladder should hear (cmux-frame-errors, cmux-dlci-silent); once per session and code. */
  onFault(fn: (c: Cause) => void): () => void {
    this.faultListeners.add(fn);
    return () => this.faultListeners.delete(fn);
  }

  /** CLD, wait for the answer (or N2 × T2), then close the serial pipe. */
  async close(): Promise<void> {
    if (this.ended) return;
    if (this.core.state(0) === "open" && this.serial.isOpen) {
      const done = new Promise<void>((resolve) => (this.closeWaiter = resolve));
      this.step(() => this.core.closeDown(this.opts.scheduler.now()));
      await done;
    }
    this.finish(null);
  }

  /** Status view of the DLCIs. */
  dlciViews(): CmuxDlciView[] {
    const uses = this.opts.uses ?? {};
    return this.core
      .dlcis()
      .filter((d) => d !== 0)
      .map((dlci) => {
        const s = this.core.peerSignals(dlci);
        return { dlci, use: uses[dlci] ?? "other", state: this.core.state(dlci), dcd: s ? s.dv : null };
      });
  }

  counts(): CmuxCountsView {
    const c = this.core.counters;
    return { framesIn: c.frames, framesOut: c.framesOut, badFcs: c.badFcs, garbageBytes: c.garbageBytes, malformed: c.malformed, oversize: c.oversize, retransmissions: c.retransmissions, unexpected: c.unexpected, badControl: c.badControl };
  }

  // ───────────────────────────── used by DlciPipe ─────────────────────────────

  sendOn(dlci: number, data: Uint8Array): void {
    if (this.ended) return;
    const now = this.opts.scheduler.now();
    if (!this.awaiting.has(dlci)) this.awaiting.set(dlci, now);
    this.step(() => this.core.send(dlci, data));
  }

  heldFor(dlci: number): number {
    return this.core.queued(dlci);
  }

  async closeDlci(dlci: number): Promise<void> {
    this.pipes.delete(dlci);
    if (this.ended || this.core.state(dlci) === "closed") return;
    const done = new Promise<void>((resolve) => this.openWaiters.set(dlci, { resolve, reject: () => resolve() }));
    this.step(() => this.core.close(dlci, this.opts.scheduler.now()));
    await done;
    this.emitState("cmux.state");
  }

  // ───────────────────────────── core callbacks ─────────────────────────────

  private openDlci(dlci: number): Promise<void> {
    if (this.ended) return Promise.reject(new CellkeepError("port-vanished", "the CMUX session has ended"));
    if (this.core.state(dlci) === "open") return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.openWaiters.set(dlci, { resolve, reject });
      this.step(() => this.core.open(dlci, this.opts.scheduler.now()));
    });
  }

  private onOpened(dlci: number): void {
    const w = this.openWaiters.get(dlci);
    this.openWaiters.delete(dlci);
    if (dlci === 0) this.emitState("cmux.state", "open");
    w?.resolve();
  }

  private onOpenFailed(dlci: number, why: "refused" | "no-answer"): void {
    const w = this.openWaiters.get(dlci);
    this.openWaiters.delete(dlci);
    const p = this.opts.params;
    w?.reject(new CellkeepError("cmux-no-answer", why === "refused" ? `DLCI ${dlci}: the module answered DM` : `DLCI ${dlci}: no UA after ${(p.n2 ?? 3) + 1} SABM, ${p.t1Ms ?? 100} ms apart`));
  }

  private onClosed(dlci: number, byPeer: boolean): void {
    const w = this.openWaiters.get(dlci);
    this.openWaiters.delete(dlci);
    w?.resolve();
    const pipe = this.pipes.get(dlci);
    this.pipes.delete(dlci);
    this.awaiting.delete(dlci);
    pipe?.end(byPeer ? cause("port-vanished", `the module closed DLCI ${dlci}`) : null);
  }

  private onData(dlci: number, data: Uint8Array): void {
    const now = this.opts.scheduler.now();
    this.awaiting.delete(dlci);
    this.lastRx.set(dlci, now);
    this.pipes.get(dlci)?.push(data);
  }

  private onCloseDown(byPeer: boolean): void {
    const w = this.closeWaiter;
    this.closeWaiter = null;
    if (w) {
      w();
      return;
    }
    // The module closed the mux by itself: every DLCI ends.
    this.finish(byPeer ? cause("port-vanished", "the module closed the CMUX session") : null);
  }

  /**
   * Octets outside frames. A module that rebooted left the mux and prints its
   * boot URC in plain text: that ends the session (module-rebooted), after the
   * text is handed to the primary DLCI, where the supervisor waits for it.
   */
  private onGarbage(g: Uint8Array): void {
    this.countsDirty = true;
    const boot = this.opts.bootUrc;
    if (!boot) return;
    // Keep a short tail only: this is a look-out for one line, not a buffer of noise.
    this.plainText = (this.plainText + String.fromCharCode(...g.subarray(0, 256))).slice(-64);
    if (!this.plainText.includes(`\r\n${boot}\r\n`)) return;
    this.log.warn("the module left the mux: its boot URC came in plain text", { urc: boot });
    const primary = this.pipes.get(this.opts.primaryDlci ?? -1);
    primary?.push(new TextEncoder().encode(`\r\n${boot}\r\n`));
    this.core.abandon();
    this.finish(cause("module-rebooted", `${boot} in plain text on the CMUX line`));
  }

  private onFrameError(): void {
    this.countsDirty = true;
    const now = this.opts.scheduler.now();
    this.errorTimes.push(now);
    const from = now - this.watch.errorWindowMs;
    while (this.errorTimes.length > 0 && this.errorTimes[0]! < from) this.errorTimes.shift();
    if (this.errorTimes.length >= this.watch.errorLimit) {
      const c = this.counts();
      this.fault(cause("cmux-frame-errors", `${this.errorTimes.length} bad frames in ${this.watch.errorWindowMs / 1000} s (bad FCS ${c.badFcs}, malformed ${c.malformed}, oversize ${c.oversize}, garbage ${c.garbageBytes} octets)`));
      this.errorTimes = [];
    }
  }

  private fault(c: Cause): void {
    this.emitState("cmux.fault", undefined, c);
    if (this.faulted.has(c.code)) return;
    this.faulted.add(c.code);
    this.log.warn(c.hint, { cause: c.code, detail: c.detail });
    for (const fn of this.faultListeners) fn(c);
  }

  /** The silent-DLCI watch: written to, no answer since, while another DLCI received after that. */
  private checkSilent(now: number): number | null {
    const limit = this.watch.silentAfterMs;
    if (limit <= 0) return null;
    let next: number | null = null;
    for (const [dlci, first] of this.awaiting) {
      // The module asked us to hold this DLCI (FC): its silence is its own request, not a hang.
      // The clock starts again once it lets our data through.
      const since = this.core.holding(dlci) ? now : first;
      if (since !== first) this.awaiting.set(dlci, since);
      const due = since + limit;
      if (now < due) {
        next = next === null ? due : Math.min(next, due);
        continue;
      }
      const othersFlow = [...this.lastRx].some(([d, t]) => d !== dlci && d !== 0 && t > since);
      if (!othersFlow) continue;
      this.awaiting.delete(dlci);
      const use = this.opts.uses?.[dlci] ?? "other";
      this.fault(cause("cmux-dlci-silent", `DLCI ${dlci} (${use}) silent for ${Math.round((now - since) / 1000)} s while other DLCIs receive`));
    }
    return next;
  }

  private finish(reason: Cause | null): void {
    if (this.ended) return;
    this.ended = true;
    this.wake.disarm();
    for (const u of this.unsubs) u();
    for (const [, w] of this.openWaiters) w.reject(new CellkeepError("port-vanished", "the CMUX session ended"));
    this.openWaiters.clear();
    this.closeWaiter?.();
    this.closeWaiter = null;
    for (const pipe of [...this.pipes.values()]) pipe.end(reason);
    this.pipes.clear();
    this.emitState("cmux.state", "closed", reason);
    // The last answers (UA to the module's DISC on DLCI 0, the response to its CLD) go out before the port closes.
    this.flushOutput();
    if (this.serial.isOpen) void this.serial.close();
    for (const fn of this.endListeners) fn(reason);
  }

  private step(fn: () => void): void {
    if (this.ended) return;
    const held = [...this.pipes.values()].filter((p) => this.core.queued(p.dlci) > 0);
    fn();
    this.flushOutput();
    if (this.ended) return;
    for (const p of held) if (this.core.queued(p.dlci) === 0) p.drained();
    const now = this.opts.scheduler.now();
    const silentAt = this.checkSilent(now);
    const coreAt = this.core.nextDeadline();
    let at = coreAt;
    if (silentAt !== null && (at === null || silentAt < at)) at = silentAt;
    if (this.countsDirty && now - this.countsEmittedAt >= 1000) this.emitState("cmux.counts");
    this.wake.arm(at);
  }

  private flushOutput(): void {
    const out = this.core.takeOutput();
    if (out.length > 0 && this.serial.isOpen) this.serial.write(out);
  }

  private emitState(type: CmuxEvent["type"], state?: CmuxEvent["state"], c: Cause | null = null): void {
    const now = this.opts.scheduler.now();
    if (type === "cmux.counts" || type === "cmux.fault") {
      this.countsEmittedAt = now;
      this.countsDirty = false;
    }
    const st: CmuxEvent["state"] = state ?? (this.ended ? "closed" : this.core.state(0) === "open" ? "open" : "entering");
    this.opts.emit?.({
      type,
      at: now,
      state: st,
      frameSize: this.core.params.maxFrame,
      dlcis: this.ended ? [] : this.dlciViews(),
      counts: this.counts(),
      cause: c,
    });
  }
}

/**
 * AtChannel: the thin adapter that joins an AtChannelCore to a BytePipe and a
 * Scheduler. It owns one wake timer (the core's next deadline), turns
 * responses into promises, fans URCs out, and on CONNECT offers the byte
 * stream to PPP as a BytePipe view (`dataPipe`) until the call ends.
 */
import { cause, type Cause } from "../core/cause.ts";
import { WakeTimer, type Scheduler } from "../core/clock.ts";
import { PipeBase, type BytePipe } from "../core/pipe.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import { AtChannelCore, type AtResponse, type AtUrc, type DataEnd } from "./core.ts";
import { redactCommand } from "../core/redact.ts";

export type { AtResponse, AtUrc, AtStatus, DataEnd } from "./core.ts";

/** Bytes kept for PPP between CONNECT and the moment it subscribes. */
const DATA_BUFFER_LIMIT = 64 * 1024;

/** The byte stream while the modem is in data mode; closing it does not close the port. */
class DataModePipe extends PipeBase {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private listening = false;

  constructor(private readonly port: BytePipe) {
    super();
  }
  write(data: Uint8Array): void {
    if (this.closed || !this.port.isOpen) return;
    this.port.write(data);
  }
  override onData(fn: (data: Uint8Array) => void): () => void {
    const off = super.onData(fn);
    if (!this.listening) {
      this.listening = true;
      // Deliver what arrived with CONNECT on the next microtask: the subscriber (PppLink.start)
      // subscribes before it opens its session, and the peer's first Configure-Request must not
      // reach a session still in Initial.
      queueMicrotask(() => {
        const pending = this.buffered;
        this.buffered = [];
        this.bufferedBytes = 0;
        for (const chunk of pending) this.deliver(chunk);
      });
    }
    return off;
  }
  push(data: Uint8Array): void {
    if (this.closed) return;
    if (this.listening && this.buffered.length === 0) {
      this.deliver(data);
      return;
    }
    if (this.bufferedBytes + data.length > DATA_BUFFER_LIMIT) return;
    this.buffered.push(data.slice());
    this.bufferedBytes += data.length;
  }
  end(reason: Cause | null): void {
    this.finish(reason);
  }
  async close(): Promise<void> {
    this.finish(null);
  }
  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
    await this.port.setLines?.(lines);
  }
  /** The port's write backlog: PPP in data mode is paced by the serial line itself. */
  backlogBytes(): number {
    return this.port.backlogBytes?.() ?? 0;
  }
  onDrain(fn: () => void): () => void {
    return this.port.onDrain?.(fn) ?? (() => {});
  }
}

/** Why the call ended, as a cause, when the modem ended it (null: we took the line back ourselves). */
export function dataEndCause(why: DataEnd): Cause | null {
  switch (why) {
    case "no-carrier":
      return cause("carrier-lost");
    case "rebooted":
      return cause("module-rebooted", "RDY in the data stream");
    case "resumed":
      return null;
  }
}

export interface AtChannelOptions {
  log?: Logger;
  /** Limit for commands sent without one (V.250 basic commands answer in well under 300 ms). */
  defaultTimeoutMs?: number;
}

export class AtChannel {
  private readonly core: AtChannelCore;
  private readonly wake: WakeTimer;
  private readonly waiters = new Map<number, (r: AtResponse) => void>();
  private readonly urcListeners = new Set<(u: AtUrc) => void>();
  private readonly dataEndListeners = new Set<(why: DataEnd) => void>();
  private readonly unsubs: Array<() => void> = [];
  private view: DataModePipe | null = null;
  private detached = false;
  private readonly log: Logger;
  private readonly defaultTimeoutMs: number;
  /** When the modem last sent anything (command mode or data mode). */
  lastRxAt: number | null = null;

  constructor(
    readonly pipe: BytePipe,
    private readonly scheduler: Scheduler,
    opts: AtChannelOptions = {},
  ) {
    this.log = opts.log ?? nullLogger;
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 300;
    this.core = new AtChannelCore({
      write: (bytes) => {
        if (this.pipe.isOpen) this.pipe.write(bytes);
      },
      response: (id, r) => {
        const w = this.waiters.get(id);
        this.waiters.delete(id);
        if (r.status !== "ok") this.log.debug("at result", { command: redactCommand(r.command), status: r.status, detail: r.detail || undefined });
        w?.(r);
      },
      urc: (u) => {
        for (const fn of this.urcListeners) fn(u);
      },
      data: (bytes) => this.view?.push(bytes),
      dataStarted: () => {
        this.view = new DataModePipe(this.pipe);
      },
      dataEnded: (why) => {
        const v = this.view;
        this.view = null;
        v?.end(dataEndCause(why));
        for (const fn of this.dataEndListeners) fn(why);
      },
    });
    this.wake = new WakeTimer(scheduler, () => this.afterInput(() => this.core.tick(this.scheduler.now())));
    this.unsubs.push(
      pipe.onData((data) => {
        if (this.detached) return;
        this.lastRxAt = this.scheduler.now();
        this.afterInput(() => this.core.receive(data, this.scheduler.now()));
      }),
      pipe.onClose((reason) => {
        this.view?.end(reason ?? cause("port-vanished"));
        this.view = null;
        this.detach();
      }),
    );
  }

  /** Send a command; resolves with its final result (never rejects). `body`: text for the "> " prompt (AtRequest.body). */
  command(command: string, timeoutMs = this.defaultTimeoutMs, body?: string): Promise<AtResponse> {
    const now = this.scheduler.now();
    if (this.detached || !this.pipe.isOpen) {
      return Promise.resolve({ command, status: "aborted", lines: [], detail: "port closed", sentAt: now, doneAt: now });
    }
    return new Promise((resolve) => {
      this.afterInput(() => {
        const id = this.core.submit(body === undefined ? { command, timeoutMs } : { command, timeoutMs, body }, now);
        this.waiters.set(id, resolve);
      });
    });
  }

  onUrc(fn: (u: AtUrc) => void): () => void {
    this.urcListeners.add(fn);
    return () => this.urcListeners.delete(fn);
  }

  onDataEnd(fn: (why: DataEnd) => void): () => void {
    this.dataEndListeners.add(fn);
    return () => this.dataEndListeners.delete(fn);
  }

  get mode(): "command" | "data" {
    return this.core.mode;
  }

  get stats() {
    return this.core.stats;
  }

  /** The data-mode byte stream after CONNECT, for PPP; null in command mode. */
  get dataPipe(): BytePipe | null {
    return this.view;
  }

  /** Take the stream back after the call ended without a NO CARRIER we saw. */
  resumeCommandMode(): void {
    this.afterInput(() => this.core.resumeCommandMode(this.scheduler.now()));
  }

  /** Write bytes outside the command protocol (the "+++" escape). */
  writeRaw(data: Uint8Array): void {
    if (!this.detached && this.pipe.isOpen) this.pipe.write(data);
  }

  /** Fail all pending commands with "aborted". */
  abortAll(): void {
    this.afterInput(() => this.core.abortAll(this.scheduler.now()));
  }

  /** Stop using the pipe (does not close it); pending commands end "aborted". */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    for (const u of this.unsubs) u();
    this.core.abortAll(this.scheduler.now());
    this.wake.disarm();
  }

  get isDetached(): boolean {
    return this.detached;
  }

  private afterInput(fn: () => void): void {
    fn();
    this.wake.arm(this.detached ? null : this.core.nextDeadline());
  }
}

/** AT+CPIN="1234" must never reach a log (see redact.ts for the commands covered). */
export { redactCommand };

/**
 * Signal/cell polling while connected: every `intervalMs` on the control
 * port (the bearer owns the data port), one reading at a time. Without a control
 * port there is nothing to poll while connected; the supervisor then takes a
 * reading between calls.
 */
import type { AtChannel } from "../at/channel.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";

export interface SignalPollerDeps {
  scheduler: Scheduler;
  /** 0 = off. */
  intervalMs: number;
  openControl(): Promise<void>;
  control(): AtChannel | null;
  poll(ch: AtChannel): Promise<void>;
}

export class SignalPoller {
  private timer: CancelTimer | null = null;
  /** Bumped by start() and stop(): a poll or port opening that finishes after stop() must not re-arm. */
  private generation = 0;

  constructor(private readonly d: SignalPollerDeps) {}

  start(): void {
    if (this.d.intervalMs <= 0) return;
    const gen = ++this.generation;
    void this.d.openControl().then(() => {
      if (gen === this.generation && this.d.control()) this.arm(gen);
    });
  }

  stop(): void {
    this.generation++;
    this.timer?.();
    this.timer = null;
  }

  private arm(gen: number): void {
    const { scheduler } = this.d;
    this.timer = scheduler.setTimer(scheduler.now() + this.d.intervalMs, () => {
      this.timer = null;
      const ch = this.d.control();
      if (gen !== this.generation || !ch) return;
      void this.d
        .poll(ch)
        .catch(() => undefined)
        .finally(() => {
          if (gen === this.generation) this.arm(gen);
        });
    });
  }
}

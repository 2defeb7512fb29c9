/**
 * Interrupts and waiting. Operator requests (stop, redial, reset) and health
 * monitoring (link lost) arrive while the supervisor waits on a timer or on
 * the modem; they are held here until the main loop takes them. All waiting
 * is on Scheduler timers, so tests run it on a ManualScheduler.
 */
import { cause, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import { StepFailure } from "./failures.ts";

export type Interrupt =
  | { kind: "stop" }
  | { kind: "link-lost"; cause: Cause }
  | { kind: "redial" }
  | { kind: "reset" };

export type WakeReason = "timer" | "woken" | "interrupted";

export class Interrupts {
  private pending: Interrupt | null = null;
  private readonly wakers = new Set<() => void>();

  /** `onRaise` runs for every accepted interrupt before waiters wake (e.g. to abort commands in flight). */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly onRaise: (i: Interrupt) => void,
  ) {}

  get current(): Interrupt | null {
    return this.pending;
  }

  clear(): void {
    this.pending = null;
  }

  stopping(): boolean {
    return this.pending?.kind === "stop";
  }

  raise(i: Interrupt): void {
    // stop wins over everything else
    if (this.pending?.kind === "stop") return;
    this.pending = i;
    this.onRaise(i);
    this.wake();
  }

  /** The pending interrupt, cleared unless it is stop (stop stays until the loop ends). */
  take(): Interrupt | null {
    const i = this.pending;
    if (i?.kind !== "stop") this.pending = null;
    return i;
  }

  /** The cause a step ends with because of the pending interrupt. */
  cause(): Cause {
    const i = this.pending;
    if (!i || i.kind === "stop") return cause("stopped");
    if (i.kind === "link-lost") return i.cause;
    return cause("stopped", i.kind === "redial" ? "redial requested" : "module reset requested");
  }

  /** A stop/redial/reset ends the current step; a lost link is the hold's business, not a step's. */
  throwIfPending(): void {
    if (this.pending && this.pending.kind !== "link-lost") {
      const c = this.cause();
      throw new StepFailure(c.code, c.detail);
    }
  }

  wake(): void {
    const ws = [...this.wakers];
    this.wakers.clear();
    for (const w of ws) w();
  }

  /** Sleep that ends early on wake(); throws on stop/redial/reset interrupts. */
  async sleep(ms: number): Promise<void> {
    const r = await this.sleepUntil(this.scheduler.now() + ms);
    if (r === "interrupted") this.throwIfPending();
  }

  /** Resolves at `at` (null = never), on wake() ("woken") or on an interrupt ("interrupted"). */
  sleepUntil(at: number | null): Promise<WakeReason> {
    if (this.pending) return Promise.resolve("interrupted");
    return new Promise((resolve) => {
      let cancel: CancelTimer = () => {};
      const waker = () => {
        cancel();
        resolve(this.pending ? "interrupted" : "woken");
      };
      this.wakers.add(waker);
      if (at !== null) {
        cancel = this.scheduler.setTimer(Math.max(at, this.scheduler.now()), () => {
          this.wakers.delete(waker);
          resolve(this.pending ? "interrupted" : "timer");
        });
      }
    });
  }
}

/**
 * Time as an input. Protocol cores never read the clock themselves: `now` comes
 * in, "wake me at T" goes out (DESIGN.md rule 1). Adapters turn those deadlines
 * into real timers through a Scheduler; tests use ManualScheduler so a one-hour
 * backoff is tested in microseconds.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** Cancels a timer; calling it twice is harmless. */
export type CancelTimer = () => void;

export interface Scheduler extends Clock {
  /** Run `fn` once when the clock reaches `at` (absolute ms). */
  setTimer(at: number, fn: () => void): CancelTimer;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * setTimeout's delay is a signed 32-bit count of ms: a longer one (a monthly
 * maintenance window, a long network back-off) fires after 1 ms instead. Such
 * deadlines are reached in steps of at most this much.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Real timers. Negative or past deadlines fire on the next turn of the loop. */
export class RealScheduler implements Scheduler {
  private live = new Set<{ h: ReturnType<typeof setTimeout> }>();
  now(): number {
    return Date.now();
  }
  setTimer(at: number, fn: () => void): CancelTimer {
    const entry = { h: undefined as unknown as ReturnType<typeof setTimeout> };
    const arm = () => {
      const delay = Math.max(0, at - Date.now());
      entry.h = setTimeout(() => {
        if (!this.live.has(entry)) return;
        // A step short of a far deadline: wait the rest.
        if (delay > MAX_TIMEOUT_MS) return arm();
        this.live.delete(entry);
        fn();
      }, Math.min(delay, MAX_TIMEOUT_MS));
    };
    arm();
    this.live.add(entry);
    return () => {
      if (this.live.delete(entry)) clearTimeout(entry.h);
    };
  }
  /** Timers not yet fired or cancelled (the soak benchmark checks this stays flat). */
  pendingCount(): number {
    return this.live.size;
  }
}

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to (after gVisor's faketime). `advance`
 * fires every due timer in deadline order, including timers that fired timers
 * schedule inside the advanced window.
 */
export class ManualScheduler implements Scheduler {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimer(at: number, fn: () => void): CancelTimer {
    const timer: ManualTimer = { at, seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }
  /** Move time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }
  advanceTo(target: number): void {
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.at > target) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      if (next.at > this.t) this.t = next.at;
      next.fn();
    }
    if (target > this.t) this.t = target;
  }
  /** Fire timers due now without moving time. */
  runDue(): void {
    this.advanceTo(this.t);
  }
  /** Earliest pending deadline, or null. */
  nextDeadline(): number | null {
    return this.nextTimer()?.at ?? null;
  }
  pendingCount(): number {
    return this.timers.length;
  }
  private nextTimer(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const x of this.timers) {
      if (!best || x.at < best.at || (x.at === best.at && x.seq < best.seq)) best = x;
    }
    return best;
  }
}

/**
 * Keeps at most one pending wake-up for a core that reports "next deadline".
 * Adapters call `arm(core.nextDeadline())` after every input they feed in.
 */
export class WakeTimer {
  private cancel: CancelTimer | null = null;
  private armedAt: number | null = null;
  constructor(
    private readonly scheduler: Scheduler,
    private readonly onWake: () => void,
  ) {}
  arm(at: number | null): void {
    if (at === this.armedAt) return;
    this.disarm();
    if (at === null) return;
    this.armedAt = at;
    this.cancel = this.scheduler.setTimer(at, () => {
      this.cancel = null;
      this.armedAt = null;
      this.onWake();
    });
  }
  disarm(): void {
    this.cancel?.();
    this.cancel = null;
    this.armedAt = null;
  }
}

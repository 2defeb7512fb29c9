/**
 * Time as an input. Protocol cores never read the clock themselves: `now` comes
 * in, "wake me at T" goes out (DESIGN.md rule 1). Adapters turn those deadlines
 * into real timers through a Scheduler; tests use ManualScheduler so a one-hour
 * backoff is tested in microseconds.
 *
 * Two clocks (issue 17, "modem time"):
 * - Agent time, `Clock.now()`: milliseconds on a MONOTONIC clock, expressed
 *   in epoch ms by anchoring it to the system clock once, when the process
 *   starts. Every wait, deadline, back-off, ladder step and duration uses it,
 *   so an NTP, NITZ or manual step of the system clock neither shortens nor
 *   stretches any of them. Event timestamps use it too (one number line).
 * - Wall time, `WallClock.wallNow()`: the system clock (CLOCK_REALTIME) as
 *   it is now, stepped or not. Only for what must match the calendar: the
 *   offset to the network's time, setting the system clock, cron patterns,
 *   the recovery state file (which outlives the process), and the absolute
 *   times shown in /status. `wallNow() - now()` is how far the system clock
 *   was stepped since start (0 until something steps it).
 */
export interface Clock {
  /** Agent time: monotonic milliseconds, anchored to the epoch at process start. */
  now(): number;
}

/** The system's calendar clock, which NTP, NITZ or a person may step. Never for waits. */
export interface WallClock {
  /** CLOCK_REALTIME in epoch ms. */
  wallNow(): number;
}

/*
 * performance.now() is the HR-Time monotonic clock (CLOCK_MONOTONIC under
 * Bun on Linux): steps of the system clock do not move it, and setTimeout
 * counts on the same kind of clock. One anchor per process, so every
 * scheduler and systemClock agree on agent time.
 */
const WALL_ANCHOR = Date.now();
const MONO_ANCHOR = performance.now();

/** Agent time now (see Clock): the process's start time on the system clock plus monotonic time elapsed, whole ms. */
export function monotonicNow(): number {
  return WALL_ANCHOR + Math.floor(performance.now() - MONO_ANCHOR);
}

/**
 * Steps of the system clock smaller than this are not counted: the two clocks
 * are read a moment apart and rounded differently, so their difference
 * jitters by a millisecond or so; a time saved and read back must not move by it.
 */
export const WALL_STEP_MIN_MS = 1000;

/** A scheduler with a wall clock: its own, or (a scheduler that has none) one that agrees with agent time. */
export function withWallClock(s: Scheduler): Scheduler & WallClock {
  if (s.wallNow) return s as Scheduler & WallClock;
  return { now: () => s.now(), setTimer: (at, fn) => s.setTimer(at, fn), wallNow: () => s.now() };
}

/** How far the system clock has been stepped since start (wall − agent), for a clock that knows both; 0 otherwise. */
export function wallOffset(clock: Clock & Partial<WallClock>): number {
  const d = clock.wallNow ? clock.wallNow() - clock.now() : 0;
  return Math.abs(d) < WALL_STEP_MIN_MS ? 0 : d;
}

/** Cancels a timer; calling it twice is harmless. */
export type CancelTimer = () => void;

export interface Scheduler extends Clock, Partial<WallClock> {
  /** Run `fn` once when the clock reaches `at` (absolute ms, agent time). */
  setTimer(at: number, fn: () => void): CancelTimer;
}

export const systemClock: Clock & WallClock = { now: monotonicNow, wallNow: () => Date.now() };

/**
 * setTimeout's delay is a signed 32-bit count of ms: a longer one (a monthly
 * maintenance window, a long network back-off) fires after 1 ms instead. Such
 * deadlines are reached in steps of at most this much.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Real timers on agent (monotonic) time. Negative or past deadlines fire on
 * the next turn of the loop. A far deadline is reached in steps, each step
 * measured on the monotonic clock again, so a clock step between steps does
 * not move it either.
 */
export class RealScheduler implements Scheduler, WallClock {
  private live = new Set<{ h: ReturnType<typeof setTimeout> }>();
  now(): number {
    return monotonicNow();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimer(at: number, fn: () => void): CancelTimer {
    const entry = { h: undefined as unknown as ReturnType<typeof setTimeout> };
    const arm = () => {
      const delay = Math.max(0, at - monotonicNow());
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
 * schedule inside the advanced window. Its wall clock follows agent time
 * until `stepWall` steps it (an NTP or NITZ correction): agent time and the
 * timers do not move then.
 */
export class ManualScheduler implements Scheduler, WallClock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];
  /** wall − agent. */
  private wallStep = 0;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.t + this.wallStep;
  }
  /** Step the wall clock by `ms` (negative: back), as NTP, NITZ or `date -s` would; agent time stays. */
  stepWall(ms: number): void {
    this.wallStep += ms;
  }
  /** Set the wall clock to `wallMs` (e.g. a gateway without RTC that booted in 1970). */
  setWall(wallMs: number): void {
    this.wallStep = wallMs - this.t;
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

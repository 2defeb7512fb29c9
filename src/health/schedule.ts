/**
 * When probes (and the maintenance window) fire. A schedule only computes
 * times: `next(after)` → the first fire time strictly after `after`. The real
 * waiting is a Scheduler timer, so tests run cron patterns under a
 * ManualScheduler without croner ever starting a timer of its own (a Cron
 * built without a callback never schedules anything).
 */
import { Cron } from "croner";
import type { Config } from "../config/schema.ts";
import { formatDuration } from "../config/duration.ts";

export interface FireSchedule {
  /** The first fire time strictly after `after` (ms), or null if the schedule never fires again. */
  next(after: number): number | null;
  /** For logs and /status: "every 1m" or "cron 0 4 * * *". */
  readonly description: string;
}

export interface CronOptions {
  /** IANA zone for the pattern ("UTC", "Europe/Berlin"); default: the host's local zone, like cron. */
  timezone?: string;
  /**
   * wall − agent time now (src/core/clock.ts): a cron pattern names calendar
   * times, the timers run on agent time. Default 0 (the clocks agree).
   */
  wallOffset?: () => number;
}

/**
 * A cron pattern (5 fields, or 6 with seconds first), computed with croner.
 * Times in and out are agent time; the pattern is matched on the wall clock
 * as it reads when the next time is computed (a later step of the system
 * clock moves the fire time after it, when the schedule is armed again).
 */
export function cronSchedule(pattern: string, opts: CronOptions = {}): FireSchedule {
  const cron = new Cron(pattern, opts.timezone ? { timezone: opts.timezone } : {});
  return {
    next(after: number): number | null {
      const off = opts.wallOffset?.() ?? 0;
      const wall = cron.nextRun(new Date(after + off))?.getTime();
      return wall === undefined ? null : wall - off;
    },
    description: `cron ${pattern}`,
  };
}

/** A fixed interval, counted from the previous fire time. */
export function everySchedule(ms: number): FireSchedule {
  if (!(ms > 0)) throw new RangeError("an interval schedule needs a positive period");
  return {
    next: (after) => after + ms,
    description: `every ${formatDuration(ms)}`,
  };
}

/** Probing when neither health.schedule nor health.every is set. */
export const DEFAULT_PROBE_EVERY_MS = 60_000;

/** health.schedule wins over health.every; neither → every 60 s. */
export function probeScheduleFromConfig(health: Config["health"], opts: CronOptions = {}): FireSchedule {
  if (health.schedule !== undefined) return cronSchedule(health.schedule, opts);
  return everySchedule(health.every ?? DEFAULT_PROBE_EVERY_MS);
}

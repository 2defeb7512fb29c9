/**
 * Quiet liveness for metered links, and what probing costs.
 *
 * Active probes (ICMP, DNS, HTTP) spend the customer's data; LCP echo does
 * not leave the host–modem line (PPP ends in the modem) and the modem check
 * is AT text. So:
 *  - with usage.quiet_liveness, a round whose interval saw data arrive through
 *    the link (IP packets other than our probes' answers, counted since the
 *    previous round ended) skips its active probes: the link is proven alive.
 *    The first round on a new link always probes;
 *  - while the usage.quiet_at cap holds, every round skips them.
 * LCP echo and the modem check run in every round either way.
 *
 * The accounting (rounds run and skipped, probe bytes in the last 24 h, the
 * estimate per day at the current schedule) is kept here from the bytes the
 * probes report. Pure: `now` comes in.
 */
import type { HealthQuietEvent, ProbeKind, ProbeTraffic, QuietReason } from "../core/agent-events.ts";
import type { FireSchedule } from "./schedule.ts";

/** Probes that send through the link (and cost data). */
export const ACTIVE_PROBE_KINDS: ReadonlySet<ProbeKind> = new Set<ProbeKind>(["icmp", "dns", "http"]);

export interface QuietLivenessOptions {
  /** usage.quiet_liveness */
  enabled: boolean;
  /** IP packets received through the link that were not our probes' answers (monotone; null: no link). */
  received: () => number | null;
  /** usage.quiet_at holds now. */
  capQuiet?: (now: number) => boolean;
  /** The probe schedule, for the per-day estimate. */
  schedule?: FireSchedule;
  /** "health.quiet" when rounds start or stop skipping their active probes (not once per round). */
  emit?: (e: HealthQuietEvent) => void;
}

const HOUR_MS = 3_600_000;

/** Rounds in the 24 h after `from` (a cron schedule is counted, capped for per-second patterns). */
export function roundsPerDay(schedule: FireSchedule, from: number, cap = 100_000): number {
  let n = 0;
  let t: number | null = from;
  for (;;) {
    t = schedule.next(t);
    if (t === null || t > from + 24 * HOUR_MS || n >= cap) return n;
    n++;
  }
}

export class QuietLiveness {
  private mark: number | null = null;
  private lastReason: QuietReason | null = null;
  private roundsActive = 0;
  private roundsSkipped = 0;
  private bytesTotal = 0;
  private bytesComplete = true;
  private lastActiveRoundBytes: number | null = null;
  /** Probe bytes per hour, the last 25 hours (hour start → bytes). */
  private readonly hours = new Map<number, number>();
  /** Counting a cron schedule's rounds costs up to a few thousand next() calls: kept for an hour. */
  private perDay: { at: number; rounds: number } | null = null;

  constructor(private readonly o: QuietLivenessOptions) {}

  get enabled(): boolean {
    return this.o.enabled;
  }

  /** A new link (or none): its first round probes. */
  linkChanged(): void {
    this.mark = null;
  }

  /** At the start of a round: why to skip the active probes, or null to run them. */
  decide(now: number): QuietReason | null {
    if (this.o.capQuiet?.(now)) return "cap";
    if (!this.o.enabled || this.mark === null) return null;
    const rx = this.o.received();
    return rx !== null && rx > this.mark ? "traffic" : null;
  }

  /** After a round: what it spent; a change of the quiet state is reported once. */
  roundEnded(now: number, skipped: QuietReason | null, bytes: number, bytesKnown: boolean): void {
    this.mark = this.o.received();
    if (skipped) this.roundsSkipped++;
    else {
      this.roundsActive++;
      this.lastActiveRoundBytes = bytes;
    }
    if (!bytesKnown && !skipped) this.bytesComplete = false;
    if (bytes > 0) {
      this.bytesTotal += bytes;
      const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
      this.hours.set(hour, (this.hours.get(hour) ?? 0) + bytes);
      for (const h of this.hours.keys()) if (h < hour - 24 * HOUR_MS) this.hours.delete(h);
    }
    const changed = skipped !== this.lastReason;
    this.lastReason = skipped;
    if (changed) this.o.emit?.({ type: "health.quiet", at: now, quiet: skipped !== null, reason: skipped });
  }

  view(now: number): ProbeTraffic {
    // Hour buckets overlapping the last 24 h: the figure covers at most 25 hours, never less than 24.
    const from = Math.floor((now - 24 * HOUR_MS) / HOUR_MS) * HOUR_MS;
    let last24h = 0;
    for (const [h, b] of this.hours) if (h >= from && h <= now) last24h += b;
    const perRound = this.lastActiveRoundBytes;
    return {
      quietLiveness: this.o.enabled,
      quiet: this.lastReason,
      roundsActive: this.roundsActive,
      roundsSkipped: this.roundsSkipped,
      bytesTotal: this.bytesTotal,
      bytesLast24h: last24h,
      bytesPerDayEstimate: perRound === null ? null : this.roundsPerDay(now) === null ? null : perRound * this.roundsPerDay(now)!,
      bytesComplete: this.bytesComplete,
    };
  }

  private roundsPerDay(now: number): number | null {
    if (!this.o.schedule) return null;
    if (!this.perDay || Math.abs(now - this.perDay.at) >= HOUR_MS) this.perDay = { at: now, rounds: roundsPerDay(this.o.schedule, now) };
    return this.perDay.rounds;
  }
}

/**
 * The health monitor: runs a round of probes on a schedule while the link is
 * up, reports every probe as a "health.probe" event, and after
 * `health.failures` consecutive failed rounds tells the agent the link is
 * unhealthy (cause probe-failed), which the agent turns into
 * supervisor.linkLost → the recovery ladder.
 *
 * A round fails when any counted probe kind fails; a kind with several
 * targets (ICMP to 8.8.8.8 and 1.1.1.1) passes when one target answers, since
 * one far-away host being down says nothing about our link.
 *
 * Time comes from the injected Scheduler and fire times from a FireSchedule,
 * so a test drives cron patterns and probe timeouts with a ManualScheduler.
 * Idle means idle: no timer while the link is down.
 */
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import { cause, type Cause } from "../core/cause.ts";
import type { HealthProbeEvent, ProbeKind } from "../core/agent-events.ts";
import type { Logger } from "../core/log.ts";
import type { FireSchedule } from "./schedule.ts";
import type { Probe, ProbeOutcome } from "./probes.ts";
import type { HealthUnhealthyEvent } from "./events.ts";
import type { QuietReason } from "../core/agent-events.ts";
import { ACTIVE_PROBE_KINDS, type QuietLiveness } from "./quiet.ts";

export interface HealthMonitorOptions {
  scheduler: Scheduler;
  schedule: FireSchedule;
  /** The probes of a round; a function so the agent can change them (e.g. DNS servers after IPCP). */
  probes: readonly Probe[] | (() => readonly Probe[]);
  /** health.timeout: each probe's limit. */
  timeoutMs: number;
  /** health.failures: consecutive failed rounds before onUnhealthy. */
  failures: number;
  /** Called at `failures` consecutive failed rounds (and again every `failures` more while it lasts). */
  onUnhealthy: (cause: Cause, consecutiveFailures: number) => void;
  emit?: (event: HealthProbeEvent | HealthUnhealthyEvent) => void;
  log?: Logger;
  /** Quiet liveness and the quiet cap (./quiet.ts): skips active probes, counts what probing costs. */
  quiet?: QuietLiveness;
}

export interface ProbeReport extends ProbeOutcome {
  kind: ProbeKind;
  target: string | null;
  counts: boolean;
}

export interface RoundResult {
  at: number;
  ok: boolean;
  /** Why the active probes (ICMP, DNS, HTTP) were skipped this round, or null when they ran. */
  skippedActive: QuietReason | null;
  /** Probes that ran (skipped ones are left out). */
  probes: ProbeReport[];
  consecutiveFailures: number;
}

/** Pure: does this round pass? Counted kinds must each have one success; no counted result → pass. */
export function roundPasses(reports: readonly ProbeReport[]): boolean {
  const byKind = new Map<ProbeKind, boolean>();
  for (const r of reports) {
    if (!r.counts) continue;
    byKind.set(r.kind, (byKind.get(r.kind) ?? false) || r.ok);
  }
  for (const ok of byKind.values()) if (!ok) return false;
  return true;
}

export class HealthMonitor {
  private timer: CancelTimer | null = null;
  private nextFireAt: number | null = null;
  private running = false;
  private linkUp = false;
  private inFlight: Promise<RoundResult> | null = null;
  private failuresInARow = 0;
  private last: RoundResult | null = null;
  /** Rounds skipped because the previous one was still running. */
  skippedRounds = 0;

  constructor(private readonly o: HealthMonitorOptions) {
    if (o.failures < 1) throw new RangeError("health.failures must be at least 1");
  }

  /** Start following the schedule (rounds run only while the link is up). */
  start(): void {
    this.running = true;
    this.arm(this.o.scheduler.now());
  }

  stop(): void {
    this.running = false;
    this.disarm();
  }

  /** The link came up (IPCP open) or went down. Down clears the failure count: a new link starts healthy. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.o.quiet?.linkChanged();
    if (!up) {
      this.failuresInARow = 0;
      this.disarm();
    } else {
      this.arm(this.o.scheduler.now());
    }
  }

  get consecutiveFailures(): number {
    return this.failuresInARow;
  }

  get lastRound(): RoundResult | null {
    return this.last;
  }

  /** When the next round is due, or null (stopped or link down). */
  get nextRoundAt(): number | null {
    return this.nextFireAt;
  }

  /** Resolves when the round in flight (if any) has finished. */
  async settled(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  /** Run one round now (also what the schedule calls). Concurrent calls share the round in flight. */
  runRound(): Promise<RoundResult> {
    if (this.inFlight) return this.inFlight;
    const p = this.round().finally(() => {
      this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  private arm(after: number): void {
    this.disarm();
    if (!this.running || !this.linkUp) return;
    const at = this.o.schedule.next(after);
    if (at === null) return;
    this.nextFireAt = at;
    this.timer = this.o.scheduler.setTimer(at, () => this.fire(at));
  }

  private disarm(): void {
    this.timer?.();
    this.timer = null;
    this.nextFireAt = null;
  }

  private fire(at: number): void {
    this.timer = null;
    if (this.inFlight) {
      this.skippedRounds++;
      this.o.log?.warn("health round skipped: the previous round is still running", { at });
    } else {
      void this.runRound();
    }
    // Next fire time from the scheduled time, or from now if we fell behind (a suspended host): never a burst of catch-up rounds.
    this.arm(Math.max(at, this.o.scheduler.now()));
  }

  private async round(): Promise<RoundResult> {
    const { scheduler, timeoutMs } = this.o;
    const all = typeof this.o.probes === "function" ? this.o.probes() : this.o.probes;
    const started = scheduler.now();
    const skippedActive = this.o.quiet?.decide(started) ?? null;
    const probes = skippedActive ? all.filter((p) => !ACTIVE_PROBE_KINDS.has(p.kind)) : all;
    const outcomes = await Promise.all(probes.map((p) => this.runOne(p, timeoutMs)));
    const reports: ProbeReport[] = [];
    probes.forEach((p, i) => {
      const o = outcomes[i];
      if (o) reports.push({ ...o, kind: p.kind, target: p.target, counts: p.counts });
    });
    const now = scheduler.now();
    const ok = roundPasses(reports);
    // A round that ended after the link went down says nothing about the new link.
    const stillUp = this.linkUp;
    if (stillUp) this.failuresInARow = ok ? 0 : this.failuresInARow + 1;
    const result: RoundResult = { at: started, ok, skippedActive, probes: reports, consecutiveFailures: this.failuresInARow };
    this.last = result;
    const active = reports.filter((r) => ACTIVE_PROBE_KINDS.has(r.kind));
    const bytes = active.reduce((n, r) => n + (r.bytes ?? 0), 0);
    this.o.quiet?.roundEnded(now, skippedActive, bytes, active.every((r) => r.bytes !== undefined));
    for (const r of reports) {
      this.o.emit?.({
        type: "health.probe",
        at: now,
        probe: r.kind,
        target: r.target,
        ok: r.ok,
        rttMs: r.rttMs,
        loss: r.loss,
        consecutiveFailures: this.failuresInARow,
        ...(r.detail !== undefined ? { detail: r.detail } : {}),
        ...(r.bytes !== undefined ? { bytes: r.bytes } : {}),
      });
    }
    if (stillUp && !ok && this.failuresInARow % this.o.failures === 0) {
      const failed = reports.filter((r) => r.counts && !r.ok).map((r) => `${r.kind}${r.target ? ` ${r.target}` : ""}${r.detail ? ` (${r.detail})` : ""}`);
      const c = cause("probe-failed", `${this.failuresInARow} failed probe rounds in a row: ${failed.join(", ")}`);
      this.o.log?.warn("link unhealthy", { consecutiveFailures: this.failuresInARow, detail: c.detail });
      this.o.emit?.({ type: "health.unhealthy", at: now, consecutiveFailures: this.failuresInARow, cause: c });
      this.o.onUnhealthy(c, this.failuresInARow);
    }
    return result;
  }

  /** One probe with the monitor's own time limit on top (a probe that never settles still fails the round). */
  private runOne(p: Probe, timeoutMs: number): Promise<ProbeOutcome | null> {
    return new Promise<ProbeOutcome | null>((resolve) => {
      let done = false;
      const finish = (o: ProbeOutcome | null) => {
        if (done) return;
        done = true;
        cancel();
        resolve(o);
      };
      const cancel = this.o.scheduler.setTimer(this.o.scheduler.now() + timeoutMs, () =>
        finish({ ok: false, rttMs: null, loss: p.kind === "icmp" ? 1 : null, detail: `no answer within ${timeoutMs} ms` }),
      );
      let started: Promise<ProbeOutcome | null>;
      try {
        started = p.run(timeoutMs);
      } catch (err) {
        started = Promise.resolve({ ok: false, rttMs: null, loss: null, detail: String((err as Error)?.message ?? err) });
      }
      started.then(finish, (err: unknown) => finish({ ok: false, rttMs: null, loss: null, detail: String((err as Error)?.message ?? err) }));
    });
  }
}

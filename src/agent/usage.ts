/**
 * Data usage joined to the agent: the ledger (src/usage/ledger.ts) is fed the
 * data plane's IP counters (what a carrier bills: IP datagrams, not the
 * serial line's HDLC framing nor LCP echoes, which end in the modem) for the
 * SIM the modem reported, saved to the usage file, and its caps turned into
 * actions:
 *  - warn:  the "usage.cap" event (a warning in the log, /events, SSE);
 *  - quiet: the health monitor skips its active probes (src/health/quiet.ts);
 *  - stop:  the link is hung up with cause data-cap-reached and held down by
 *           the hold policy (src/usage/hold.ts) and the supervisor's holdDown
 *           gate until the next cycle or POST /actions/usage-resume.
 *
 * Counting runs only while the link is up: every COUNT_POLL_MS, at link down
 * and before a SIM change. A cap is noticed within one poll, so a stop cap can
 * be overrun by at most COUNT_POLL_MS of traffic. The file is written every
 * usage.save_every while the counts change, and at once on link down, a new
 * cycle, a cap, a resume, a SIM change and stop: kill -9 or a power loss
 * loses at most usage.save_every of traffic (plus one poll interval).
 */
import type { Config } from "../config/schema.ts";
import type { UsageCapAction, UsageCycleTotals } from "../core/agent-events.ts";
import { cause, type Cause } from "../core/cause.ts";
import { WakeTimer, type CancelTimer, type Scheduler } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import { maskId } from "../core/mask.ts";
import type { RecoveryPolicy } from "../core/recovery-policy.ts";
import { QuietLiveness } from "../health/quiet.ts";
import { probeScheduleFromConfig, type CronOptions } from "../health/schedule.ts";
import type { ActionResult } from "../status/actions.ts";
import type { UsageStatus } from "../status/usage.ts";
import { UsageHoldPolicy } from "../usage/hold.ts";
import { UsageLedger, UNKNOWN_SIM, type UsageEvent } from "../usage/ledger.ts";
import { UsageFile, usageFilePath } from "../usage/store.ts";
import { inDataMode } from "../modem/states.ts";
import type { LinkState } from "../core/agent-events.ts";
import type { IpTraffic } from "./dataplane.ts";

/** What the meter reads of the data plane: its IP counters since the agent started. */
export interface UsageCounters {
  ipCounters(): Readonly<IpTraffic>;
}

/** How often the counters are read while the link is up (bounds a stop cap's overrun). */
export const COUNT_POLL_MS = 10_000;

/** What the meter needs of the supervisor. */
export interface UsageSupervisor {
  readonly state: LinkState;
  readonly identity: { iccid: string | null };
  linkLost(c: Cause): void;
  requestRedial(): void;
  onLinkUp(fn: () => void): () => void;
  onLinkDown(fn: () => void): () => void;
}

export interface UsageWiringDeps {
  scheduler: Scheduler;
  emit: (e: EventBase) => void;
  log: Logger;
  /** The recovery ladder as policy: wrapped so a cap never reaches it as a link fault. */
  policy: RecoveryPolicy;
  /** The ladder's markNextForced: the redial that ends a hold is reported as planned. */
  markPlanned?: (reason: string) => void;
  cron?: CronOptions;
}

export class UsageMeter {
  readonly ledger: UsageLedger;
  readonly file: UsageFile;
  /** The policy to give the supervisor. */
  readonly policy: UsageHoldPolicy;
  readonly quiet: QuietLiveness;
  private readonly scheduler: Scheduler;
  private readonly emit: (e: EventBase) => void;
  private readonly log: Logger;
  private readonly saveEveryMs: number;
  private readonly timeZone: string;
  private supervisor: UsageSupervisor | null = null;
  private dataPlane: UsageCounters | null = null;
  private seen = { bytesIn: 0, bytesOut: 0 };
  private savedRevision: number;
  private lastSaveAt: number;
  private savedAt: number | null = null;
  private pollTimer: CancelTimer | null = null;
  private readonly cycleTimer: WakeTimer;
  private detach: Array<() => void> = [];
  /** After stop(): counts and saves still work, no timer is armed again. */
  private stopped = false;

  constructor(
    private readonly config: Config,
    d: UsageWiringDeps,
  ) {
    this.scheduler = d.scheduler;
    this.emit = d.emit;
    this.log = d.log.child("usage");
    this.saveEveryMs = config.usage.save_every;
    this.timeZone = config.usage.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    const now = () => this.scheduler.now();
    this.file = new UsageFile(usageFilePath(config), { now, onEvent: (e) => this.emit(e) });
    const u = config.usage;
    const caps: Partial<Record<UsageCapAction, number>> = {};
    if (u.warn_at !== undefined) caps.warn = u.warn_at;
    if (u.quiet_at !== undefined) caps.quiet = u.quiet_at;
    if (u.stop_at !== undefined) caps.stop = u.stop_at;
    this.ledger = new UsageLedger({ cycleDay: u.cycle_day, timeZone: this.timeZone, caps }, this.file.load());
    this.savedRevision = this.ledger.changes;
    this.lastSaveAt = this.scheduler.now();
    this.policy = new UsageHoldPolicy(d.policy, this.ledger, d.markPlanned);
    this.quiet = new QuietLiveness({
      enabled: u.quiet_liveness,
      received: () => this.dataPlane?.ipCounters().otherPacketsIn ?? null,
      capQuiet: (t) => this.ledger.enforced(t).quiet,
      schedule: probeScheduleFromConfig(config.health, d.cron),
      emit: (e) => this.emit(e),
    });
    this.cycleTimer = new WakeTimer(this.scheduler, () => this.tick());
  }

  /**
   * The supervisor's gate before registering and dialling: the stop cap holds
   * for the SIM just read. The ICCID comes from the modem's facts, read at the
   * SIM step (and again after a SIM switch).
   */
  readonly holdDown = (): Cause | null => {
    const now = this.scheduler.now();
    this.handle(this.ledger.setSim(this.supervisor?.identity.iccid ?? null, now));
    const until = this.ledger.holdUntil(now);
    return until === null ? null : this.capCause(until);
  };

  /** Follow the supervisor and the data plane; returns the undo. */
  attach(supervisor: UsageSupervisor, dataPlane: UsageCounters, events: EventBus<EventBase>): () => void {
    this.supervisor = supervisor;
    this.dataPlane = dataPlane;
    this.seen = { ...dataPlane.ipCounters() };
    this.detach.push(
      events.on((e) => {
        if (e.type !== "modem.identity") return;
        const iccid = (e as EventBase & { iccid?: unknown }).iccid;
        if (typeof iccid !== "string") return;
        // The old SIM's last bytes are its own.
        this.countNow();
        this.handle(this.ledger.setSim(iccid, this.scheduler.now()));
      }),
      supervisor.onLinkUp(() => {
        this.handle(this.ledger.setSim(supervisor.identity.iccid, this.scheduler.now()));
        this.armPoll();
      }),
      supervisor.onLinkDown(() => {
        this.disarmPoll();
        this.countNow();
        this.save();
      }),
    );
    this.handle(this.ledger.poll(this.scheduler.now()));
    return () => this.stop();
  }

  /** POST /actions/usage-resume: lift the caps reached this cycle and, if held down, dial. */
  async resume(): Promise<ActionResult> {
    const s = this.supervisor;
    if (!s || s.state === "stopped") return { outcome: "unavailable", message: "the agent is stopping or stopped" };
    const now = this.scheduler.now();
    this.countNow();
    const events = this.ledger.resume(now);
    if (events.length === 0) return { outcome: "done", message: "no data cap is reached in this cycle; nothing to resume" };
    this.handle(events);
    const lifted = events.flatMap((e) => (e.type === "usage.resumed" ? e.lifted : []));
    // Only a wait that is the cap's own ends here: a ladder wait (a reset's spacing) is not a person's to skip this way.
    if (s.state === "waiting" && this.policy.holding) {
      s.requestRedial();
      return { outcome: "started", message: `caps lifted for this cycle (${lifted.join(", ")}); dialling again` };
    }
    return { outcome: "done", message: `caps lifted for this cycle (${lifted.join(", ")})` };
  }

  /** While the stop cap holds the link down: when that ends by itself (the watchdog's "waiting until"). */
  heldUntil(now: number): number | null {
    return this.policy.heldUntil(now);
  }

  /** The /status usage block. */
  status(now: number): UsageStatus {
    this.countNow();
    const r = this.ledger.currentRecord(now);
    const caps = this.ledger.caps;
    const enforcing = this.ledger.enforced(now);
    const held = this.ledger.holdUntil(now);
    const iso = (ms: number) => new Date(ms).toISOString();
    const cycleView = (u: Readonly<UsageCycleTotals>) => ({ start: iso(u.cycleStart), end: iso(u.cycleEnd), bytesIn: u.bytesIn, bytesOut: u.bytesOut });
    return {
      sim: maskId(this.ledger.sim),
      cycle: { ...cycleView(r), day: this.config.usage.cycle_day, timezone: this.timeZone },
      bytesTotal: r.bytesIn + r.bytesOut,
      caps: { warn: caps.warn ?? null, quiet: caps.quiet ?? null, stop: caps.stop ?? null },
      reached: [...r.reached],
      lifted: [...r.lifted],
      enforcing,
      heldUntil: held === null ? null : iso(held),
      previousCycle: r.previous ? cycleView(r.previous) : null,
      sims: this.ledger.records().map(({ iccid, usage }) => ({ sim: iccid === UNKNOWN_SIM ? null : maskId(iccid), cycle: cycleView(usage) })),
      savedAt: this.savedAt === null ? null : iso(this.savedAt),
      probes: this.quiet.view(now),
    };
  }

  /** Final count and save (agent stop). */
  stop(): void {
    this.stopped = true;
    for (const off of this.detach.splice(0)) off();
    this.disarmPoll();
    this.countNow();
    this.cycleTimer.disarm();
    this.save();
  }

  private capCause(until: number): Cause {
    return cause("data-cap-reached", `usage.stop_at ${this.config.usage.stop_at} bytes reached; held until ${new Date(until).toISOString()}`);
  }

  private armPoll(): void {
    this.disarmPoll();
    if (this.stopped) return;
    this.pollTimer = this.scheduler.setTimer(this.scheduler.now() + COUNT_POLL_MS, () => {
      this.pollTimer = null;
      this.countNow();
      if (this.scheduler.now() - this.lastSaveAt >= this.saveEveryMs) this.save();
      this.armPoll();
    });
  }

  private disarmPoll(): void {
    this.pollTimer?.();
    this.pollTimer = null;
  }

  /** The cycle's end: roll over even while the link is down (a held link comes back here). */
  private tick(): void {
    this.countNow();
    this.handle(this.ledger.poll(this.scheduler.now()));
  }

  private countNow(): void {
    const dp = this.dataPlane;
    if (!dp) return;
    const c = dp.ipCounters();
    const dIn = c.bytesIn - this.seen.bytesIn;
    const dOut = c.bytesOut - this.seen.bytesOut;
    this.seen = { bytesIn: c.bytesIn, bytesOut: c.bytesOut };
    this.handle(this.ledger.count(Math.max(0, dIn), Math.max(0, dOut), this.scheduler.now()));
  }

  /** Events out; a cap, cycle, SIM or resume is saved at once; the stop cap hangs up an open link. */
  private handle(events: UsageEvent[]): void {
    const now = this.scheduler.now();
    for (const e of events) this.emit(e);
    if (events.length > 0) this.save();
    if (!this.stopped) this.cycleTimer.arm(this.ledger.nextDeadline(now));
    const s = this.supervisor;
    const until = this.ledger.holdUntil(now);
    if (s && until !== null && inDataMode(s.state)) {
      this.log.warn("data cap reached: hanging up", { until: new Date(until).toISOString() });
      s.linkLost(this.capCause(until));
    }
  }

  private save(): void {
    if (this.ledger.changes === this.savedRevision) return;
    const now = this.scheduler.now();
    this.lastSaveAt = now;
    if (this.file.save(this.ledger.state())) {
      this.savedRevision = this.ledger.changes;
      this.savedAt = now;
    }
  }
}

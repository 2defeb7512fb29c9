/**
 * The one status model (issue 13): the agent builds it, it follows the event
 * bus, and every view reads it: HTTP (/status, /metrics, /healthz, /history,
 * the page), systemd's STATUS= line, `cellkeep status` (through /status) and
 * any later publisher. It pairs the event reducer (StatusView) with the facts
 * only the agent has (the clock, the version, the start time, the link
 * counters), so a snapshot is the same whichever view asks for it.
 */
import { wallOffset, type Clock } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import type { PppCounters } from "./counters.ts";
import type { UsageStatus } from "./usage.ts";
import { StatusView, type StatusSnapshot, type StatusViewOptions } from "./status-view.ts";

/** What the agent supplies beside the events. */
export interface StatusSources {
  clock: Clock;
  version: string;
  /** ms since the epoch when the agent started (for `uptime`). */
  startedAt: number;
  /** PPP counters pulled when a snapshot is taken; null while there is no PPP session. */
  counters?: () => PppCounters | null;
  /**
   * Whether health probes are configured. When false, healthy only needs the
   * link to be connected (there is no probe to wait for). Default true.
   */
  probesEnabled?: boolean;
  /** Where a failing counters callback is reported. */
  logger?: Logger;
  /** Data usage and probe traffic pulled when a snapshot is taken; absent: /status shows null. */
  usage?: () => UsageStatus | null;
}

export type StatusHealth = { healthy: boolean; reason: string };

export class StatusModel {
  readonly view: StatusView;
  readonly version: string;
  readonly startedAt: number;
  readonly probesEnabled: boolean;
  private readonly clock: Clock;
  private readonly pullCounters: (() => PppCounters | null) | undefined;
  private readonly pullUsage: (() => UsageStatus | null) | undefined;
  private readonly log: Logger;

  constructor(sources: StatusSources, options: StatusViewOptions = {}) {
    this.view = new StatusView(options);
    this.clock = sources.clock;
    this.version = sources.version;
    this.startedAt = sources.startedAt;
    this.probesEnabled = sources.probesEnabled ?? true;
    this.pullCounters = sources.counters;
    this.pullUsage = sources.usage;
    this.log = sources.logger ?? nullLogger;
  }

  /** Fold in the history the bus still holds, then follow it live. Returns the unsubscribe. */
  follow(bus: EventBus<EventBase>): () => void {
    for (const e of bus.recent()) this.view.apply(e);
    return bus.on((e) => this.view.apply(e));
  }

  /** The link counters now; null without a PPP session or when the callback fails (logged). */
  counters(): PppCounters | null {
    try {
      return this.pullCounters?.() ?? null;
    } catch (err) {
      this.log.warn("PPP counters callback failed", { error: String(err) });
      return null;
    }
  }

  /** Data usage now; null without a source or when it fails (logged). */
  usage(): UsageStatus | null {
    try {
      return this.pullUsage?.() ?? null;
    } catch (err) {
      this.log.warn("usage callback failed", { error: String(err) });
      return null;
    }
  }

  /** The /status document as of now. */
  snapshot(): StatusSnapshot {
    return this.view.snapshot(this.clock.now(), {
      version: this.version,
      startedAt: this.startedAt,
      counters: this.counters(),
      usage: this.usage(),
      wallOffsetMs: wallOffset(this.clock),
    });
  }

  /** Healthy = connected and (with probes configured) the last probe on this connection succeeded. */
  health(): StatusHealth {
    return this.view.health(this.probesEnabled);
  }

  /** Plot data: the last `windowMs` (default: the whole ring, 24 h). */
  history(windowMs?: number): ReturnType<StatusView["history"]> {
    return this.view.history(this.clock.now(), windowMs);
  }
}

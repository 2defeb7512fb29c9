/**
 * systemd's watchdog (WatchdogSec=): "WATCHDOG=1" only while the agent makes
 * progress as src/agent/liveness.ts judges it per state. This module gathers
 * that judgement's inputs: when the supervisor last changed state (from the
 * event stream) and when the bearer last received bytes (its counters, read
 * at each tick).
 */
import type { Scheduler } from "../core/clock.ts";
import type { DataBearer } from "../core/data-bearer.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import type { ModemSupervisor } from "../modem/supervisor.ts";
import { SystemdWatchdog, type Notifier } from "../systemd/notify.ts";
import { isAgentAlive } from "./liveness.ts";

/** Turns "bytes in so far" readings into "last received at". */
export class ReceiveTracker {
  private lastBytesIn = -1;
  private lastRxAt: number | null = null;

  /** A reading of the bearer's bytesIn at `now` (null: no bearer); returns when bytes last arrived. */
  observe(bytesIn: number | null, now: number): number | null {
    if (bytesIn !== null && bytesIn !== this.lastBytesIn) {
      this.lastBytesIn = bytesIn;
      this.lastRxAt = now;
    }
    return this.lastRxAt;
  }
}

export interface WatchdogWiringDeps {
  intervalMs: number;
  scheduler: Scheduler;
  notifier: Notifier;
  events: EventBus<EventBase>;
  supervisor: ModemSupervisor<DataBearer>;
  ladder: RecoveryLadder;
  log: Logger;
  /** A wait the ladder does not know of: the data-usage stop cap's hold (src/agent/usage.ts). */
  heldUntil?: (now: number) => number | null;
}

/** Starts the keep-alives; returns the stop for the teardown. */
export function startWatchdog(d: WatchdogWiringDeps): () => void {
  const { scheduler, supervisor } = d;
  let stateSince = scheduler.now();
  const unsubscribe = d.events.on((e) => {
    if (e.type === "modem.state") stateSince = e.at;
  });
  const rx = new ReceiveTracker();
  const watchdog = new SystemdWatchdog({
    scheduler,
    notifier: d.notifier,
    intervalMs: d.intervalMs,
    isAlive: (now) => {
      const bearer = supervisor.bearer;
      const lastRxAt = rx.observe(bearer?.counters().bytesIn ?? null, now);
      return isAgentAlive(
        {
          state: supervisor.state,
          stateSince,
          lastRxAt,
          waitingUntil: d.heldUntil?.(now) ?? d.ladder.pending()?.notBefore ?? null,
          keepalive: bearer?.keepalive() ?? null,
        },
        now,
      );
    },
    log: d.log.child("systemd"),
  });
  watchdog.start();
  return () => {
    watchdog.stop();
    unsubscribe();
  };
}

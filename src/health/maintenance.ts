/**
 * The maintenance window (`recovery.maintenance`): a planned redial or module
 * reset on a cron pattern, e.g. "0 4 * * *" for 04:00 every night. This is the
 * cron-like watchdog people set up by hand today, made aware of the rest of
 * cellkeep: the agent runs the action through the supervisor and marks it
 * forced on the ladder (RecoveryLadder.markNextForced), so it is reported as
 * planned and does not climb the vendor backoff.
 */
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { RecoveryRung } from "../core/agent-events.ts";
import type { FireSchedule } from "./schedule.ts";
import type { RecoveryMaintenanceEvent } from "./events.ts";

export type MaintenanceAction = "redial" | "reset-modem";

/** The ladder rung a configured maintenance action runs. */
export function maintenanceRung(action: MaintenanceAction): RecoveryRung {
  return action === "reset-modem" ? "module-reset" : "redial";
}

export interface MaintenanceOptions {
  scheduler: Scheduler;
  schedule: FireSchedule;
  action: MaintenanceAction;
  /** Run the action (the agent: ladder.markNextForced(rung, ...) then supervisor action). */
  onMaintenance: (rung: RecoveryRung, action: MaintenanceAction) => void;
  emit?: (event: RecoveryMaintenanceEvent) => void;
}

export class MaintenanceWindow {
  private cancel: CancelTimer | null = null;
  private at: number | null = null;

  constructor(private readonly o: MaintenanceOptions) {}

  start(): void {
    this.arm(this.o.scheduler.now());
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
    this.at = null;
  }

  /** When the window next opens, or null when stopped. */
  get nextAt(): number | null {
    return this.at;
  }

  private arm(after: number): void {
    this.stop();
    const at = this.o.schedule.next(after);
    if (at === null) return;
    this.at = at;
    this.cancel = this.o.scheduler.setTimer(at, () => {
      this.cancel = null;
      const rung = maintenanceRung(this.o.action);
      this.o.emit?.({ type: "recovery.maintenance", at: this.o.scheduler.now(), action: this.o.action, rung });
      try {
        this.o.onMaintenance(rung, this.o.action);
      } finally {
        // Next window from the scheduled time (or now, if the host slept through it): one action per window, no catch-up burst.
        this.arm(Math.max(at, this.o.scheduler.now()));
      }
    });
  }
}

/**
 * Wires the ladder core to its state file (read at start, written on every
 * change) and to a timer for its one time-driven transition (a connection up
 * `stable_after` resets the ladder). This is what the agent constructs; the
 * returned `policy` is what the modem supervisor consults.
 */
import type { Config } from "../config/schema.ts";
import { WakeTimer, wallOffset, type Scheduler } from "../core/clock.ts";
import type { Cause } from "../core/cause.ts";
import type { RecoveryRung } from "../core/agent-events.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../core/recovery-policy.ts";
import { RecoveryLadder, ladderOptionsFromConfig, type LadderEvent, type LadderOptions } from "./ladder.ts";
import { LadderStateFile } from "./state-file.ts";
import type { RecoveryStateFileEvent } from "./events.ts";

export interface PersistentLadderOptions {
  /** recovery.state_file */
  stateFile: string;
  ladder: LadderOptions;
  /** Current time (the agent's Scheduler.now). */
  now: () => number;
  /** wall − agent time now: the state file holds wall-clock times (src/health/state-file.ts). */
  wallOffset?: () => number;
  /** recovery.state, recovery.action and recovery.state-file events. */
  emit?: (event: LadderEvent | RecoveryStateFileEvent) => void;
}

export function openPersistentLadder(o: PersistentLadderOptions): { ladder: RecoveryLadder; file: LadderStateFile } {
  const file = new LadderStateFile(o.stateFile, { ...(o.emit ? { onEvent: o.emit } : {}), now: o.now, ...(o.wallOffset ? { wallOffset: o.wallOffset } : {}) });
  const initial = file.load();
  const ladder = new RecoveryLadder(o.ladder, initial, o.now(), {
    ...(o.emit ? { emit: o.emit } : {}),
    persist: (s) => void file.save(s),
  });
  return { ladder, file };
}

/**
 * The ladder as a RecoveryPolicy that keeps its own wake-up armed: after
 * every input it re-arms one timer on ladder.nextDeadline() and polls the
 * ladder when it fires.
 */
export class ScheduledLadder implements RecoveryPolicy {
  private readonly wake: WakeTimer;
  constructor(
    readonly ladder: RecoveryLadder,
    private readonly scheduler: Scheduler,
  ) {
    this.wake = new WakeTimer(scheduler, () => {
      this.ladder.poll(this.scheduler.now());
      this.rearm();
    });
    this.rearm();
  }
  onBringUpFailure(cause: Cause, now: number): RecoveryDecision {
    return this.after(this.ladder.onBringUpFailure(cause, now));
  }
  onLinkLost(cause: Cause, now: number): RecoveryDecision {
    return this.after(this.ladder.onLinkLost(cause, now));
  }
  onNetworkBackoff(untilMs: number, now: number): RecoveryDecision {
    return this.after(this.ladder.onNetworkBackoff(untilMs, now));
  }
  onActionStarted(action: RecoveryRung, now: number, forced: boolean): void {
    this.after(this.ladder.onActionStarted(action, now, forced));
  }
  onActionUndelivered(action: RecoveryRung, now: number): void {
    this.after(this.ladder.onActionUndelivered(action, now));
  }
  onConnected(now: number): void {
    this.after(this.ladder.onConnected(now));
  }
  onConfigChanged(now: number): void {
    this.after(this.ladder.onConfigChanged(now));
  }
  /** Cancel the pending wake-up (agent shutdown). */
  stop(): void {
    this.wake.disarm();
  }
  private after<T>(x: T): T {
    this.rearm();
    return x;
  }
  private rearm(): void {
    this.wake.arm(this.ladder.nextDeadline());
  }
}

/** From the typed config: state file read, ladder built, timer wired. */
export function openRecoveryFromConfig(
  config: Config,
  scheduler: Scheduler,
  emit?: PersistentLadderOptions["emit"],
): { policy: ScheduledLadder; ladder: RecoveryLadder; file: LadderStateFile } {
  const { ladder, file } = openPersistentLadder({
    stateFile: config.recovery.state_file,
    ladder: ladderOptionsFromConfig(config.recovery),
    now: () => scheduler.now(),
    wallOffset: () => wallOffset(scheduler),
    ...(emit ? { emit } : {}),
  });
  return { policy: new ScheduledLadder(ladder, scheduler), ladder, file };
}

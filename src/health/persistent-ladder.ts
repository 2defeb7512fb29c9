/**
 * Wires the ladder core to its state file: read at start, written on every
 * change. This is what the agent constructs.
 */
import type { Config } from "../config/schema.ts";
import { RecoveryLadder, ladderOptionsFromConfig, type LadderEvent, type LadderOptions } from "./ladder.ts";
import { LadderStateFile } from "./state-file.ts";
import type { RecoveryStateFileEvent } from "./events.ts";

export interface PersistentLadderOptions {
  /** recovery.state_file */
  stateFile: string;
  ladder: LadderOptions;
  /** Current time (the agent's Scheduler.now). */
  now: () => number;
  /** recovery.state, recovery.action and recovery.state-file events. */
  emit?: (event: LadderEvent | RecoveryStateFileEvent) => void;
}

export function openPersistentLadder(o: PersistentLadderOptions): { ladder: RecoveryLadder; file: LadderStateFile } {
  const file = new LadderStateFile(o.stateFile, { onEvent: o.emit, now: o.now });
  const initial = file.load();
  const ladder = new RecoveryLadder(o.ladder, initial, o.now(), {
    emit: o.emit,
    persist: (s) => void file.save(s),
  });
  return { ladder, file };
}

/** Same, from the typed config. */
export function openLadderFromConfig(config: Config, now: () => number, emit?: PersistentLadderOptions["emit"]) {
  return openPersistentLadder({ stateFile: config.recovery.state_file, ladder: ladderOptionsFromConfig(config.recovery), now, emit });
}

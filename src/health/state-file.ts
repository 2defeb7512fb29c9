/**
 * The recovery ladder's memory on disk (`recovery.state_file`). A restart of
 * cellkeep, or a crash, must neither reset the vendor backoff nor repeat a
 * reset, so the ladder's snapshot is written on every change and read at
 * start.
 *
 * Writes are atomic: write a temp file in the same directory, fsync it, rename
 * it over the old file, fsync the directory (rename(2) is atomic within a file
 * system; the directory fsync makes the rename itself durable across a power
 * loss, which is exactly when a gateway restarts). Synchronous on purpose: the
 * RecoveryPolicy interface is synchronous and the file is a few hundred bytes;
 * the decision must be on disk before the supervisor acts on it.
 *
 * A corrupt or unreadable file is reported with a clear message, moved aside to
 * `<file>.corrupt` for a person to look at, and replaced by a fresh state.
 *
 * Times: the running ladder counts on agent (monotonic) time, which ends with
 * the process; the file must mean the same after a restart or a reboot, so
 * it holds wall-clock times. They are converted at this boundary with the
 * step of the system clock at that moment (`wallOffset`): a clock step while
 * cellkeep runs changes no wait, and the next save writes the times on the
 * stepped clock. Across a reboot the saved times are all that is left: a
 * clock that reads earlier than the file's save time (no RTC) is handled by
 * the ladder's rebase (each wait keeps what remained of it); a clock that
 * reads later counts the time the gateway was down as waited, which is the
 * vendor's intent (the module was not reset meanwhile).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { DurableSaver, errorCode, moveAside } from "../sys/durable-file.ts";
import { parseLadderSnapshot, shiftSnapshot, type LadderSnapshot } from "./ladder.ts";
import type { RecoveryStateFileEvent } from "./events.ts";

export interface StateFileOptions {
  /** Receives problems (corrupt, unreadable, write-failed). */
  onEvent?: (event: RecoveryStateFileEvent) => void;
  /** For event timestamps. */
  now?: () => number;
  /** wall − agent time now (src/core/clock.ts); default 0. The file holds wall-clock times. */
  wallOffset?: () => number;
}

export class LadderStateFile {
  // 0600: the file may hold the fingerprint of a rejected SIM PIN; only the agent reads it.
  private readonly saver: DurableSaver;
  private readonly now: () => number;

  constructor(
    readonly path: string,
    private readonly opts: StateFileOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.saver = new DurableSaver(path, 0o600, (code) =>
      this.report("write-failed", `cannot write the recovery state file (${code}); a restart now would forget the backoff. Check recovery.state_file and ReadWritePaths=`, null),
    );
  }

  /** The saved snapshot, or null (first start, or a bad file that was reported and moved aside). Never throws. */
  load(): LadderSnapshot | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      const code = errorCode(err);
      if (code === "ENOENT") {
        this.ensureDir();
        return null;
      }
      const keptAs = moveAside(this.path, true);
      this.report("unreadable", `cannot read the recovery state file (${code}); starting with a fresh recovery state${keptAs ? `, the old file is kept as ${keptAs}` : ""}`, keptAs);
      return null;
    }
    let parsed: unknown;
    let problem: string;
    try {
      parsed = JSON.parse(text);
      const snap = parseLadderSnapshot(parsed);
      if (typeof snap !== "string") return shiftSnapshot(snap, -(this.opts.wallOffset?.() ?? 0));
      problem = snap;
    } catch (err) {
      problem = `not valid JSON: ${(err as Error).message}`;
    }
    const keptAs = moveAside(this.path, true);
    this.report(
      "corrupt",
      `the recovery state file is corrupt (${problem}); the backoff history is lost and starts over${keptAs ? `; the bad file is kept as ${keptAs}` : ""}`,
      keptAs,
    );
    return null;
  }

  /** Write atomically; returns false (and reports once per distinct error) on failure. */
  save(snapshot: LadderSnapshot): boolean {
    return this.saver.save(JSON.stringify(shiftSnapshot(snapshot, this.opts.wallOffset?.() ?? 0), null, 2) + "\n");
  }


  private ensureDir(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    } catch {
      // reported by the write that follows
    }
  }

  private report(problem: RecoveryStateFileEvent["problem"], message: string, keptAs: string | null): void {
    this.opts.onEvent?.({ type: "recovery.state-file", at: this.now(), path: this.path, problem, message, keptAs });
  }
}

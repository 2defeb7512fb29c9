/**
 * The usage file (usage.state_file, by default usage.json in the state
 * directory beside recovery.state_file). It must survive restarts, kill -9
 * and power loss, so every save is atomic: write a temp file in the same
 * directory, fsync it, rename it over the old one, fsync the directory. A
 * crash at any point leaves either the old or the new file, never a torn one.
 * What a crash loses is only what was counted after the last save (the
 * adapter saves every usage.save_every while counting, and at link down,
 * cycle change, cap, resume and stop).
 *
 * A corrupt file is reported, kept as `<file>.corrupt` for a person and
 * replaced by fresh counts: the agent keeps running (counting from zero is
 * better than not keeping the link).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { UsageStateFileEvent } from "../core/agent-events.ts";
import { DurableSaver, errorCode, moveAside } from "../sys/durable-file.ts";
import { parseUsageState, type UsageState } from "./ledger.ts";

/** usage.state_file, or usage.json in the directory of recovery.state_file. */
export function usageFilePath(config: { usage: { state_file?: string | undefined }; recovery: { state_file: string } }): string {
  return config.usage.state_file ?? join(dirname(config.recovery.state_file), "usage.json");
}

export class UsageFile {
  // 0600: ICCIDs identify a subscriber.
  private readonly saver: DurableSaver;

  constructor(
    readonly path: string,
    private readonly opts: { now: () => number; onEvent?: (e: UsageStateFileEvent) => void },
  ) {
    this.saver = new DurableSaver(path, 0o600, (code) =>
      this.report("write-failed", `cannot write the usage file (${code}); a restart now would lose the counts since the last save. Check usage.state_file and ReadWritePaths=`, null),
    );
  }

  /** The saved state, or null (first start, or a bad file that was reported and moved aside). Never throws. */
  load(): UsageState | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if (errorCode(err) === "ENOENT") return null;
      const keptAs = moveAside(this.path);
      this.report("unreadable", `cannot read the usage file (${errorCode(err)}); counting starts from zero${keptAs ? `, the old file is kept as ${keptAs}` : ""}`, keptAs);
      return null;
    }
    let problem: string;
    try {
      const parsed = parseUsageState(JSON.parse(text));
      if (typeof parsed !== "string") return parsed;
      problem = parsed;
    } catch (err) {
      problem = `not valid JSON: ${(err as Error).message}`;
    }
    const keptAs = moveAside(this.path);
    this.report("corrupt", `the usage file is corrupt (${problem}); counting starts from zero${keptAs ? `; the bad file is kept as ${keptAs}` : ""}`, keptAs);
    return null;
  }

  /** Write atomically; false (reported once per distinct error) on failure. */
  save(state: UsageState): boolean {
    return this.saver.save(JSON.stringify(state, null, 1) + "\n");
  }


  private report(problem: UsageStateFileEvent["problem"], message: string, keptAs: string | null): void {
    this.opts.onEvent?.({ type: "usage.state-file", at: this.opts.now(), path: this.path, problem, message, keptAs });
  }
}

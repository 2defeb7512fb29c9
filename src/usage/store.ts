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
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { UsageStateFileEvent } from "../core/agent-events.ts";
import { parseUsageState, type UsageState } from "./ledger.ts";

/** usage.state_file, or usage.json in the directory of recovery.state_file. */
export function usageFilePath(config: { usage: { state_file?: string | undefined }; recovery: { state_file: string } }): string {
  return config.usage.state_file ?? join(dirname(config.recovery.state_file), "usage.json");
}

const errCode = (err: unknown): string => (err as { code?: string }).code ?? (err as Error).message ?? String(err);

export class UsageFile {
  private lastWriteError: string | null = null;

  constructor(
    readonly path: string,
    private readonly opts: { now: () => number; onEvent?: (e: UsageStateFileEvent) => void },
  ) {}

  /** The saved state, or null (first start, or a bad file that was reported and moved aside). Never throws. */
  load(): UsageState | null {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if (errCode(err) === "ENOENT") return null;
      const keptAs = this.moveAside();
      this.report("unreadable", `cannot read the usage file (${errCode(err)}); counting starts from zero${keptAs ? `, the old file is kept as ${keptAs}` : ""}`, keptAs);
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
    const keptAs = this.moveAside();
    this.report("corrupt", `the usage file is corrupt (${problem}); counting starts from zero${keptAs ? `; the bad file is kept as ${keptAs}` : ""}`, keptAs);
    return null;
  }

  /** Write atomically; false (reported once per distinct error) on failure. */
  save(state: UsageState): boolean {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
      // 0600: ICCIDs identify a subscriber.
      const fd = openSync(tmp, "w", 0o600);
      try {
        writeSync(fd, JSON.stringify(state, null, 1) + "\n");
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      this.syncDir();
      this.lastWriteError = null;
      return true;
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // the temp file may not exist
      }
      const code = errCode(err);
      if (code !== this.lastWriteError) {
        this.lastWriteError = code;
        this.report("write-failed", `cannot write the usage file (${code}); a restart now would lose the counts since the last save. Check usage.state_file and ReadWritePaths=`, null);
      }
      return false;
    }
  }

  /** Makes the rename durable; file systems that refuse fsync on a directory still have the file. */
  private syncDir(): void {
    let fd: number;
    try {
      fd = openSync(dirname(this.path), "r");
    } catch {
      return;
    }
    try {
      fsyncSync(fd);
    } catch (err) {
      const code = errCode(err);
      if (code !== "EINVAL" && code !== "ENOTSUP" && code !== "EBADF") throw err;
    } finally {
      closeSync(fd);
    }
  }

  private moveAside(): string | null {
    const keptAs = `${this.path}.corrupt`;
    try {
      renameSync(this.path, keptAs);
      return keptAs;
    } catch {
      return null;
    }
  }

  private report(problem: UsageStateFileEvent["problem"], message: string, keptAs: string | null): void {
    this.opts.onEvent?.({ type: "usage.state-file", at: this.opts.now(), path: this.path, problem, message, keptAs });
  }
}

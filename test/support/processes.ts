/**
 * Processes that tests' shell scripts start: their pids (written to files by
 * the scripts), whether they still run, and killing whatever a failed test
 * left behind.
 */
import { existsSync, readFileSync } from "node:fs";
import { expect } from "bun:test";

/** /proc/<pid>/stat: state and process group; null once the process is gone. */
export function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: f[0]!, pgrp: Number(f[2]) };
  } catch {
    return null;
  }
}

/** Running, i.e. neither gone nor a zombie waiting to be reaped. */
export const alive = (pid: number): boolean => {
  const s = procStat(pid);
  return s !== null && s.state !== "Z";
};

/** Polls (a bound, not a speed check) until `cond` holds. */
export async function until(cond: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(10);
  return cond();
}

/** The pids scripts wrote, to be killed after each test (afterEach: `killAll()`). */
export class PidFiles {
  private readonly pids: number[] = [];

  /** Reads a pid the script wrote to `file` (waiting for it to appear) and remembers it for cleanup. */
  async read(file: string, ms = 10_000): Promise<number> {
    expect(await until(() => existsSync(file) && readFileSync(file, "utf8").endsWith("\n"), ms)).toBe(true);
    const pid = Number(readFileSync(file, "utf8").trim());
    this.pids.push(pid);
    return pid;
  }

  /** SIGKILL every remembered pid (already gone is fine: that is the expected case). */
  killAll(): void {
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
  }
}

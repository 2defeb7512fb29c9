/**
 * recovery.power_cycle / recovery.reboot_command as real processes: each runs
 * in its own process group, a timeout or a stop kills the whole group (a
 * grandchild the script left running too), and every outcome the caller must
 * act on maps to a named cause.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandRunner, commandFailure } from "../../src/sys/command.ts";
import { PidFiles, alive, procStat, until } from "../support/processes.ts";

const dirs: string[] = [];
const pidFiles = new PidFiles();
const pidFrom = (file: string) => pidFiles.read(file, 5_000);
afterEach(() => {
  // Whatever a failed test left behind: the scripts' pids are written to files, kill them all.
  pidFiles.killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "cellkeep-cmd-"));
  dirs.push(d);
  return d;
}

/** A script that starts a grandchild (`sleep 1000`), writes both pids, and waits for it. */
function hangingScript(dir: string, grandchild = "sleep 1000"): string {
  return `echo $$ > ${dir}/sh.pid; ${grandchild} & echo $! > ${dir}/gc.pid; wait`;
}

describe("CommandRunner", () => {
  test("exit 0 is success; exit 3 is command-failed with the status", async () => {
    const runner = new CommandRunner({ timeoutMs: 10_000 });
    const ok = await runner.run("true");
    expect(ok).toMatchObject({ kind: "exited", code: 0 });
    expect(commandFailure(ok)).toBeNull();
    const bad = await runner.run("exit 3");
    expect(bad).toMatchObject({ kind: "exited", code: 3 });
    expect(commandFailure(bad)).toEqual({ code: "command-failed", detail: "exit status 3" });
    expect(runner.running).toBe(0);
  });

  test("a command that cannot be run (not found) is command-failed too", async () => {
    const runner = new CommandRunner({ timeoutMs: 10_000, output: "ignore" });
    const r = await runner.run("/nonexistent/modem-power-cycle");
    expect(r).toMatchObject({ kind: "exited", code: 127 });
    expect(commandFailure(r)?.code).toBe("command-failed");
  });

  test("the command runs in its own process group, led by its shell", async () => {
    const dir = tempDir();
    const runner = new CommandRunner({ timeoutMs: 10_000 });
    const done = runner.run(`echo $$ > ${dir}/sh.pid; sleep 0.2 & echo $! > ${dir}/gc.pid; wait`);
    const sh = await pidFrom(join(dir, "sh.pid"));
    const gc = await pidFrom(join(dir, "gc.pid"));
    const own = procStat(process.pid)!.pgrp;
    const shStat = procStat(sh);
    const gcStat = procStat(gc);
    expect(shStat?.pgrp).toBe(sh);
    expect(gcStat?.pgrp).toBe(sh);
    expect(sh).not.toBe(own);
    expect(await done).toMatchObject({ kind: "exited", code: 0 });
  });

  test("a script that hangs with a grandchild is killed at the timeout, grandchild included: command-timeout", async () => {
    const dir = tempDir();
    const runner = new CommandRunner({ timeoutMs: 300 });
    const done = runner.run(hangingScript(dir));
    const sh = await pidFrom(join(dir, "sh.pid"));
    const gc = await pidFrom(join(dir, "gc.pid"));
    expect(alive(gc)).toBe(true);
    const r = await done;
    expect(r).toMatchObject({ kind: "timeout", timeoutMs: 300 });
    expect(commandFailure(r)).toEqual({ code: "command-timeout", detail: "no result within 300 ms; its process group was killed" });
    expect(alive(sh)).toBe(false);
    expect(await until(() => !alive(gc))).toBe(true);
    expect(runner.running).toBe(0);
  });

  test("a grandchild that ignores SIGTERM is killed with SIGKILL after the grace time", async () => {
    const dir = tempDir();
    const runner = new CommandRunner({ timeoutMs: 300, killGraceMs: 200 });
    // SIG_IGN survives exec: the sleep ignores SIGTERM, and so does the shell.
    const done = runner.run(`trap '' TERM; ${hangingScript(dir)}`);
    const sh = await pidFrom(join(dir, "sh.pid"));
    const gc = await pidFrom(join(dir, "gc.pid"));
    const r = await done;
    expect(r.kind).toBe("timeout");
    expect(alive(sh)).toBe(false);
    expect(await until(() => !alive(gc))).toBe(true);
  });

  test("stop during a run kills the group; the run ends as stopped, and later runs do not start", async () => {
    const dir = tempDir();
    const runner = new CommandRunner({ timeoutMs: 60_000 });
    const done = runner.run(hangingScript(dir));
    const sh = await pidFrom(join(dir, "sh.pid"));
    const gc = await pidFrom(join(dir, "gc.pid"));
    expect(runner.running).toBe(1);
    await runner.stop();
    const r = await done;
    expect(r.kind).toBe("stopped");
    expect(commandFailure(r)).toEqual({ code: "command-failed", detail: "killed: cellkeep is stopping" });
    expect(alive(sh)).toBe(false);
    expect(await until(() => !alive(gc))).toBe(true);
    expect(runner.running).toBe(0);
    const later = await runner.run(`touch ${dir}/ran`);
    expect(later.kind).toBe("stopped");
    expect(existsSync(join(dir, "ran"))).toBe(false);
  });

  test("a command killed by a signal from elsewhere is command-failed with the signal", async () => {
    const runner = new CommandRunner({ timeoutMs: 10_000 });
    const r = await runner.run("kill -KILL $$");
    expect(r).toMatchObject({ kind: "signalled", signal: "SIGKILL" });
    expect(commandFailure(r)).toEqual({ code: "command-failed", detail: "killed by SIGKILL" });
  });
});

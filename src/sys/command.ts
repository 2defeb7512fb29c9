/**
 * External commands: recovery.power_cycle and recovery.reboot_command run
 * through `/bin/sh -c`, each bounded and each in its own process group.
 *
 * - Own process group: the shell is spawned detached (setsid(2): a new
 *   session and process group led by the shell, pgid = its pid), so
 *   everything the script starts, a `sleep` or a helper it backgrounds, is in
 *   that group and one kill(-pgid) reaches all of it.
 * - Timeout (recovery.command_timeout): SIGTERM to the group, SIGKILL to the
 *   group after a grace time (or as soon as the shell has gone, for members
 *   that outlived it). A helper that hangs no longer blocks the supervisor.
 * - stop(): the same kill for every command still running, and no new one
 *   starts; the agent calls it on shutdown, so a hanging helper does not
 *   hold the shutdown up either.
 * - A command that exits on its own leaves whatever it started in the
 *   background alone (a helper may hand work to a daemon on purpose).
 *
 * The result says how the command ended; commandFailure() turns every
 * outcome but a clean exit into a named cause (command-failed,
 * command-timeout) for the recovery action that ran it.
 */
import { RealScheduler, type CancelTimer, type Scheduler } from "../core/clock.ts";
import { nullLogger, type Logger } from "../core/log.ts";

export type CommandResult =
  /** The shell exited by itself with this status (0: success; 127: not found). */
  | { kind: "exited"; code: number; durationMs: number }
  /** Killed by a signal that did not come from cellkeep. */
  | { kind: "signalled"; signal: string; durationMs: number }
  /** Ran past its time limit; its process group was killed. */
  | { kind: "timeout"; timeoutMs: number; durationMs: number }
  /** Killed (or never started) because the runner was stopped. */
  | { kind: "stopped"; durationMs: number }
  /** The shell itself could not be started. */
  | { kind: "spawn-failed"; error: string; durationMs: number };

/** The named cause for a result, or null for success. */
export function commandFailure(r: CommandResult): { code: "command-failed" | "command-timeout"; detail: string } | null {
  switch (r.kind) {
    case "exited":
      return r.code === 0 ? null : { code: "command-failed", detail: `exit status ${r.code}` };
    case "signalled":
      return { code: "command-failed", detail: `killed by ${r.signal}` };
    case "timeout":
      return { code: "command-timeout", detail: `no result within ${r.timeoutMs} ms; its process group was killed` };
    case "stopped":
      return { code: "command-failed", detail: "killed: cellkeep is stopping" };
    case "spawn-failed":
      return { code: "command-failed", detail: `could not start /bin/sh: ${r.error}` };
  }
}

export interface CommandRunnerOptions {
  /** Limit for each command (recovery.command_timeout); run() may pass another. */
  timeoutMs: number;
  /** After SIGTERM to the group, SIGKILL follows after this long (default 2 s). */
  killGraceMs?: number;
  /** Timers for the limit and the grace time (default: real timers). */
  scheduler?: Scheduler;
  log?: Logger;
  /** The command's stdout/stderr: cellkeep's own (the journal), or nowhere. Default "inherit". */
  output?: "inherit" | "ignore";
}

interface Running {
  /** Kill the group: SIGTERM now, SIGKILL after the grace time. */
  terminate(why: "timeout" | "stopped"): void;
  readonly done: Promise<CommandResult>;
}

export const DEFAULT_KILL_GRACE_MS = 2_000;

export class CommandRunner {
  private readonly live = new Set<Running>();
  private closed = false;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;

  constructor(private readonly opts: CommandRunnerOptions) {
    this.scheduler = opts.scheduler ?? new RealScheduler();
    this.log = opts.log ?? nullLogger;
  }

  /** Commands running now. */
  get running(): number {
    return this.live.size;
  }

  /** Run `command` through `/bin/sh -c` in its own process group; never rejects. */
  run(command: string, timeoutMs = this.opts.timeoutMs): Promise<CommandResult> {
    if (this.closed) return Promise.resolve({ kind: "stopped", durationMs: 0 });
    const { scheduler, log } = this;
    const started = scheduler.now();
    const output = this.opts.output ?? "inherit";
    let proc: Bun.Subprocess;
    try {
      proc = Bun.spawn(["/bin/sh", "-c", command], { detached: true, stdin: "ignore", stdout: output, stderr: output });
    } catch (err) {
      return Promise.resolve({ kind: "spawn-failed", error: (err as Error).message ?? String(err), durationMs: scheduler.now() - started });
    }
    const pgid = proc.pid;
    const grace = this.opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    let ended: "timeout" | "stopped" | null = null;
    const killTimer: { cancel: CancelTimer | null } = { cancel: null };
    const terminate = (why: "timeout" | "stopped") => {
      if (ended) return;
      ended = why;
      log.warn(why === "timeout" ? `command ran past its ${timeoutMs} ms limit: killing its process group` : "stopping: killing the command's process group", { pgid });
      signalGroup(pgid, "SIGTERM");
      killTimer.cancel = scheduler.setTimer(scheduler.now() + grace, () => signalGroup(pgid, "SIGKILL"));
    };
    const cancelLimit = scheduler.setTimer(started + timeoutMs, () => terminate("timeout"));
    const done = (async (): Promise<CommandResult> => {
      try {
        await proc.exited;
      } finally {
        cancelLimit();
        killTimer.cancel?.();
      }
      // Members that outlived the shell (or ignored SIGTERM) go now.
      if (ended) signalGroup(pgid, "SIGKILL");
      const durationMs = scheduler.now() - started;
      if (ended === "timeout") return { kind: "timeout", timeoutMs, durationMs };
      if (ended === "stopped") return { kind: "stopped", durationMs };
      if (proc.signalCode) return { kind: "signalled", signal: String(proc.signalCode), durationMs };
      return { kind: "exited", code: proc.exitCode ?? -1, durationMs };
    })();
    const entry: Running = { terminate, done };
    this.live.add(entry);
    return done.finally(() => this.live.delete(entry));
  }

  /** Kill every running command's group and refuse new ones; resolves once they are gone. */
  async stop(): Promise<void> {
    this.closed = true;
    const all = [...this.live];
    for (const r of all) r.terminate("stopped");
    await Promise.all(all.map((r) => r.done));
  }
}

/** kill(-pgid, sig); a group that is already gone is fine. Never signals our own group or init's. */
function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) return;
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: every member has exited
  }
}

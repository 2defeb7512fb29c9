/**
 * `cellkeep run --config FILE`: load the config (exit 2 on any error, before
 * anything touches the modem), start the agent, and map signals: SIGINT and
 * SIGTERM stop cleanly (exit 0), SIGHUP re-reads the config and keeps the old
 * one when the new one is invalid.
 *
 * Crashes: an uncaught exception or unhandled rejection while the agent runs
 * (routed here by src/cli/fault.ts), or the supervisor's loop throwing, is
 * logged with the cause agent-crashed, the agent stops cleanly (hang-up,
 * interface removed), and the exit code is 70 (EXIT.CRASH) so the service
 * manager restarts cellkeep. A clean stop that does not finish within
 * CRASH_STOP_LIMIT_MS is given up on: exit 70 all the same.
 */
import { loadConfigFile, formatIssue, type LoadResult } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createLogger } from "../core/log.ts";
import { CellkeepError } from "../core/cause.ts";
import { EXIT } from "./exit-codes.ts";
import { takeFaults } from "./fault.ts";
import { reportConfigIssues, type Output } from "./check.ts";
import { startAgent, type AgentOverrides } from "../agent.ts";

export async function runCommand(file: string, io: Output, overrides: AgentOverrides = {}): Promise<number> {
  const loaded = loadConfigFile(file);
  if (!loaded.ok) return reportConfigIssues(file, loaded.issues, io);
  return runCommandWithConfig(loaded.config, file, loaded.warnings, overrides, () => loadConfigFile(file));
}

/** Run the agent with an already validated config until a signal stops it. */
export async function runCommandWithConfig(
  config: Config,
  file: string,
  warnings: string[],
  overrides: AgentOverrides = {},
  reloadFrom: (() => LoadResult) | null = null,
): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });

  // A signal that arrives while the agent starts (TUN, state file, HTTP...) must not take its default
  // action (SIGHUP would end the process, e.g. a `systemctl reload` right after a start): it is held
  // and acted on as soon as the agent runs.
  const early: NodeJS.Signals[] = [];
  const hold = (sig: NodeJS.Signals) => () => void early.push(sig);
  const holders = (["SIGHUP", "SIGTERM", "SIGINT"] as const).map((sig) => [sig, hold(sig)] as const);
  for (const [sig, h] of holders) process.on(sig, h);
  // After the holders: a test (or a person) that sees the first line may signal at once.
  for (const w of warnings) log.warn(w);
  let agent;
  try {
    agent = await startAgent(config, { log, configFile: file, ...overrides });
  } catch (err) {
    for (const [sig, h] of holders) process.off(sig, h);
    if (err instanceof CellkeepError) {
      log.error(`cannot start: ${err.causeInfo.code}${err.causeInfo.detail ? ` (${err.causeInfo.detail})` : ""}; hint: ${err.causeInfo.hint}`);
      // A bad config found at start (e.g. a token file too short) exits like any bad config: 2.
      return err.causeInfo.code === "config-invalid" ? EXIT.USAGE : EXIT.FAILURE;
    }
    throw err;
  }
  for (const [sig, h] of holders) process.off(sig, h);

  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    let crashing = false;
    let giveUp: ReturnType<typeof setTimeout> | null = null;
    const onFault = (err: unknown, origin: string) => {
      const first = !crashing;
      crashing = true;
      agent.crash(err, origin).catch((e: unknown) => {
        log.error(`stop after the crash failed: ${(e as Error).message}`);
        resolveExit(EXIT.CRASH);
      });
      if (!first) return;
      giveUp = setTimeout(() => {
        log.error(`the clean stop after the crash took longer than ${CRASH_STOP_LIMIT_MS / 1000} s; exiting anyway`);
        resolveExit(EXIT.CRASH);
      }, CRASH_STOP_LIMIT_MS);
      (giveUp as { unref?: () => void }).unref?.();
    };
    const releaseFaults = takeFaults(onFault);
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`received ${signal}, shutting down`);
      agent.stop(`signal ${signal}`).then(
        () => resolveExit(EXIT.OK),
        (err: unknown) => {
          log.error(`shutdown failed: ${(err as Error).message}`);
          resolveExit(EXIT.FAILURE);
        },
      );
    };
    const reload = () => {
      if (!reloadFrom) {
        log.warn("SIGHUP: this configuration cannot be re-read; ignored");
        return;
      }
      const next = reloadFrom();
      if (!next.ok) {
        for (const issue of next.issues) log.error(`reload rejected: ${formatIssue(file, issue)}`);
        log.warn("keeping the previous configuration");
        return;
      }
      for (const w of next.warnings) log.warn(w);
      agent.reload(next.config).catch((err: unknown) => log.error(`reload failed: ${(err as Error).message}`));
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    process.on("SIGHUP", reload);
    for (const sig of early) {
      if (sig === "SIGHUP") reload();
      else stop(sig);
    }
    agent.stopped.then(() => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", reload);
      releaseFaults();
      if (giveUp) clearTimeout(giveUp);
      // A crash (here or in the supervisor's loop) exits 70 even when a signal stop was under way.
      if (agent.crashCause) resolveExit(EXIT.CRASH);
      else if (!stopping) resolveExit(EXIT.FAILURE);
    });
  });
}

/** How long the clean stop after a crash may take before the process exits regardless. */
export const CRASH_STOP_LIMIT_MS = 30_000;

/**
 * `cellkeep doctor [--config FILE] [--user NAME]`: checks the host for what a
 * run needs (src/doctor/) and prints each finding with its fix. Exit 0 when
 * nothing blocks a run, 1 when something does, 2 on a bad command line.
 */
import { parseArgs, lastOption } from "./args.ts";
import type { Output } from "./check.ts";
import { EXIT } from "./exit-codes.ts";
import { formatReport, runDoctor } from "../doctor/doctor.ts";
import { Host, REAL_ROOTS } from "../doctor/host.ts";

export const DEFAULT_CONFIG_FILE = "/etc/cellkeep/cellkeep.toml";

/**
 * No clock that has been set reads earlier than this release's year: an
 * earlier time means a board without an RTC that has not synced yet.
 */
export const RELEASE_EPOCH_MS = Date.UTC(2026, 0, 1);

export function doctorCommand(argv: readonly string[], io: Output, host = new Host(REAL_ROOTS)): number {
  const args = parseArgs(argv, { options: ["config", "user"] });
  const user = lastOption(args, "user");
  const report = runDoctor(host, {
    configFile: lastOption(args, "config") ?? args.positionals[0] ?? DEFAULT_CONFIG_FILE,
    ...(user !== undefined ? { user } : {}),
    buildTimeMs: RELEASE_EPOCH_MS,
  });
  if (typeof report === "string") {
    io.err(`cellkeep doctor: ${report}`);
    return EXIT.USAGE;
  }
  io.out(formatReport(report));
  return report.blocking > 0 ? EXIT.FAILURE : EXIT.OK;
}

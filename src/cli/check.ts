import { loadConfigFile, formatIssue, renderEffectiveConfig, type ConfigIssue } from "../config/load.ts";
import { EXIT } from "./exit-codes.ts";
import { readFileSync } from "node:fs";
import { KeyLines } from "../config/lines.ts";
import { readTokenFile } from "../http/auth.ts";
import { listenExposureWarning } from "../http/host-check.ts";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : t + "\n"),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : t + "\n"),
};

/** Every config problem on its own line, then the count; the caller exits 2. */
export function reportConfigIssues(file: string, issues: readonly ConfigIssue[], io: Output): number {
  for (const issue of issues) io.err(formatIssue(file, issue));
  io.err(`${file}: ${issues.length} error${issues.length === 1 ? "" : "s"}; nothing was started`);
  return EXIT.USAGE;
}

/** `cellkeep check --config FILE`: every problem at once, exit 2 if any. */
export function checkCommand(file: string, io: Output = stdio): number {
  const result = loadConfigFile(file);
  if (!result.ok) return reportConfigIssues(file, result.issues, io);
  // The token is read here as `run` reads it (src/agent.ts), so check refuses what run would refuse.
  if (result.config.http.token_file !== undefined) {
    const token = readTokenFile(result.config.http.token_file);
    if (!token.ok) {
      const line = new KeyLines(readFileSync(file, "utf8")).lineOf("http.token_file");
      return reportConfigIssues(file, [{ path: "http.token_file", line, message: token.message }], io);
    }
  }
  for (const w of result.warnings) io.err(`warning: ${w}`);
  const exposure = listenExposureWarning(result.config.http.listen);
  if (exposure) io.err(`warning: ${exposure}`);
  io.out(`# ${file} is valid. Effective configuration (defaults filled in, secrets as ***):`);
  io.out(renderEffectiveConfig(result.config));
  return EXIT.OK;
}

/**
 * `cellkeep doctor`: every check of src/doctor/checks.ts against one host,
 * for the user cellkeep runs as, and the report a person reads: one line per
 * finding, the fix under it, a summary, and "blocking" decided in one place.
 */
import { existsSync } from "node:fs";
import { loadConfigFile, formatIssue } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import {
  checkClock,
  checkFiles,
  checkHolders,
  checkLocks,
  checkNetAdmin,
  checkPort,
  checkQmi,
  checkStateDir,
  checkTun,
  checkUnitDevices,
  checkUsbInterfaces,
  modemPorts,
  type Finding,
  type Level,
} from "./checks.ts";
import { Host, type RunUser } from "./host.ts";

/** The packaged service's user (build/debian/postinst). */
export const SERVICE_USER = "cellkeep";

export interface DoctorOptions {
  configFile: string;
  /** Judge permissions for this user; default: the service user when running as root and it exists, else this process. */
  user?: string;
  /** This process's pid (its own open files are not "another process"). */
  selfPid?: number;
  /** ms since the epoch; a clock before it is "far behind". */
  buildTimeMs: number;
}

export interface DoctorReport {
  user: RunUser;
  findings: Finding[];
  blocking: number;
  warnings: number;
}

/** Who the checks are for. */
export function runUser(host: Host, wanted: string | undefined): RunUser | string {
  const self = host.self();
  if (wanted !== undefined) return host.userByName(wanted, "--user") ?? `no user "${wanted}" in ${host.roots.etc}/passwd`;
  if (self.uid === 0) {
    const service = host.userByName(SERVICE_USER, "the packaged service's user; --user root checks a run as root");
    if (service) return service;
  }
  return { name: host.userName(self.uid), uid: self.uid, gids: self.gids, how: "this process" };
}

export function runDoctor(host: Host, o: DoctorOptions): DoctorReport | string {
  const user = runUser(host, o.user);
  if (typeof user === "string") return user;
  const loaded = loadConfigFile(o.configFile);
  const config: Config | null = loaded.ok ? loaded.config : null;
  // A missing file is checkFiles' finding; anything else wrong with it is one finding here.
  const configError =
    loaded.ok || !existsSync(o.configFile)
      ? null
      : `${loaded.issues.length} problem${loaded.issues.length === 1 ? "" : "s"} in the config, first: ${formatIssue(o.configFile, loaded.issues[0]!)}`;
  const ports = modemPorts(host, config);
  const self = host.self();
  const findings: Finding[] = [
    ...checkFiles(host, o.configFile, config, configError, user),
    ...checkPort(host, ports, config, user),
    ...checkUnitDevices(host, ports),
    ...checkHolders(host, ports, o.selfPid ?? process.pid),
    ...checkLocks(host, ports),
    ...checkUsbInterfaces(ports),
    ...checkTun(host, config, user),
    ...checkNetAdmin(host, config, user, self),
    ...checkStateDir(host, config, user),
    ...checkClock(host, o.buildTimeMs),
    ...checkQmi(host),
  ];
  return {
    user,
    findings,
    blocking: findings.filter((f) => f.level === "block").length,
    warnings: findings.filter((f) => f.level === "warn").length,
  };
}

const TAG: Record<Level, string> = { ok: "ok   ", info: "info ", warn: "WARN ", block: "BLOCK" };

export function formatReport(r: DoctorReport): string {
  const lines = [`cellkeep doctor: checking for user ${r.user.name} (${r.user.how})`];
  for (const f of r.findings) {
    lines.push(`${TAG[f.level]} ${f.check}: ${f.message}`);
    if (f.fix) lines.push(...f.fix.split("\n").map((l, i) => `${i === 0 ? "      fix: " : "           "}${l}`));
  }
  lines.push(
    r.blocking > 0
      ? `${r.blocking} problem${r.blocking === 1 ? " blocks" : "s block"} a run, ${r.warnings} warning${r.warnings === 1 ? "" : "s"}`
      : `nothing blocks a run; ${r.warnings} warning${r.warnings === 1 ? "" : "s"}`,
  );
  return lines.join("\n");
}

/**
 * Builds the health area from the typed config: the probes, the monitor and
 * the maintenance window. The agent supplies what only other modules know
 * (the in-link prober, PPP's echo status, the supervisor's modem check, IPCP's
 * DNS servers and our address).
 */
import type { Config } from "../config/schema.ts";
import type { Scheduler } from "../core/clock.ts";
import type { Cause } from "../core/cause.ts";
import type { RecoveryRung } from "../core/agent-events.ts";
import type { Logger } from "../core/log.ts";
import { HealthMonitor, type HealthMonitorOptions } from "./monitor.ts";
import { MaintenanceWindow, type MaintenanceAction } from "./maintenance.ts";
import { cronSchedule, probeScheduleFromConfig, type CronOptions } from "./schedule.ts";
import { IcmpProbe, LcpEchoProbe, ModemCheckProbe, type IcmpProber, type LcpEchoStatus, type ModemCheckResult, type Probe } from "./probes.ts";
import { DnsProbe, HttpProbe } from "./dns-probe.ts";
import type { RecoveryMaintenanceEvent } from "./events.ts";
import type { QuietLiveness } from "./quiet.ts";

export interface HealthDeps {
  /** In-link ICMP echo (InLinkIcmpProber); without it there are no ICMP probes. */
  icmp?: IcmpProber;
  /** The PPP session's LCP echo status. */
  lcpStatus?: () => LcpEchoStatus | null;
  /** Registration + signal from the supervisor; null = cannot ask now. Used when health.modem_check. */
  modemCheck?: () => Promise<ModemCheckResult | null>;
  /** DNS servers from IPCP. */
  dnsServers?: () => readonly string[];
  /** Our IPCP address. */
  localAddress?: () => string | null;
  scheduler?: Scheduler;
}

/** The probe set of a round, from the config. DNS and HTTP only in tun mode (they use kernel sockets). */
export function buildProbes(config: Config, deps: HealthDeps): Probe[] {
  const h = config.health;
  const probes: Probe[] = [];
  if (deps.icmp) for (const t of h.targets) probes.push(new IcmpProbe(deps.icmp, t));
  if (deps.lcpStatus) probes.push(new LcpEchoProbe(deps.lcpStatus));
  if (h.modem_check && deps.modemCheck) probes.push(new ModemCheckProbe(deps.modemCheck));
  if (config.link.mode === "tun") {
    if (h.dns_query) {
      probes.push(
        new DnsProbe({
          name: h.dns_query,
          servers: deps.dnsServers ?? (() => []),
          source: deps.localAddress ?? (() => null),
          ...(deps.scheduler ? { scheduler: deps.scheduler } : {}),
        }),
      );
    }
    if (h.http_url) probes.push(new HttpProbe({ url: h.http_url, ...(deps.scheduler ? { scheduler: deps.scheduler } : {}) }));
  }
  return probes;
}

export interface MonitorWiring {
  scheduler: Scheduler;
  /** The agent: supervisor.linkLost(cause). */
  onUnhealthy: (cause: Cause, consecutiveFailures: number) => void;
  emit?: HealthMonitorOptions["emit"];
  log?: Logger;
  cron?: CronOptions;
  /** Quiet liveness and the quiet cap (./quiet.ts). */
  quiet?: QuietLiveness;
}

export function createHealthMonitor(config: Config, deps: HealthDeps, w: MonitorWiring): HealthMonitor {
  const probes = buildProbes(config, { ...deps, scheduler: deps.scheduler ?? w.scheduler });
  return new HealthMonitor({
    scheduler: w.scheduler,
    schedule: probeScheduleFromConfig(config.health, w.cron),
    probes,
    timeoutMs: config.health.timeout,
    failures: config.health.failures,
    onUnhealthy: w.onUnhealthy,
    ...(w.emit ? { emit: w.emit } : {}),
    ...(w.log ? { log: w.log } : {}),
    ...(w.quiet ? { quiet: w.quiet } : {}),
  });
}

/** The maintenance window, or null when recovery.maintenance is not configured. */
export function createMaintenanceWindow(
  config: Config,
  w: {
    scheduler: Scheduler;
    onMaintenance: (rung: RecoveryRung, action: MaintenanceAction) => void;
    emit?: (e: RecoveryMaintenanceEvent) => void;
    cron?: CronOptions;
  },
): MaintenanceWindow | null {
  const m = config.recovery.maintenance;
  if (!m) return null;
  return new MaintenanceWindow({
    scheduler: w.scheduler,
    schedule: cronSchedule(m.schedule, w.cron),
    action: m.action,
    onMaintenance: w.onMaintenance,
    ...(w.emit ? { emit: w.emit } : {}),
  });
}

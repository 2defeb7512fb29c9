/**
 * Health monitoring joined to the link: probes run while the bearer is up
 * (the first round as soon as the data plane is ready, so a person watching
 * the bring-up sees the link carry traffic), an unhealthy verdict ends the
 * link, and the maintenance window asks the ladder before it redials or
 * resets (the ladder owns the network back-off rule).
 */
import type { Config } from "../config/schema.ts";
import { wallOffset, type Scheduler } from "../core/clock.ts";
import type { DataBearer } from "../core/data-bearer.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import type { MaintenanceWindow } from "../health/maintenance.ts";
import type { HealthMonitor } from "../health/monitor.ts";
import type { CronOptions } from "../health/schedule.ts";
import type { QuietLiveness } from "../health/quiet.ts";
import { createHealthMonitor, createMaintenanceWindow } from "../health/setup.ts";
import { isRegistered, registrationStatus } from "../modem/parse.ts";
import type { ModemSupervisor } from "../modem/supervisor.ts";
import type { DataPlane } from "./dataplane.ts";

export interface HealthWiringDeps {
  config: Config;
  scheduler: Scheduler;
  log: Logger;
  emit: (e: EventBase) => void;
  supervisor: ModemSupervisor<DataBearer>;
  dataPlane: DataPlane;
  ladder: RecoveryLadder;
  cron?: CronOptions;
  /** Quiet liveness and the data-usage quiet cap (src/health/quiet.ts). */
  quiet?: QuietLiveness;
}

export interface HealthWiring {
  monitor: HealthMonitor;
  maintenance: MaintenanceWindow | null;
  start(): void;
  stop(): void;
}

export function wireHealth(d: HealthWiringDeps): HealthWiring {
  const { config, scheduler, supervisor, dataPlane } = d;
  // Cron patterns name calendar times; timers run on the monotonic agent clock (src/core/clock.ts).
  const cron = { cron: { ...d.cron, wallOffset: () => wallOffset(scheduler) } };
  const monitor = createHealthMonitor(
    config,
    {
      icmp: dataPlane.prober,
      lcpStatus: () => supervisor.bearer?.keepalive() ?? null,
      modemCheck: async () => {
        const r = await supervisor.pollModem();
        if (r.stat === null) return null; // cannot ask now (no control port while connected)
        return { registered: isRegistered(r.stat), status: registrationStatus(r.stat), signalDbm: r.rssi };
      },
      dnsServers: () => dataPlane.dnsServers,
      localAddress: () => dataPlane.localAddress,
      scheduler,
    },
    { scheduler, onUnhealthy: (c) => supervisor.linkLost(c), emit: d.emit, log: d.log.child("health"), ...cron, ...(d.quiet ? { quiet: d.quiet } : {}) },
  );

  supervisor.onLinkUp((info, bearer) => {
    monitor.setLinkUp(true);
    void dataPlane.linkUp(bearer, info).then(() => {
      if (supervisor.state === "connected" || supervisor.state === "negotiating") void monitor.runRound();
    });
  });
  supervisor.onLinkDown((c) => {
    monitor.setLinkUp(false);
    void dataPlane.linkDown(c);
  });

  const maintenance = createMaintenanceWindow(config, {
    scheduler,
    emit: d.emit,
    ...cron,
    onMaintenance: (rung) => {
      const refused = d.ladder.acceptMaintenance(rung, scheduler.now());
      if (refused !== null) return d.log.child("recovery").warn(refused);
      if (rung === "redial") supervisor.requestRedial();
      else supervisor.requestModemReset();
    },
  });

  return {
    monitor,
    maintenance,
    start() {
      monitor.start();
      maintenance?.start();
    },
    stop() {
      monitor.stop();
      maintenance?.stop();
    },
  };
}

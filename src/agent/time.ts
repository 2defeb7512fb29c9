/**
 * The network's time (issue 17): the service in src/modem/network-time.ts on
 * the supervisor's side channel, fed the NITZ URCs from the event bus, and
 * the system clock set through libc clock_settime (src/sys/libc.ts).
 *
 * Why clock_settime rather than `date -s`: no child process and no shell
 * parsing of a date string (busybox and coreutils date differ), the errno
 * (EPERM: no CAP_SYS_TIME, or systemd's ProtectClock=) comes back precisely,
 * and the step is to the millisecond the reading was taken at.
 */
import type { Config } from "../config/schema.ts";
import { withWallClock, type Scheduler } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import { clockSetFailure, NetworkTimeService } from "../modem/network-time.ts";
import type { ModemSupervisor } from "../modem/supervisor.ts";
import { clockSetRealtime, errno, errnoName } from "../sys/libc.ts";
import { startUrcService } from "./urc-service.ts";

export interface TimeWiringDeps {
  config: Config;
  scheduler: Scheduler;
  supervisor: Pick<ModemSupervisor, "sideChannel">;
  events: EventBus<EventBase>;
  log: Logger;
  /** Replaces clock_settime (tests: this machine's clock is never touched). */
  setClock?: (wallMs: number) => number;
}

export function wireNetworkTime(d: TimeWiringDeps): { service: NetworkTimeService; stop(): void } {
  const set = d.setClock ?? clockSetRealtime;
  const service = new NetworkTimeService({
    scheduler: withWallClock(d.scheduler),
    channel: () => d.supervisor.sideChannel(),
    settings: d.config.time,
    setClock: (ms) => {
      try {
        return set(ms) === 0 ? null : clockSetFailure(`clock_settime: ${errnoName(errno())}`);
      } catch (err) {
        return clockSetFailure(String((err as Error).message ?? err));
      }
    },
    emit: (e) => d.events.emit(e),
    log: d.log.child("time"),
  });
  return startUrcService(d.events, service);
}

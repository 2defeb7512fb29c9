/**
 * The modem side of the agent: the supervisor with its data bearer (PPP over
 * the data-mode pipe), the runner for the configured power-cycle and reboot
 * commands, and the rejected-PIN memory in the recovery state file.
 *
 * The config is read through `config()` when it is used (each call, each
 * command), so a reload that replaced the config object reaches the next
 * bring-up without anyone mutating the object the other parts hold.
 */
import type { Config } from "../config/schema.ts";
import type { Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { DataBearer } from "../core/data-bearer.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { RecoveryPolicy } from "../core/recovery-policy.ts";
import { withCarrierWatch } from "../bearer/carrier-watch.ts";
import { pppBearerFactory } from "../bearer/ppp.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import { ModemSupervisor, type SupervisorTiming } from "../modem/supervisor.ts";
import { CommandRunner } from "../sys/command.ts";
import { wireMux, type MuxWiring } from "./mux.ts";

export interface ModemWiringDeps {
  /** The config in force now (replaced whole on reload). */
  config: () => Config;
  scheduler: Scheduler;
  log: Logger;
  emit: (e: EventBase) => void;
  ports: { openPort: () => Promise<BytePipe>; openControlPort: () => Promise<BytePipe | null>; hasControlPort?: () => boolean };
  recovery: { policy: RecoveryPolicy; ladder: RecoveryLadder };
  timing?: Partial<SupervisorTiming>;
  /** Keeps the link down after the SIM step (the data-usage stop cap, src/agent/usage.ts). */
  holdDown?: () => Cause | null;
}

export interface ModemWiring {
  supervisor: ModemSupervisor<DataBearer>;
  /** recovery.power_cycle / reboot_command runs; stop() kills one still running, with its process group. */
  commands: CommandRunner;
  /** CMUX on the one port (modem.mux); its session is null when the port is plain. */
  mux: MuxWiring;
}

export function wireModem(d: ModemWiringDeps): ModemWiring {
  const { scheduler, emit, recovery } = d;
  // Bounded by recovery.command_timeout, each in its own process group (src/sys/command.ts).
  const commands = new CommandRunner({ timeoutMs: d.config().recovery.command_timeout, scheduler, log: d.log.child("recovery") });
  // modem.mux: the supervisor's port and control port become DLCIs of one 27.010 session
  // (plain ports when off); a mux fault reaches the supervisor like a failed health check.
  let supervisorRef: ModemSupervisor<DataBearer> | null = null;
  const mux = wireMux(d.ports, {
    config: d.config,
    scheduler,
    log: d.log.child("cmux"),
    emit,
    onFault: (c) => supervisorRef?.linkLost(c),
    ...(d.timing?.profileLimits?.hungAfter !== undefined ? { watch: { silentAfterMs: d.timing.profileLimits.hungAfter } } : {}),
    ...(d.timing?.escapeGuardMs !== undefined ? { guardMs: d.timing.escapeGuardMs } : {}),
  });
  const supervisor = new ModemSupervisor<DataBearer>({
    config: d.config(),
    scheduler,
    openPort: mux.openPort,
    openControlPort: mux.openControlPort,
    policy: recovery.policy,
    emit,
    log: d.log.child("modem"),
    // One bearer per call, from the config in force when the call is made.
    // With CMUX, a DCD drop on the data DLCI (MSC) ends the call as NO CARRIER would.
    createBearer: withCarrierWatch((pipe, hooks) => pppBearerFactory({ config: d.config(), scheduler, onEvent: emit })(pipe, hooks), mux.carrier),
    runCommand: (command) => commands.run(command, d.config().recovery.command_timeout),
    // A PIN the SIM rejected is remembered in the state file: never sent again, also after a restart.
    pinMemory: {
      rejected: () => recovery.ladder.rejectedPin(),
      remember: (p) => recovery.ladder.rememberRejectedPin(p, scheduler.now()),
    },
    ...(d.timing ? { timing: d.timing } : {}),
    ...(d.holdDown ? { holdDown: d.holdDown } : {}),
  });
  supervisorRef = supervisor;
  return { supervisor, commands, mux };
}

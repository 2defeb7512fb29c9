/**
 * What the supervisor's parts share: config, timing, clock, the profile in
 * use, the ports, AT commands, interrupts, what is known about the modem,
 * and the little memory that outlives one bring-up attempt (PIN entered,
 * boot URC seen, network back-off announced). Built once per supervisor.
 */
import type { AtUrc } from "../at/channel.ts";
import type { Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { DataBearer } from "../core/data-bearer.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import type { Config } from "../config/schema.ts";
import type { CommandResult } from "../sys/command.ts";
import { AtCommands } from "./commands.ts";
import type { ModemEvent } from "./events.ts";
import { ModemFacts } from "./facts.ts";
import { Interrupts, type Interrupt } from "./interrupts.ts";
import { PendingBackoff } from "./network-backoff.ts";
import { ModemPorts } from "./ports.ts";
import { resolveProfile, type ModemProfile } from "./profiles.ts";
import { DEFAULT_TIMING, type PinMemory, type SupervisorDeps, type SupervisorTiming } from "./types.ts";

/** What the SIM step remembers across attempts: a PIN is entered once, a rejected one never again. */
export interface SimMemory {
  /** The PIN was entered and the SIM has not read READY since (a second ask then means it was wrong). */
  pinSent: boolean;
  rejected: Cause | null;
  /** The modem.pin that was rejected: a different one (a config reload) gets its one try. */
  rejectedPin?: string | undefined;
}

/** Set when the module prints its boot URC (Quectel: RDY). */
export interface BootWatch {
  seen: boolean;
}

export interface ModemContext {
  /** Replaced whole on a reload (never mutated): each step reads it when it runs. */
  config: Config;
  readonly timing: SupervisorTiming;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  /** The profile in use: from modem.profile, or picked by the identity step when "auto". */
  profile: ModemProfile;
  readonly interrupts: Interrupts;
  readonly ports: ModemPorts;
  readonly at: AtCommands;
  readonly facts: ModemFacts;
  readonly backoff: PendingBackoff;
  readonly sim: SimMemory;
  /** The rejected PIN across restarts (the state file), when the agent provides it. */
  readonly pinMemory: PinMemory | null;
  readonly boot: BootWatch;
  /** Runs recovery.power_cycle / recovery.reboot_command; resolves with how it ended. */
  readonly runCommand?: (command: string) => Promise<CommandResult>;
  emit(e: ModemEvent): void;
}

export interface ContextHooks {
  emit(e: ModemEvent): void;
  onUrc(u: AtUrc): void;
  /** Runs for each interrupt raised (e.g. to abort the commands in flight). */
  onInterrupt(i: Interrupt): void;
}

export function createModemContext<B extends DataBearer>(deps: SupervisorDeps<B>, hooks: ContextHooks): ModemContext {
  const scheduler = deps.scheduler;
  const log = deps.log ?? nullLogger;
  const timing: SupervisorTiming = { ...DEFAULT_TIMING, ...deps.timing };
  const interrupts = new Interrupts(scheduler, hooks.onInterrupt);
  const profile = () => ctx.profile;
  const ports = new ModemPorts({
    openPort: deps.openPort,
    ...(deps.openControlPort ? { openControlPort: deps.openControlPort } : {}),
    scheduler,
    log,
    interrupts,
    profile,
    onUrc: hooks.onUrc,
    returnTimeoutMs: timing.portReturnTimeoutMs,
    retryMs: timing.portRetryMs,
  });
  const ctx: ModemContext = {
    config: deps.config,
    timing,
    scheduler,
    log,
    profile: tunedProfile(resolveProfile(deps.config.modem.profile, null), timing),
    interrupts,
    ports,
    at: new AtCommands({ channel: () => ports.channel, profile, interrupts, scheduler, emit: hooks.emit }),
    facts: new ModemFacts(scheduler, hooks.emit, profile),
    backoff: new PendingBackoff(),
    sim: { pinSent: false, rejected: null },
    pinMemory: deps.pinMemory ?? null,
    boot: { seen: false },
    ...(deps.runCommand ? { runCommand: deps.runCommand } : {}),
    emit: hooks.emit,
  };
  return ctx;
}

/** The profile with the timing overrides of time-scaled tests (timing.profileLimits, timing.bootTimeoutMs). */
export function tunedProfile(p: ModemProfile, t: SupervisorTiming): ModemProfile {
  if (!t.profileLimits && t.bootTimeoutMs === undefined) return p;
  return { ...p, limits: { ...p.limits, ...t.profileLimits }, bootTimeoutMs: t.bootTimeoutMs ?? p.bootTimeoutMs };
}

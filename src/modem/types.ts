/**
 * The supervisor's seams: its timing knobs, its dependencies (the data
 * bearer it runs after CONNECT is only the DataBearer interface from core),
 * and what it reports. Types only (plus defaults).
 */
import type { Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { CreateBearer, DataBearer } from "../core/data-bearer.ts";
import type { Logger } from "../core/log.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { RecoveryPolicy } from "../core/recovery-policy.ts";
import type { Config } from "../config/schema.ts";
import type { CommandResult } from "../sys/command.ts";
import type { ModemEvent } from "./events.ts";
import type { CommandLimits } from "./profiles.ts";

export interface SupervisorTiming {
  /** Sync: AT every this often (vendor: 100 ms). */
  syncIntervalMs: number;
  /** Sync: after this long without OK, try to leave a data call left over from an earlier run. */
  syncEscapeAfterMs: number;
  /** +CPIN? until READY for at most this long. */
  simReadyTimeoutMs: number;
  simPollMs: number;
  registrationTimeoutMs: number;
  registrationPollMs: number;
  attachTimeoutMs: number;
  attachPollMs: number;
  /** From CONNECT to the bearer up (PPP: LCP, authentication, IPCP). */
  negotiateTimeoutMs: number;
  /** The bearer's own stop (PPP: the Terminate handshake) before giving up on it. */
  bearerStopTimeoutMs: number;
  /** Escape guard time before and after "+++" (V.250 S12 default 1 s). */
  escapeGuardMs: number;
  /** How long a vanished port may stay away before the failure is port-vanished. */
  portReturnTimeoutMs: number;
  portRetryMs: number;
  /** Signal/cell polling on the control port while connected; 0 = off. */
  signalPollMs: number;
  /**
   * Override the profile's vendor limits (e.g. the 60 s hung limit, 15 s for
   * CFUN) and boot wait: only for time-scaled virtual modems in end-to-end
   * tests, where a 60 s wait would dominate the run. Unset on real modems.
   */
  profileLimits?: Partial<CommandLimits>;
  bootTimeoutMs?: number;
}

export const DEFAULT_TIMING: SupervisorTiming = {
  syncIntervalMs: 100,
  syncEscapeAfterMs: 3_000,
  simReadyTimeoutMs: 10_000,
  simPollMs: 1_000,
  registrationTimeoutMs: 180_000,
  registrationPollMs: 2_000,
  attachTimeoutMs: 140_000,
  attachPollMs: 1_000,
  negotiateTimeoutMs: 60_000,
  bearerStopTimeoutMs: 5_000,
  escapeGuardMs: 1_000,
  portReturnTimeoutMs: 60_000,
  portRetryMs: 1_000,
  signalPollMs: 60_000,
};

export interface SupervisorDeps<B extends DataBearer = DataBearer> {
  config: Config;
  scheduler: Scheduler;
  /** Opens (or reopens) the modem's AT/data port; throws a CellkeepError when it cannot. */
  openPort: () => Promise<BytePipe>;
  /** The second AT port for polling while the bearer owns the data port; null when there is none. */
  openControlPort?: () => Promise<BytePipe | null>;
  policy: RecoveryPolicy;
  emit: (e: ModemEvent) => void;
  log?: Logger;
  /** The data bearer for each call, on the data-mode pipe after CONNECT (PPP: src/bearer/ppp.ts). */
  createBearer: CreateBearer<B>;
  /** Runs recovery.power_cycle / recovery.reboot_command (src/sys/command.ts: bounded, own process group); never rejects. */
  runCommand?: (command: string) => Promise<CommandResult>;
  timing?: Partial<SupervisorTiming>;
  /**
   * Where a rejected SIM PIN is remembered across restarts (the recovery state
   * file): a PIN the SIM refused is never sent again, since every wrong try
   * brings the PUK lock closer. Without it the memory lasts one process.
   */
  pinMemory?: PinMemory;
  /**
   * Asked after the SIM step, before registering and dialling: a cause keeps
   * the link down (the bring-up fails with it and the policy decides the wait).
   * The data-usage cap uses it (src/usage/hold.ts).
   */
  holdDown?: () => Cause | null;
}

/** A salted fingerprint of a rejected PIN; the PIN itself is never stored. */
export interface PinFingerprint {
  salt: string;
  hash: string;
}

export interface PinMemory {
  rejected(): PinFingerprint | null;
  remember(p: PinFingerprint | null): void;
}

export type { ModemIdentity } from "../core/agent-events.ts";

export interface ModemPollResult {
  ok: boolean;
  /** Where the answer came from: a live query or the last known values. */
  source: "control-port" | "data-port" | "cached";
  stat: number | null;
  rssi: number | null;
  detail: string;
}

/**
 * Events of the health area. The cross-module ones ("health.probe",
 * "recovery.action", "recovery.state") are declared in src/core/agent-events.ts;
 * these are the finer ones only this area emits.
 */
import type { EventBase } from "../core/events.ts";
import type { HealthProbeEvent, RecoveryActionEvent, RecoveryStateEvent, RecoveryRung } from "../core/agent-events.ts";
import type { Cause } from "../core/cause.ts";

/** The recovery state file could not be read, was corrupt, or could not be written. */
export interface RecoveryStateFileEvent extends EventBase {
  type: "recovery.state-file";
  path: string;
  problem: "corrupt" | "unreadable" | "write-failed";
  /** For a person: what went wrong and what cellkeep did about it. */
  message: string;
  /** Where the bad file was kept, when it was kept. */
  keptAs: string | null;
}

/** `health.failures` consecutive probe rounds failed: the agent is told to drop the link. */
export interface HealthUnhealthyEvent extends EventBase {
  type: "health.unhealthy";
  consecutiveFailures: number;
  cause: Cause;
}

/** The maintenance window fired (recovery.maintenance.schedule). */
export interface RecoveryMaintenanceEvent extends EventBase {
  type: "recovery.maintenance";
  action: "redial" | "reset-modem";
  rung: RecoveryRung;
}

export type HealthEvent =
  | HealthProbeEvent
  | RecoveryActionEvent
  | RecoveryStateEvent
  | RecoveryStateFileEvent
  | HealthUnhealthyEvent
  | RecoveryMaintenanceEvent;

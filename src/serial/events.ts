/**
 * Events of the serial layer (DESIGN.md rule 4). Plain JSON data.
 */
import type { Cause } from "../core/cause.ts";
import type { EventBase } from "../core/events.ts";

/** The port was opened for the first time by a PortKeeper. */
export interface SerialOpenedEvent extends EventBase {
  type: "serial.opened";
  path: string;
  /** Where the path came from: the config, or discovery for "auto". */
  source: "config" | "auto";
}

/** The port went away (read error EIO/ENXIO/ENODEV, hang-up, stream end). */
export interface SerialVanishedEvent extends EventBase {
  type: "serial.vanished";
  path: string;
  cause: Cause;
}

/** The port is back after a vanish (possibly under another path with "auto"). */
export interface SerialReopenedEvent extends EventBase {
  type: "serial.reopened";
  path: string;
  previousPath: string;
  /** How long the port was gone. */
  downMs: number;
  /** Open attempts made while it was gone. */
  attempts: number;
}

/** An open attempt failed (emitted when the failure changes, not on every poll). */
export interface SerialOpenFailedEvent extends EventBase {
  type: "serial.open-failed";
  path: string | null;
  cause: Cause;
}

/** A stale UUCP lock file of a dead process was removed. */
export interface SerialStaleLockEvent extends EventBase {
  type: "serial.stale-lock";
  lockPath: string;
  pid: number | null;
}

/** The keeper was stopped and the port closed on request. */
export interface SerialClosedEvent extends EventBase {
  type: "serial.closed";
  path: string | null;
}

export type SerialEvent =
  | SerialOpenedEvent
  | SerialVanishedEvent
  | SerialReopenedEvent
  | SerialOpenFailedEvent
  | SerialStaleLockEvent
  | SerialClosedEvent;

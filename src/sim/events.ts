/**
 * Events of the virtual modem ("sim.*"). Plain JSON data; the simulate CLI
 * prints them and tests assert on them.
 */
import type { EventBase } from "../core/events.ts";

export type SimPowerState = "off" | "booting" | "on";
export type SimMode = "command" | "data" | "online-command";

export interface SimPowerEvent extends EventBase {
  type: "sim.power";
  state: SimPowerState;
  /** Why: "power-on", "cfun-reset", "reboot-loop", "power-cycle", "qpowd", "hang-recover", "port-vanish", "reboot-mid-call". */
  reason: string;
}
export interface SimCommandEvent extends EventBase {
  type: "sim.command";
  /** The command line as received (without "AT" secrets: AT+CPIN="..." is masked). */
  line: string;
  /** The final result sent ("OK", "ERROR", "+CME ERROR: 10", "CONNECT 150000000", "NO CARRIER"...), or null when dropped (hung/off). */
  result: string | null;
}
export interface SimRegistrationEvent extends EventBase {
  type: "sim.registration";
  stat: number;
  rejectCause?: number;
}
export interface SimAttachEvent extends EventBase {
  type: "sim.attach";
  attached: boolean;
}
export interface SimModeEvent extends EventBase {
  type: "sim.mode";
  mode: SimMode;
  /** Why: "connect", "+++", "ato", "ath", "dtr", "drop-after", "network-drop", "ppp-terminated", "reset". */
  reason: string;
}
export interface SimPortEvent extends EventBase {
  type: "sim.port";
  /** false: the port disappears now (USB re-enumeration); true: it is back. */
  present: boolean;
}
/**
 * A command line the DTE sent while the modem could not hear it (hung,
 * booting or powered off): nothing answers it and no sim.command follows.
 * Lets a test count, e.g., the AT resets an agent sent into silence.
 */
export interface SimUnheardEvent extends EventBase {
  type: "sim.unheard";
  /** As received, secrets masked like sim.command. */
  line: string;
  /** Why nobody answered. */
  state: "hung" | "booting" | "off";
}
export interface SimHangEvent extends EventBase {
  type: "sim.hang";
  hung: boolean;
}
export interface SimGarbageEvent extends EventBase {
  type: "sim.garbage";
  kind: "bytes" | "urc-storm";
  bytes: number;
}
export interface SimPppEvent extends EventBase {
  type: "sim.ppp";
  /** What the network side of PPP did: "auth-ok", "auth-failed", "terminate-after-auth", "ip-assigned", "ipv6-up", "no-ip", "dead", "down", "nocarrier-payload". */
  what: string;
  detail?: string;
}

export type SimEvent =
  | SimPowerEvent
  | SimCommandEvent
  | SimRegistrationEvent
  | SimAttachEvent
  | SimModeEvent
  | SimPortEvent
  | SimHangEvent
  | SimUnheardEvent
  | SimGarbageEvent
  | SimPppEvent;

/**
 * Events of the modem area. The cross-module ones ("modem.state",
 * "modem.identity", "modem.registration", "modem.signal", "modem.dial") are
 * declared in src/core/agent-events.ts; these are the finer ones.
 */
import type { EventBase } from "../core/events.ts";
import type {
  ModemApnEvent,
  ModemDialEvent,
  ModemRadioEvent,
  ModemSimSwitchEvent,
  ModemIdentityEvent,
  ModemRegistrationEvent,
  ModemSignalEvent,
  ModemStateEvent,
  PppDownEvent,
  PppUpEvent,
  RecoveryActionEvent,
} from "../core/agent-events.ts";

/** An unsolicited line from the modem (URC), for the event log. */
export interface ModemUrcEvent extends EventBase {
  type: "modem.urc";
  name: string | null;
  line: string;
}

/** A required command failed; which one and what the modem said (never a PIN). */
export interface ModemCommandFailedEvent extends EventBase {
  type: "modem.command-failed";
  command: string;
  status: string;
  detail: string;
}

/** The supervisor left data mode; how (for diagnosing modems that ignore DTR). */
export interface ModemHangupEvent extends EventBase {
  type: "modem.hangup";
  method: "no-carrier" | "dtr" | "escape" | "none";
  verified: boolean;
}

export type ModemEvent =
  | ModemStateEvent
  | ModemIdentityEvent
  | ModemRegistrationEvent
  | ModemSignalEvent
  | ModemDialEvent
  | ModemUrcEvent
  | ModemCommandFailedEvent
  | ModemHangupEvent
  | ModemRadioEvent
  | ModemApnEvent
  | ModemSimSwitchEvent
  | PppUpEvent
  | PppDownEvent
  | RecoveryActionEvent;

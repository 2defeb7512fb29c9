/**
 * PPP events (DESIGN.md rule 4). Plain JSON data, `type` prefixed "ppp.".
 * Secrets never appear here: PAP/CHAP events carry only the method, the
 * result and the peer's message text.
 */
import type { Cause } from "../core/cause.ts";
import type { EventBase } from "../core/events.ts";
import type { PppPhase, PppPhaseEvent } from "../core/agent-events.ts";

export type { PppPhase, PppPhaseEvent };
import type { FsmState } from "./fsm.ts";


export type ControlProtocolName = "lcp" | "ipcp" | "ipv6cp";
export type AuthMethodName = "pap" | "chap";


/** Every automaton state change (LCP, IPCP, IPV6CP). */
export interface PppFsmEvent extends EventBase {
  type: "ppp.fsm";
  protocol: ControlProtocolName;
  from: FsmState;
  to: FsmState;
  /** The RFC 1661 event that caused it, e.g. "RCR+", "TO-". */
  event: string;
}

/** LCP reached Opened: what was negotiated in each direction. */
export interface PppLcpUpEvent extends EventBase {
  type: "ppp.lcp.up";
  /** MRU we receive (peer acked our request). */
  mru: number;
  /** MRU the peer receives (limits what we send). */
  peerMru: number;
  /** Authentication this side must perform (client) or demands (server); null = none. */
  auth: AuthMethodName | null;
  txAccm: number;
  rxAccm: number;
  pfc: boolean;
  acfc: boolean;
}

export interface PppAuthEvent extends EventBase {
  type: "ppp.auth";
  role: "client" | "server";
  method: AuthMethodName;
  result: "success" | "failure" | "timeout";
  /** The peer's message text (PAP Ack/Nak message, CHAP Success/Failure message). */
  message: string;
  /** Username the peer presented (server role only). Never the password. */
  peerName?: string;
}

export interface PppIpcpUpEvent extends EventBase {
  type: "ppp.ipcp.up";
  local: string;
  remote: string;
  /** True when the peer never stated its address and the placeholder is used. */
  remotePlaceholder: boolean;
  dns: string[];
}

export interface PppIpv6cpUpEvent extends EventBase {
  type: "ppp.ipv6cp.up";
  /** Link-local fe80::/64 addresses built from the negotiated interface identifiers. */
  local: string;
  remote: string;
}

/** An NCP finished without opening, or went down. Not necessarily fatal (IPV4V6). */
export interface PppNcpDownEvent extends EventBase {
  type: "ppp.ncp.down";
  protocol: "ipcp" | "ipv6cp";
  cause: Cause;
  /** True when the link as a whole stays usable (the other family is up). */
  tolerated: boolean;
}

/** All required NCPs settled, at least one open: IP can flow. */
export interface PppOpenEvent extends EventBase {
  type: "ppp.open";
  ipv4: boolean;
  ipv6: boolean;
}

export interface PppTerminateEvent extends EventBase {
  type: "ppp.terminate";
  by: "peer" | "local";
  /** Text of the Terminate-Request (peer's text when by = peer). */
  message: string;
}

/**
 * The session reached phase Dead (RFC 1661 §3.2): the link failed or ended;
 * `cause` names why (absent after an administrative close). Named "dead", not
 * "down", so it never mixes with the agent-level "ppp.down" the supervisor
 * reports once per call (src/core/agent-events.ts).
 */
export interface PppDeadEvent extends EventBase {
  type: "ppp.dead";
  cause?: Cause;
  reason: string;
}

/** A diagnostic worth recording that is not a state change. */
export interface PppNoticeEvent extends EventBase {
  type: "ppp.notice";
  what:
    | "protocol-rejected" // we sent Protocol-Reject for an unknown protocol
    | "peer-protocol-reject" // the peer rejected one of our protocols
    | "code-rejected" // we sent Code-Reject
    | "peer-code-reject"
    | "echo-missed"
    | "magic-collision"
    | "identification"
    | "time-remaining"
    | "malformed";
  detail: string;
}

export type PppEvent =
  | PppPhaseEvent
  | PppFsmEvent
  | PppLcpUpEvent
  | PppAuthEvent
  | PppIpcpUpEvent
  | PppIpv6cpUpEvent
  | PppNcpDownEvent
  | PppOpenEvent
  | PppTerminateEvent
  | PppDeadEvent
  | PppNoticeEvent;

/**
 * Events that cross module boundaries: the supervisor, PPP, health, recovery
 * and data plane emit these; /status, /metrics, /events, logs and systemd
 * STATUS= lines are views computed from them (DESIGN.md rule 4). Modules may
 * emit finer events of their own as well; views ignore types they don't know.
 * Names and fields here are contracts with users' scripts: add, never rename.
 */
import type { Cause } from "./cause.ts";
import type { EventBase } from "./events.ts";

/** The supervisor's states (the `/status` `state` field). */
export type LinkState =
  | "starting"
  | "syncing"
  | "sim"
  | "registering"
  | "attaching"
  | "dialing"
  | "negotiating"
  | "connected"
  /** The link is known down (peer dead, NO CARRIER, probes failed): leaving data mode. Never "connected" while this runs. */
  | "hanging-up"
  | "recovering"
  | "waiting"
  | "stopped";

export const LINK_STATES: readonly LinkState[] = [
  "starting",
  "syncing",
  "sim",
  "registering",
  "attaching",
  "dialing",
  "negotiating",
  "connected",
  "hanging-up",
  "recovering",
  "waiting",
  "stopped",
];

export interface ModemStateEvent extends EventBase {
  type: "modem.state";
  state: LinkState;
  previous: LinkState;
  /** Why we left the previous state when that was a failure; null otherwise. */
  cause: Cause | null;
}

/** What the modem says it is; null where it did not answer. */
export interface ModemIdentity {
  manufacturer: string | null;
  model: string | null;
  firmware: string | null;
  imei: string | null;
  /** Full values in events; views mask them (IMSI/ICCID are personal data). */
  imsi: string | null;
  iccid: string | null;
}

export interface ModemIdentityEvent extends EventBase, ModemIdentity {
  type: "modem.identity";
  profile: string;
}

export interface ModemRegistrationEvent extends EventBase {
  type: "modem.registration";
  /** 3GPP TS 27.007 +CEREG/+CGREG/+CREG stat: 0..5 (and 8..11). */
  stat: number;
  /** "home" | "roaming" | "searching" | "denied" | "not-registered" | "unknown" */
  status: string;
  act: string | null;
  operator: string | null;
  band: string | null;
  tac: string | null;
  cell: string | null;
}

export interface ModemSignalEvent extends EventBase {
  type: "modem.signal";
  /** dBm; null where the modem did not report one. */
  rssi: number | null;
  rsrp: number | null;
  rsrq: number | null;
  sinr: number | null;
  act: string | null;
}

export interface ModemDialEvent extends EventBase {
  type: "modem.dial";
  attempt: number;
  result: "connect" | "failed";
  cause: Cause | null;
}

/** One radio.* setting as the bring-up found and left it (src/modem/radio-step.ts). */
export interface RadioSettingResult {
  /** "nwscanseq", "nwscanmode", "iotopmode", "band", "roamservice", "operator". */
  name: string;
  /** unchanged: already held, not written (NVRAM wear); written: written and read back; refused: the modem said no or did not keep it. */
  result: "unchanged" | "written" | "refused";
  wanted: string;
  /** What the modem held before (normal form); null when it did not say. */
  found: string | null;
  detail?: string;
}

/** The radio policy step of a bring-up: after the SIM, before registration. */
export interface ModemRadioEvent extends EventBase {
  type: "modem.radio";
  profile: string;
  settings: RadioSettingResult[];
  /** Parts of the policy this module cannot express (left as the modem has them). */
  notes: string[];
  /** Settings written this time (each one an NVRAM write on Quectel modules). */
  written: number;
  ok: boolean;
}

/** The APN a bring-up defines (network.apn / network.apns); `cause` set when the previous one was rejected. */
export interface ModemApnEvent extends EventBase {
  type: "modem.apn";
  apn: string;
  /** 0-based position in network.apns. */
  index: number;
  count: number;
  previous: string | null;
  /** Why the previous APN was left (apn-rejected, pdp-rejected); null when none was. */
  cause: Cause | null;
}

/** SIM slot failover (sim.failover_after, AT+QDSIM). Slots are numbered 1 and 2 as on the board. */
export interface ModemSimSwitchEvent extends EventBase {
  type: "modem.sim-switch";
  /** switched: the other slot is selected (the ICCID is read again next: a modem.identity follows); unsupported: the module has one slot; failed: the switch did not complete. */
  result: "switched" | "unsupported" | "failed";
  from: number | null;
  to: number | null;
  reason: string;
}

export interface PppUpEvent extends EventBase {
  type: "ppp.up";
  ipv4: { local: string; remote: string; dns: string[] } | null;
  ipv6: { local: string; remote: string } | null;
  mru: number;
}

export interface PppDownEvent extends EventBase {
  type: "ppp.down";
  cause: Cause | null;
}

/** RFC 1661 §3.2 phases. */
export type PppPhase = "dead" | "establish" | "authenticate" | "network" | "open" | "terminate";

/** The PPP session's phase changes (defined once, here; src/ppp emits it). */
export interface PppPhaseEvent extends EventBase {
  type: "ppp.phase";
  from: PppPhase;
  to: PppPhase;
  /** Same as `to` (the field views read). */
  phase: PppPhase;
}

export type ProbeKind = "icmp" | "lcp-echo" | "dns" | "http" | "modem";

export interface HealthProbeEvent extends EventBase {
  type: "health.probe";
  probe: ProbeKind;
  target: string | null;
  ok: boolean;
  rttMs: number | null;
  /** Fraction 0..1 of requests lost in this probe round, where meaningful. */
  loss: number | null;
  consecutiveFailures: number;
  detail?: string;
  /** IP bytes this probe sent and received through the link, where known (HTTP: unknown). */
  bytes?: number;
}

/**
 * The recovery ladder's rungs, mildest first: the one list the ladder, the
 * status model and /metrics read (and the order /metrics lists them in).
 */
export const RECOVERY_RUNGS = ["redial", "radio-cycle", "module-reset", "power-cycle", "reboot"] as const;
export type RecoveryRung = (typeof RECOVERY_RUNGS)[number];

export interface RecoveryActionEvent extends EventBase {
  type: "recovery.action";
  rung: RecoveryRung;
  reason: string;
  forced: boolean;
}

export interface RecoveryStateEvent extends EventBase {
  type: "recovery.state";
  rung: RecoveryRung | null;
  consecutiveFailures: number;
  lastResetAt: number | null;
  nextActionAt: number | null;
  waitingReason: string | null;
  /** The ladder's phase: idle, connected, retrying, resetting, waiting-for-network, blocked, network-backoff. */
  phase?: string;
  /** The remedy class of the last failure (src/core/remedy.ts): link, network, operator, backoff, module, local. */
  causeClass?: string | null;
  /** Reset-class actions in this escalation. */
  resets?: number;
}

export interface LinkInterfaceEvent extends EventBase {
  type: "link.interface";
  name: string;
  up: boolean;
  ipv4: string | null;
  peer: string | null;
  defaultRoute: boolean;
  cause: Cause | null;
}

export interface SerialPortEvent extends EventBase {
  type: "serial.opened" | "serial.vanished" | "serial.reopened";
  path: string;
  cause: Cause | null;
}

/** One DLCI of the CMUX session as the status shows it. */
export interface CmuxDlciView {
  dlci: number;
  /** What cellkeep uses it for: "control" (AT polling and URCs) or "data" (the dial and PPP). */
  use: string;
  state: "closed" | "opening" | "open" | "closing";
  /** The module's DCD (MSC DV bit) for this DLCI; null before its first MSC. */
  dcd: boolean | null;
}

/** CMUX frame and octet counts, cumulative for the session. */
export interface CmuxCountsView {
  framesIn: number;
  framesOut: number;
  badFcs: number;
  garbageBytes: number;
  malformed: number;
  oversize: number;
  retransmissions: number;
  /** Frames for a DLCI that was never opened (dropped, answered with nothing). */
  unexpected: number;
  /** Control-channel messages (MSC, FCon/FCoff, Test...) that could not be parsed. */
  badControl: number;
}

/**
 * The CMUX session on a single UART (27.010): entered, its DLCIs, left.
 * "entering" covers the AT+CMUX exchange and the SABM on DLCI 0; "recovered"
 * reports how a modem left in CMUX or data mode by an earlier run was brought
 * back; "fault" a named trouble (frame errors, a silent DLCI); "counts" the
 * frame counters (at most once a second while they change).
 */
export interface CmuxEvent extends EventBase {
  type: "cmux.state" | "cmux.recovered" | "cmux.fault" | "cmux.counts";
  state: "entering" | "open" | "closed";
  /** N1, octets of information per frame. */
  frameSize: number;
  dlcis: CmuxDlciView[];
  counts: CmuxCountsView;
  cause: Cause | null;
  detail?: string;
}

export interface AgentLifecycleEvent extends EventBase {
  type: "agent.started" | "agent.stopping" | "agent.reloaded";
  version: string;
  detail?: string;
}

/** What a data cap does when a SIM's traffic in a billing cycle reaches it (config usage.warn_at, quiet_at, stop_at). */
export const USAGE_CAP_ACTIONS = ["warn", "quiet", "stop"] as const;
export type UsageCapAction = (typeof USAGE_CAP_ACTIONS)[number];

/** One SIM's traffic in one billing cycle (bytes through the link, both directions). */
export interface UsageCycleTotals {
  cycleStart: number;
  cycleEnd: number;
  bytesIn: number;
  bytesOut: number;
}

/** A new billing cycle began for the SIM being counted; `previous` is the cycle that ended. */
export interface UsageCycleEvent extends EventBase {
  type: "usage.cycle";
  /** Full ICCID (views mask it); null when the modem did not report one. */
  iccid: string | null;
  cycleStart: number;
  cycleEnd: number;
  previous: UsageCycleTotals | null;
}

/** A SIM's traffic in this cycle reached a cap. */
export interface UsageCapEvent extends EventBase {
  type: "usage.cap";
  iccid: string | null;
  action: UsageCapAction;
  capBytes: number;
  bytesIn: number;
  bytesOut: number;
  cycleEnd: number;
}

/** A person lifted the caps reached in this cycle (POST /actions/usage-resume). */
export interface UsageResumedEvent extends EventBase {
  type: "usage.resumed";
  iccid: string | null;
  lifted: UsageCapAction[];
}

/** Traffic is now counted for another SIM (a SIM swap or a switch to the other slot). */
export interface UsageSimEvent extends EventBase {
  type: "usage.sim";
  iccid: string | null;
  /** The SIM counted before (nested so views mask its `iccid` like every other). */
  previous: { iccid: string | null };
}

/** The usage file could not be read or written. */
export interface UsageStateFileEvent extends EventBase {
  type: "usage.state-file";
  path: string;
  problem: "corrupt" | "unreadable" | "write-failed";
  message: string;
  keptAs: string | null;
}

/** Why a probe round skipped its active probes: data arrived through the link (quiet liveness), or usage.quiet_at holds. */
export type QuietReason = "traffic" | "cap";

/** Probe traffic as /status and metrics show it (health/quiet.ts measures it, status/ shows it). */
export interface ProbeTraffic {
  /** usage.quiet_liveness */
  quietLiveness: boolean;
  /** Why the last round skipped its active probes, or null when it ran them. */
  quiet: QuietReason | null;
  roundsActive: number;
  roundsSkipped: number;
  /** IP bytes of probe requests and answers since the agent started. */
  bytesTotal: number;
  /** ... in the last 24 hours. */
  bytesLast24h: number;
  /** Bytes per day at the current schedule with every round active (from the last active round's packets); null before one ran. */
  bytesPerDayEstimate: number | null;
  /** False when a probe could not count its bytes (HTTP): the figures are then a lower bound. */
  bytesComplete: boolean;
}

/** Active probes were skipped (quiet liveness or a quiet cap) or run again; emitted when that changes, not per round. */
export interface HealthQuietEvent extends EventBase {
  type: "health.quiet";
  quiet: boolean;
  /** "traffic" (data received since the previous round), "cap" (usage.quiet_at reached), or null when probing again. */
  reason: QuietReason | null;
}

// ── Modem time and SMS control (issue 17) ───────────────────────────────────

/** Where the network's time was read: a NITZ URC that carried it, AT+QLTS, or the module clock (AT+CCLK?). */
export type NetworkTimeSource = "nitz" | "qlts" | "cclk";

export interface TimeNetworkEvent extends EventBase {
  type: "time.network";
  source: NetworkTimeSource;
  /** The network's time (UTC, epoch ms) at the moment of reading. */
  networkTime: number;
  /** System clock minus network time, ms: positive = the system clock is ahead. */
  offsetMs: number;
}

export interface TimeSystemClockEvent extends EventBase {
  type: "time.system-clock";
  result: "set" | "failed";
  /** unset: the system clock read a year before 2024; far-off: more than time.max_offset from the network's time. */
  reason: "unset" | "far-off";
  /** System clock before and (intended) after, epoch ms. */
  from: number;
  to: number;
  /** How it was set: clock_settime(CLOCK_REALTIME) through libc. */
  method: "clock_settime";
  cause: Cause | null;
}

/** The commands an SMS may carry. */
export const SMS_COMMANDS = ["status", "redial", "reset", "reboot"] as const;
export type SmsCommand = (typeof SMS_COMMANDS)[number];

/** Why an SMS was deleted without running anything. */
export const SMS_REJECT_REASONS = ["unknown-sender", "bad-secret", "unknown-command", "rate-limited", "stale", "unreadable"] as const;
export type SmsRejectReason = (typeof SMS_REJECT_REASONS)[number];

export interface SmsCommandEvent extends EventBase {
  type: "sms.command";
  /** The sender, masked (first 5 and last 2 characters). */
  from: string;
  command: SmsCommand;
  force: boolean;
  /** The action's outcome (status/actions.ts ActionOutcome), "done" for status. */
  outcome: string;
  /** One line for a person; never the secret (the SMS text is not carried). */
  message: string;
}

export interface SmsRejectedEvent extends EventBase {
  type: "sms.rejected";
  /** The sender, masked; null when the message could not be read. */
  from: string | null;
  reason: SmsRejectReason;
}

export interface SmsReplyEvent extends EventBase {
  type: "sms.reply";
  /** The recipient, masked. */
  to: string;
  /** SMS sent / the reply needed. */
  sent: number;
  parts: number;
  ok: boolean;
  detail?: string;
}

export type AgentEvent =
  | TimeNetworkEvent
  | TimeSystemClockEvent
  | SmsCommandEvent
  | SmsRejectedEvent
  | SmsReplyEvent
  | ModemStateEvent
  | ModemIdentityEvent
  | ModemRegistrationEvent
  | ModemSignalEvent
  | ModemDialEvent
  | ModemRadioEvent
  | ModemApnEvent
  | ModemSimSwitchEvent
  | PppUpEvent
  | PppDownEvent
  | PppPhaseEvent
  | HealthProbeEvent
  | RecoveryActionEvent
  | RecoveryStateEvent
  | LinkInterfaceEvent
  | SerialPortEvent
  | CmuxEvent
  | AgentLifecycleEvent
  | UsageCycleEvent
  | UsageCapEvent
  | UsageResumedEvent
  | UsageSimEvent
  | UsageStateFileEvent
  | HealthQuietEvent;

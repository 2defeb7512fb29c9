/**
 * The remedy follows the cause (DESIGN.md rule 8). Every cause code belongs to
 * one class, and the class decides what the recovery ladder may do about it:
 *
 *  - "link": a transient fault of the data call or the PPP link (NO CARRIER,
 *    LCP/IPCP timeouts, a dead peer, probes failing). Redial, spaced; after the
 *    vendor's count of consecutive failures a module reset, spaced by the
 *    vendor's backoff (Quectel PPP application note).
 *  - "network": the radio or the network is not there (not registered,
 *    registration denied without a permanent cause). Wait for registration and
 *    dial as soon as it returns; a radio cycle (CFUN=0/1, a fresh attach) at
 *    most once per escalation. A modem that stays unregistered ("searching")
 *    may be stuck in its firmware, so `not-registered` also counts toward the
 *    vendor's resets; a network that says "denied" is not helped by a reset.
 *  - "operator": credentials, SIM and subscription faults. No reset, power
 *    cycle or reboot can fix a password, a missing SIM or an APN the network
 *    does not know; cellkeep waits in a named state with slow retries and
 *    retries at once when a person acts (config reload, redial request).
 *  - "backoff": the network told the modem when to try again (T3346/T3396);
 *    a module restart only restarts the network's timer (TS 24.301 §6.5.1.4).
 *  - "module": the module does not answer (AT silent for the vendor's 60 s,
 *    its port gone). An AT reset cannot reach it: the remedy is the hardware
 *    one (recovery.power_cycle), still spaced by the vendor's backoff.
 *  - "local": faults of this host or of cellkeep itself (config, TUN, the
 *    HTTP port, a stop request); they never reach the ladder as link faults.
 *    The exception: a power-cycle or reboot helper that failed or timed out
 *    (command-failed, command-timeout) ends its recovery action; the ladder
 *    then treats it like a link fault (spaced redials, counted toward the
 *    next reset), never as a module fault (see the table).
 *
 * The table is a Record over every CauseCode, so a new code does not compile
 * until someone decides its remedy.
 */
import type { Cause, CauseCode } from "./cause.ts";

export type CauseClass = "link" | "network" | "operator" | "backoff" | "module" | "local";

export const CAUSE_CLASSES: readonly CauseClass[] = ["link", "network", "operator", "backoff", "module", "local"];

const CLASS_OF: Readonly<Record<CauseCode, CauseClass>> = {
  // configuration and environment of this host
  "config-invalid": "local",
  "permission-denied": "local",
  "tun-unavailable": "local",
  "http-listen-failed": "local",
  "ip-tool-missing": "local",
  "platform-unsupported": "local",
  // fleet telemetry: the broker's reachability never touches the cellular link's recovery
  "mqtt-unreachable": "local",
  "mqtt-auth-rejected": "local",
  "mqtt-tls-failed": "local",
  "mqtt-refused": "local",
  // serial port: gone (the module fell off the bus or rebooted) is the module's fault; held or
  // forbidden is a person's to fix
  "port-not-found": "module",
  "port-vanished": "module",
  "port-locked": "operator",
  "port-open-failed": "operator",
  // AT and modem
  "at-timeout": "link",
  "modem-hung": "module",
  "reset-undelivered": "module",
  "at-error": "link",
  "sim-missing": "operator",
  "sim-pin-required": "operator",
  "sim-pin-wrong": "operator",
  "sim-puk-required": "operator",
  // A SIM that does not become READY (no error, no PIN request) is usually a SIM interface
  // hiccup that a module reset clears.
  "sim-not-ready": "link",
  "not-registered": "network",
  "registration-denied": "network",
  "registration-barred": "operator",
  "network-backoff": "backoff",
  "not-attached": "link",
  "context-failed": "operator",
  "init-failed": "operator",
  "no-carrier": "link",
  "apn-rejected": "operator",
  "pdp-rejected": "operator",
  // A radio setting the module will not take is the operator's to fix; roaming while roaming is
  // denied is the network's state (no reset brings the home network closer).
  "radio-refused": "operator",
  "roaming-denied": "network",
  busy: "link",
  "no-answer": "link",
  "no-dialtone": "link",
  "dial-failed": "link",
  // PPP
  "lcp-timeout": "link",
  "auth-rejected": "operator",
  "auth-timeout": "link",
  "terminated-after-auth": "link",
  "terminated-by-peer": "link",
  "ipcp-no-address": "link",
  "ipcp-timeout": "link",
  loopback: "link",
  "peer-dead": "link",
  "carrier-lost": "link",
  "module-rebooted": "link",
  // CMUX: a rejected AT+CMUX is a setting a person must change (no reset makes a module take
  // parameters it refuses); a mux that does not start, a half-hung control channel (field reports:
  // only a power cycle helped) and a modem that answers nothing are module faults; frame errors
  // are a line fault like a bad PPP FCS: redial, counted toward the next reset.
  "cmux-rejected": "operator",
  "cmux-no-answer": "module",
  "cmux-dlci-silent": "module",
  "cmux-frame-errors": "link",
  "cmux-stuck": "module",
  // health and recovery
  "probe-failed": "link",
  "recovery-exhausted": "link",
  // The power-cycle or reboot helper failed or hung: a fault of this host's helper (a relay, a
  // USB hub, a script), not evidence about the module. "local", not "module": the module class
  // would pick the hardware rung again, i.e. the very helper that just failed, and blame the module
  // for it. As a local fault the ladder redials, spaced, and counts it toward the next reset, which
  // keeps the vendor's spacing since the helper may have cut the power before it failed; if the
  // module really is hung, the bring-up that follows says so (modem-hung, a module fault).
  "command-failed": "local",
  "command-timeout": "local",
  // A data cap is a person's decision (the plan, the limit): no reset or redial helps; the usage hold
  // (src/usage/hold.ts) keeps the link down until the next cycle or a resume, before the ladder sees it.
  "data-cap-reached": "operator",
  "clock-set-failed": "local",
  "sms-send-failed": "local",
  "agent-crashed": "local",
  stopped: "local",
};

export function causeClass(c: Cause | CauseCode): CauseClass {
  return CLASS_OF[typeof c === "string" ? c : c.code];
}

/** Causes only a person can fix: the ladder never resets, power-cycles or reboots for them. */
export function needsOperator(c: Cause | CauseCode): boolean {
  return causeClass(c) === "operator";
}

/**
 * EMM reject causes after which the network will not take this SIM whatever
 * the modem does (TS 24.301 §5.5.1.2.5: #3, #6, #7 and #8 make the UE treat
 * the USIM as invalid until it is switched off; #2 "IMSI unknown in HSS").
 * The PLMN- and area-specific causes (#11–#15) and congestion (#22) are not
 * here: another network, another cell or time can help with those.
 */
export const PERMANENT_EMM_CAUSES: ReadonlySet<number> = new Set([2, 3, 6, 7, 8]);

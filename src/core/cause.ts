/**
 * Named failures (DESIGN.md rule 5). Every failed bring-up, lost link or
 * refused start ends in one of these codes plus a one-line hint for a person.
 * The codes are a contract: /status, /metrics and users' scripts match on them.
 */
export const CAUSE_HINTS = {
  // configuration and environment
  "config-invalid": "the configuration file has errors; run `cellkeep check --config FILE`",
  "permission-denied": "cellkeep needs root or CAP_NET_ADMIN for link.mode = \"tun\"; use link.mode = \"none\" to run unprivileged",
  "tun-unavailable": "/dev/net/tun is missing; load the tun module (modprobe tun) or give the container access to it",
  "http-listen-failed": "the status endpoint could not listen on http.listen; is another process (or another cellkeep) using that port or socket?",
  "ip-tool-missing": "the `ip` command (iproute2 or busybox) is needed to configure the interface",
  "platform-unsupported": "the C library could not be loaded through bun:ffi; cellkeep needs glibc or musl on Linux",
  // serial port
  "port-not-found": "no modem port found; check `cellkeep ports` and modem.port",
  "port-locked": "another process holds the modem port (pppd, ModemManager?); stop it or pick another port",
  "port-vanished": "the modem's serial port disappeared (USB re-enumeration after a reset?); cellkeep reopens it when it is back",
  "port-open-failed": "the modem port could not be opened; check permissions (dialout group) and the path",
  // AT and modem
  "at-timeout": "the modem did not answer an AT command in time; it may be hung and will be reset",
  "modem-hung": "the modem stopped answering AT commands for the vendor's worst-case 60 s; a module reset follows",
  "at-error": "the modem answered ERROR to a required command; see the event log for the command",
  "sim-missing": "no SIM card detected; check that the SIM is inserted and the tray is seated",
  "sim-pin-required": "the SIM asks for a PIN; set modem.pin in the config",
  "sim-pin-wrong": "the SIM rejected the PIN; cellkeep will not retry (that would lock the SIM); fix modem.pin",
  "sim-puk-required": "the SIM is PUK-locked after wrong PINs; unlock it by hand with the PUK",
  "sim-not-ready": "the SIM did not become ready; check the SIM and modem.pin",
  "not-registered": "the modem did not register on a network; check antenna, coverage and the SIM's subscription",
  "registration-denied": "the network denied registration (stat 3); the SIM may be barred or lack a data plan for this network",
  "registration-barred": "the network rejected the SIM with a permanent cause (EMM #2/#3/#6/#7/#8: unknown, illegal or not allowed EPS services); the subscription must be fixed: cellkeep retries slowly and never resets for this",
  "network-backoff": "the network asked the modem to back off; cellkeep waits for the timer instead of resetting",
  "not-attached": "the modem dialled before packet-service attach; cellkeep now waits for AT+CGATT? = 1",
  "context-failed": "AT+CGDCONT failed; check network.apn, network.pdp_type and network.cid",
  "init-failed": "an extra init command from modem.init failed; see the event log for the command",
  "no-carrier": "the dial got NO CARRIER; the APN may be wrong or the network refused the data call",
  "apn-rejected": "the network rejected the APN (ESM cause #27 missing or unknown APN); fix network.apn: cellkeep retries slowly and never resets for this",
  "pdp-rejected": "the network refused the data context for the subscription (ESM cause: not subscribed, unsupported or wrong PDP type); check network.apn, network.pdp_type and the SIM's data plan",
  "radio-refused": "the modem refused a radio.* setting (technologies, bands, roaming, operator) or did not keep it when read back; see the modem.radio event: fix the [radio] section for this module (cellkeep does not dial against the policy)",
  "roaming-denied": "the modem is registered on a roaming network and radio.roaming = \"deny\": cellkeep does not dial; it watches registration and dials when the home network is back",
  "busy": "the dial got BUSY",
  "no-answer": "the dial got NO ANSWER",
  "no-dialtone": "the dial got NO DIALTONE; the modem is not attached to a packet network",
  "dial-failed": "the dial command failed; check network.dial and network.cid",
  // PPP
  "lcp-timeout": "the PPP peer never completed LCP; the modem may not be in data mode or the line is noisy",
  "auth-rejected": "the network rejected the PAP/CHAP credentials; check auth.username and auth.password",
  "auth-timeout": "authentication got no answer from the peer",
  "terminated-after-auth": "the network ended PPP right after authentication: typical of dialling before packet-service attach or a wrong APN",
  "terminated-by-peer": "the PPP peer sent Terminate-Request; see the message text in the event log",
  "ipcp-no-address": "IPCP finished without an IPv4 address; check the APN and network.pdp_type",
  "ipcp-timeout": "IPCP never opened; check network.pdp_type and the APN",
  "loopback": "the line echoes our own LCP frames (magic number loop-back); the modem is not in data mode",
  "peer-dead": "the PPP peer stopped answering LCP echo requests; the link will be redialled",
  "carrier-lost": "the modem left data mode (NO CARRIER) while PPP was up",
  "module-rebooted": "the module rebooted by itself during the call (its boot URC RDY came instead of PPP frames): brown-out or firmware watchdog; cellkeep redials",
  // CMUX (27.010 on one UART)
  "cmux-rejected": "the modem answered ERROR to AT+CMUX; it does not take the profile's CMUX parameters: set modem.mux = \"none\" (or \"auto\") or another modem.profile",
  "cmux-no-answer": "the modem accepted AT+CMUX but never answered SABM (N2 tries of T1): its mux did not start; the module is reset",
  "cmux-dlci-silent": "AT on the mux's control channel stopped answering while PPP still flows (a half-hung mux); the module is reset",
  "cmux-frame-errors": "many CMUX frames failed their FCS or arrived as garbage: a noisy line, a wrong modem.baud or missing flow control (modem.rtscts); the call is redialled",
  "cmux-stuck": "the modem answered neither AT nor the CMUX close-down and escape (left in CMUX or data mode by an earlier run?); the reset rungs follow",
  // health and recovery
  "probe-failed": "health probes failed; the link is up but traffic does not get through",
  "recovery-exhausted": "every recovery step was tried; waiting for the next allowed attempt",
  "reset-undelivered": "a module reset by AT command could not reach the module (it does not answer AT); the next reset is the hardware one (recovery.power_cycle)",
  "command-failed": "recovery.power_cycle or recovery.reboot_command failed (non-zero exit, killed, or could not start); run it by hand to see why: the module may not have been reset",
  "command-timeout": "recovery.power_cycle or recovery.reboot_command did not finish within recovery.command_timeout; its process group was killed; check the helper (a relay or hub that does not answer?)",
  // fleet telemetry (MQTT)
  "mqtt-unreachable": "the MQTT broker could not be reached (link down, wrong host or port, broker down); events wait in the on-disk queue and are sent when it is back",
  "mqtt-auth-rejected": "the MQTT broker refused the credentials or this client id (CONNACK bad username/password or not authorized); check mqtt.username, mqtt.password_file, the client certificate and the broker's ACL",
  "mqtt-tls-failed": "the TLS handshake with the MQTT broker failed (unknown CA, wrong host name, expired or rejected client certificate); check mqtt.ca_file, mqtt.cert_file and mqtt.key_file",
  "mqtt-refused": "the MQTT broker refused the connection (protocol version, server unavailable, or a client id in use); see the detail",
  // data usage
  "data-cap-reached": "this SIM's traffic in the billing cycle reached usage.stop_at; the link stays down until the next cycle or POST /actions/usage-resume",
  // modem time and SMS control (issue 17)
  "clock-set-failed": "time.set_system_clock could not set the system clock (clock_settime); cellkeep needs CAP_SYS_TIME, and systemd's ProtectClock= must be off",
  "sms-send-failed": "the modem did not send the SMS reply (AT+CMGS failed); check the SIM's SMS service and the service-centre number (AT+CSCA?)",
  // cellkeep itself
  "agent-crashed": "cellkeep hit an internal error; it hung up, removed the interface and exits 70 so the service manager restarts it; please report the logged error",
  "stopped": "cellkeep was asked to stop",
} as const;

export type CauseCode = keyof typeof CAUSE_HINTS;

export interface Cause {
  code: CauseCode;
  hint: string;
  /** Specific facts for this occurrence (command, peer message...). Never secrets. */
  detail?: string;
}

export function cause(code: CauseCode, detail?: string): Cause {
  return detail === undefined ? { code, hint: CAUSE_HINTS[code] } : { code, hint: CAUSE_HINTS[code], detail };
}

export function isCauseCode(s: string): s is CauseCode {
  return Object.hasOwn(CAUSE_HINTS, s);
}

/** An error that carries a named cause; thrown only across adapter boundaries. */
export class CellkeepError extends Error {
  readonly causeInfo: Cause;
  constructor(code: CauseCode, detail?: string) {
    super(detail ? `${code}: ${detail}` : `${code}: ${CAUSE_HINTS[code]}`);
    this.name = "CellkeepError";
    this.causeInfo = cause(code, detail);
  }
}

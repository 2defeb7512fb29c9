/**
 * Prometheus text exposition format 0.0.4 rendered from the status model's view.
 * Names follow Prometheus conventions (base units: seconds, bytes; counters
 * end in _total; one _info metric for build/modem labels) so that
 * `promtool check metrics` passes. Label values are escaped per the format
 * (backslash, double quote, newline).
 */
import { LINK_STATES, RECOVERY_RUNGS, SMS_REJECT_REASONS } from "../core/agent-events.ts";
import { RTT_BUCKETS_S, type StatusView } from "../status/status-view.ts";
import type { PppCounters } from "../status/counters.ts";
import type { UsageStatus } from "../status/usage.ts";
import { USAGE_CAP_ACTIONS } from "../core/agent-events.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsInput {
  view: StatusView;
  now: number;
  startedAt: number;
  version: string;
  counters: PppCounters | null;
  probesEnabled: boolean;
  eventsTotal: number;
  sseClients: number;
  /** Data usage and probe traffic (the /status usage block); absent or null: no usage metrics. */
  usage?: UsageStatus | null;
}

type Labels = Record<string, string>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels?: Labels): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** camelCase → snake_case for label values that come from counter keys. */
function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9_]/g, "_").toLowerCase();
}

class Exposition {
  private lines: string[] = [];
  family(name: string, type: "gauge" | "counter" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, value: number, labels?: Labels): this {
    this.lines.push(`${name}${labelText(labels)} ${fmt(value)}`);
    return this;
  }
  text(): string {
    return this.lines.join("\n") + "\n";
  }
}

/** Data usage of the SIM in use this cycle, caps, every SIM's cycle, and probe traffic. */
function renderUsage(x: Exposition, u: UsageStatus): void {
  const ts = (iso: string) => Date.parse(iso) / 1000;
  x.family("cellkeep_usage_cycle_bytes", "gauge", "IP bytes through the link in this billing cycle for the SIM in use, by direction (resets at the cycle start).")
    .sample("cellkeep_usage_cycle_bytes", u.cycle.bytesIn, { direction: "in" })
    .sample("cellkeep_usage_cycle_bytes", u.cycle.bytesOut, { direction: "out" });
  x.family("cellkeep_usage_cycle_start_timestamp_seconds", "gauge", "Start of the current billing cycle (Unix time).")
    .sample("cellkeep_usage_cycle_start_timestamp_seconds", ts(u.cycle.start));
  x.family("cellkeep_usage_cycle_end_timestamp_seconds", "gauge", "End of the current billing cycle (Unix time).")
    .sample("cellkeep_usage_cycle_end_timestamp_seconds", ts(u.cycle.end));
  const caps = USAGE_CAP_ACTIONS.filter((a) => u.caps[a] !== null);
  if (caps.length) {
    x.family("cellkeep_usage_cap_bytes", "gauge", "Configured data caps per cycle (in + out), by action.");
    for (const a of caps) x.sample("cellkeep_usage_cap_bytes", u.caps[a]!, { action: a });
    x.family("cellkeep_usage_cap_reached", "gauge", "1 when this cycle's traffic reached the cap, by action.");
    for (const a of caps) x.sample("cellkeep_usage_cap_reached", u.reached.includes(a) ? 1 : 0, { action: a });
  }
  x.family("cellkeep_usage_enforced", "gauge", "1 while a cap acts: quiet (active probes off), stop (link held down).")
    .sample("cellkeep_usage_enforced", u.enforcing.quiet ? 1 : 0, { action: "quiet" })
    .sample("cellkeep_usage_enforced", u.enforcing.stop ? 1 : 0, { action: "stop" });
  x.family("cellkeep_usage_sim_cycle_bytes", "gauge", "IP bytes in each known SIM's last counted cycle (ICCID masked), by direction.");
  for (const s of u.sims) {
    x.sample("cellkeep_usage_sim_cycle_bytes", s.cycle.bytesIn, { sim: s.sim ?? "unknown", direction: "in" });
    x.sample("cellkeep_usage_sim_cycle_bytes", s.cycle.bytesOut, { sim: s.sim ?? "unknown", direction: "out" });
  }
  const p = u.probes;
  x.family("cellkeep_probe_bytes_total", "counter", "IP bytes of active health probes (requests and answers) since the agent started.")
    .sample("cellkeep_probe_bytes_total", p.bytesTotal);
  x.family("cellkeep_probe_bytes_last_24h", "gauge", "IP bytes of active health probes in the last 24 hours.")
    .sample("cellkeep_probe_bytes_last_24h", p.bytesLast24h);
  if (p.bytesPerDayEstimate !== null) {
    x.family("cellkeep_probe_bytes_per_day", "gauge", "Probe bytes per day at the current schedule if every round probes (from the last probed round's packets).")
      .sample("cellkeep_probe_bytes_per_day", p.bytesPerDayEstimate);
  }
  x.family("cellkeep_probe_rounds_total", "counter", "Health rounds by whether their active probes ran or were skipped (quiet liveness, quiet cap).")
    .sample("cellkeep_probe_rounds_total", p.roundsActive, { active: "ran" })
    .sample("cellkeep_probe_rounds_total", p.roundsSkipped, { active: "skipped" });
}

export function renderMetrics(m: MetricsInput): string {
  const v = m.view;
  const x = new Exposition();

  const modem = v.modemNow;
  x.family("cellkeep_info", "gauge", "Build and modem identity; the value is always 1.").sample("cellkeep_info", 1, {
    version: m.version,
    model: modem.model ?? "",
    firmware: modem.firmware ?? "",
    profile: modem.profile ?? "",
  });

  x.family("cellkeep_state", "gauge", "Supervisor state: 1 for the current state, 0 for the others.");
  for (const s of LINK_STATES) x.sample("cellkeep_state", s === v.state ? 1 : 0, { state: s });

  if (v.stateSince !== null) {
    x.family("cellkeep_state_since_timestamp_seconds", "gauge", "When the current state was entered (Unix time).")
      .sample("cellkeep_state_since_timestamp_seconds", v.stateSince / 1000);
  }

  x.family("cellkeep_up", "gauge", "1 when the link is connected and the last probe succeeded (as /healthz).")
    .sample("cellkeep_up", v.health(m.probesEnabled).healthy ? 1 : 0);

  x.family("cellkeep_state_entries_total", "counter", "Times each supervisor state was entered.");
  for (const s of LINK_STATES) x.sample("cellkeep_state_entries_total", v.stateEntries.get(s) ?? 0, { state: s });

  x.family("cellkeep_failures_total", "counter", "State changes that carried a failure cause, by cause code.");
  for (const [code, n] of [...v.causeCounts].sort()) x.sample("cellkeep_failures_total", n, { cause: code });

  const sig = v.signalNow;
  const gauges: [string, number | null, string][] = [
    ["cellkeep_signal_rssi_dbm", sig.rssi, "Received signal strength indicator, dBm."],
    ["cellkeep_signal_rsrp_dbm", sig.rsrp, "LTE reference signal received power, dBm."],
    ["cellkeep_signal_rsrq_db", sig.rsrq, "LTE reference signal received quality, dB."],
    ["cellkeep_signal_sinr_db", sig.sinr, "Signal to interference plus noise ratio, dB."],
  ];
  for (const [name, value, help] of gauges) {
    // A gauge without a reading is left out rather than faked as 0 dBm.
    if (value !== null) x.family(name, "gauge", help).sample(name, value);
  }
  const reg = v.registrationNow;
  if (reg.stat !== null) {
    x.family("cellkeep_registration_stat", "gauge", "3GPP TS 27.007 registration stat (1 home, 5 roaming, 2 searching, 3 denied).")
      .sample("cellkeep_registration_stat", reg.stat);
  }

  x.family("cellkeep_dials_total", "counter", "Dial attempts by result.")
    .sample("cellkeep_dials_total", v.dials.connect, { result: "connect" })
    .sample("cellkeep_dials_total", v.dials.failed, { result: "failed" });

  const k = m.counters;
  if (k) {
    x.family("cellkeep_ppp_bytes_total", "counter", "PPP payload bytes by direction.")
      .sample("cellkeep_ppp_bytes_total", k.bytesIn, { direction: "in" })
      .sample("cellkeep_ppp_bytes_total", k.bytesOut, { direction: "out" });
    x.family("cellkeep_ppp_packets_total", "counter", "PPP packets by direction.")
      .sample("cellkeep_ppp_packets_total", k.packetsIn, { direction: "in" })
      .sample("cellkeep_ppp_packets_total", k.packetsOut, { direction: "out" });
    const errs = Object.entries(k.errors).filter(([, n]) => typeof n === "number" && Number.isFinite(n));
    if (errs.length) {
      x.family("cellkeep_ppp_errors_total", "counter", "PPP receive errors by kind (bad FCS, runts, aborted frames...).");
      for (const [kind, n] of errs.sort(([a], [b]) => a.localeCompare(b))) x.sample("cellkeep_ppp_errors_total", n, { kind: snake(kind) });
    }
  }

  x.family("cellkeep_probes_total", "counter", "Health probes by probe kind and result.");
  for (const [probe, r] of [...v.probeResults].sort(([a], [b]) => a.localeCompare(b))) {
    x.sample("cellkeep_probes_total", r.ok, { probe, result: "ok" });
    x.sample("cellkeep_probes_total", r.failed, { probe, result: "failed" });
  }

  x.family("cellkeep_probe_rtt_seconds", "histogram", "Round-trip time of successful health probes.");
  for (const [probe, h] of [...v.rtt].sort(([a], [b]) => a.localeCompare(b))) {
    RTT_BUCKETS_S.forEach((le, i) => x.sample("cellkeep_probe_rtt_seconds_bucket", h.buckets[i]!, { probe, le: String(le) }));
    x.sample("cellkeep_probe_rtt_seconds_bucket", h.count, { probe, le: "+Inf" });
    x.sample("cellkeep_probe_rtt_seconds_sum", Math.round(h.sumSeconds * 1e6) / 1e6, { probe });
    x.sample("cellkeep_probe_rtt_seconds_count", h.count, { probe });
  }

  x.family("cellkeep_recovery_actions_total", "counter", "Recovery actions (resets) run, by ladder rung.");
  for (const r of RECOVERY_RUNGS) x.sample("cellkeep_recovery_actions_total", v.actionCounts[r], { rung: r });
  x.family("cellkeep_recovery_forced_actions_total", "counter", "Recovery actions forced through the HTTP API, by rung.");
  for (const r of RECOVERY_RUNGS) x.sample("cellkeep_recovery_forced_actions_total", v.forcedActions[r], { rung: r });

  const rec = v.recoveryNow;
  x.family("cellkeep_recovery_consecutive_failures", "gauge", "Consecutive failures counted by the recovery ladder.")
    .sample("cellkeep_recovery_consecutive_failures", rec.consecutiveFailures);
  if (rec.nextActionAt !== null) {
    x.family("cellkeep_recovery_next_action_timestamp_seconds", "gauge", "Earliest time the ladder allows its next action (Unix time).")
      .sample("cellkeep_recovery_next_action_timestamp_seconds", rec.nextActionAt / 1000);
  }

  x.family("cellkeep_radio_writes_total", "counter", "Radio policy settings written to the modem (NVRAM writes on Quectel), by setting.");
  for (const [name, n] of [...v.radioWrites].sort()) x.sample("cellkeep_radio_writes_total", n, { setting: name });
  x.family("cellkeep_radio_refused_total", "counter", "Radio policy settings the modem refused or did not keep, by setting.");
  for (const [name, n] of [...v.radioRefusals].sort()) x.sample("cellkeep_radio_refused_total", n, { setting: name });
  x.family("cellkeep_roaming_denied", "gauge", "1 while waiting for the home network because radio.roaming = \"deny\" and the modem is roaming.")
    .sample("cellkeep_roaming_denied", v.roamingDenied ? 1 : 0);
  x.family("cellkeep_apn_failovers_total", "counter", "Switches to the next of network.apns after the network rejected an APN.")
    .sample("cellkeep_apn_failovers_total", v.apnFailovers);
  x.family("cellkeep_sim_switches_total", "counter", "SIM slot switches after sim.failover_after without a connected link.")
    .sample("cellkeep_sim_switches_total", v.simSwitches);
  if (v.simSlot !== null) x.family("cellkeep_sim_slot", "gauge", "The SIM slot selected by the last switch (1 or 2).").sample("cellkeep_sim_slot", v.simSlot);
  if (m.usage) renderUsage(x, m.usage);
  // Modem time and SMS control (issue 17).
  const t = v.networkTimeNow;
  if (t.offsetMs !== null) {
    x.family("cellkeep_time_offset_seconds", "gauge", "System clock minus the network's time at the last reading (NITZ, AT+QLTS, AT+CCLK), seconds.")
      .sample("cellkeep_time_offset_seconds", t.offsetMs / 1000, { source: t.source ?? "" });
  }
  x.family("cellkeep_system_clock_sets_total", "counter", "Attempts to set the system clock from the network's time (time.set_system_clock), by result.")
    .sample("cellkeep_system_clock_sets_total", v.clockSets.set, { result: "set" })
    .sample("cellkeep_system_clock_sets_total", v.clockSets.failed, { result: "failed" });
  x.family("cellkeep_sms_commands_total", "counter", "SMS commands run, by command and outcome.");
  for (const [key, n] of [...v.smsCommands].sort()) {
    const [command, outcome] = key.split(" ") as [string, string];
    x.sample("cellkeep_sms_commands_total", n, { command, outcome });
  }
  x.family("cellkeep_sms_rejected_total", "counter", "SMS deleted without running anything, by reason.");
  for (const reason of SMS_REJECT_REASONS) x.sample("cellkeep_sms_rejected_total", v.smsRejected.get(reason) ?? 0, { reason });
  x.family("cellkeep_sms_replies_total", "counter", "SMS replies, by result.")
    .sample("cellkeep_sms_replies_total", v.smsReplies.ok, { result: "ok" })
    .sample("cellkeep_sms_replies_total", v.smsReplies.failed, { result: "failed" });

  x.family("cellkeep_uptime_seconds", "gauge", "Seconds since the agent started.")
    .sample("cellkeep_uptime_seconds", Math.max(0, (m.now - m.startedAt) / 1000));
  x.family("cellkeep_start_time_seconds", "gauge", "When the agent started (Unix time).")
    .sample("cellkeep_start_time_seconds", m.startedAt / 1000);
  x.family("cellkeep_events_total", "counter", "Events emitted on the agent's event bus.")
    .sample("cellkeep_events_total", m.eventsTotal);
  x.family("cellkeep_http_sse_clients", "gauge", "Connected Server-Sent-Events clients.")
    .sample("cellkeep_http_sse_clients", m.sseClients);

  return x.text();
}

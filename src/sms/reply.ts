/**
 * The text of SMS replies: the status (a view of the one status model, like
 * /status) and an action's result. Short words first: the first SMS should
 * say what matters (state and cause) even if a phone shows only that one.
 */
import type { ActionResult } from "../status/actions.ts";
import type { StatusSnapshot } from "../status/status-view.ts";

const hhmm = (iso: string | null): string | null => (iso ? `${iso.slice(0, 16).replace("T", " ")}Z` : null);

function duration(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function statusText(s: StatusSnapshot): string {
  const parts: string[] = [`cellkeep ${s.version}: ${s.state}${s.since ? ` since ${hhmm(s.since)}` : ""}`];
  if (s.cause) parts.push(`cause ${s.cause.code}`);
  const r = s.registration;
  if (r.status) parts.push(`reg ${[r.status, r.act, r.operator].filter(Boolean).join(" ")}`);
  if (s.signal.rssi !== null || s.signal.rsrp !== null) {
    parts.push(`signal ${[s.signal.rssi !== null ? `rssi ${s.signal.rssi}` : null, s.signal.rsrp !== null ? `rsrp ${s.signal.rsrp}` : null].filter(Boolean).join(" ")} dBm`);
  }
  if (s.ppp.ipv4) parts.push(`ip ${s.ppp.ipv4.local}`);
  if (s.health.ok !== null) parts.push(`probe ${s.health.ok ? "ok" : "failed"}${s.health.rttMs !== null ? ` ${Math.round(s.health.rttMs)}ms` : ""}`);
  const rec = s.recovery;
  if (rec.phase && rec.phase !== "idle" && rec.phase !== "connected") {
    parts.push(`recovery ${rec.phase}${rec.rung ? ` ${rec.rung}` : ""}${rec.nextActionAt ? ` next ${hhmm(rec.nextActionAt)}` : ""}`);
  }
  if (rec.resets > 0) parts.push(`resets ${rec.resets}`);
  parts.push(`up ${duration(s.uptime)}`);
  return parts.join("; ");
}

/** "redial: started: hanging up and dialling again"; a refusal carries its reason and when it is allowed. */
export function actionText(command: string, r: ActionResult): string {
  // The guarded actions word their hint for HTTP (?force=1); by SMS it is the word "force".
  return `${command}: ${r.outcome}: ${r.message.replace("add ?force=1 to", `send "<secret> ${command} force" to`)}`;
}

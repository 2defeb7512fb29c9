/**
 * The STATUS= line systemd shows in `systemctl status cellkeep`: a view of
 * the agent's event stream (DESIGN.md rule 4), recomputed on the events that
 * matter and sent only when the text changes.
 */
import type { AgentEvent, LinkState, RecoveryRung } from "../core/agent-events.ts";
import type { Notifier } from "./notify.ts";

export interface StatusView {
  state: LinkState;
  ipv4: string | null;
  /** Why the last failure happened (cause code), while not connected. */
  cause: string | null;
  /** The ladder's waiting reason, when waiting. */
  waiting: string | null;
  nextRung: RecoveryRung | null;
  rttMs: number | null;
  probeFailures: number;
}

export function initialStatusView(): StatusView {
  return { state: "starting", ipv4: null, cause: null, waiting: null, nextRung: null, rttMs: null, probeFailures: 0 };
}

/** Fold one event into the view (pure). Unknown event types leave it unchanged. */
export function foldStatus(v: StatusView, e: AgentEvent | { type: string; at: number }): StatusView {
  const ev = e as AgentEvent;
  switch (ev.type) {
    case "modem.state":
      return { ...v, state: ev.state, cause: ev.state === "connected" ? null : ev.cause ? ev.cause.code : v.cause };
    case "ppp.up":
      return { ...v, ipv4: ev.ipv4?.local ?? null };
    case "ppp.down":
      return { ...v, ipv4: null, rttMs: null, cause: ev.cause?.code ?? v.cause };
    case "health.probe":
      return { ...v, probeFailures: ev.consecutiveFailures, rttMs: ev.ok && ev.rttMs !== null && ev.probe === "icmp" ? ev.rttMs : v.rttMs };
    case "recovery.state":
      return { ...v, waiting: ev.waitingReason, nextRung: ev.rung };
    default:
      return v;
  }
}

/** The one-line text (pure). */
export function statusLine(v: StatusView): string {
  const parts: string[] = [];
  if (v.state === "connected") {
    parts.push(`connected${v.ipv4 ? ` ${v.ipv4}` : ""}`);
    if (v.rttMs !== null) parts.push(`rtt ${Math.round(v.rttMs)} ms`);
    if (v.probeFailures > 0) parts.push(`${v.probeFailures} failed probe round(s)`);
  } else {
    parts.push(v.state + (v.cause ? ` (last failure: ${v.cause})` : ""));
  }
  if (v.waiting) parts.push(`waiting: ${v.waiting}`);
  return parts.join("; ");
}

/** Feeds STATUS= from the event stream; send only on change. */
export class SystemdStatus {
  private view = initialStatusView();
  private lastSent: string | null = null;
  constructor(private readonly notifier: Pick<Notifier, "status">) {}

  observe(e: AgentEvent | { type: string; at: number }): void {
    this.view = foldStatus(this.view, e);
    const line = statusLine(this.view);
    if (line === this.lastSent) return;
    if (this.notifier.status(line)) this.lastSent = line;
  }

  get current(): string {
    return statusLine(this.view);
  }
}

/**
 * The STATUS= line systemd shows in `systemctl status cellkeep`: one line
 * read from the status model (src/status/), the same model /status reads, so
 * the two never disagree. It is recomputed after each event the model folds
 * in and sent only when the text changes.
 */
import type { AgentEvent } from "../core/agent-events.ts";
import type { EventBase } from "../core/events.ts";
import { StatusView } from "../status/status-view.ts";
import type { Notifier } from "./notify.ts";

/** The one-line text (pure: reads the view, changes nothing). */
export function statusLine(v: StatusView): string {
  const parts: string[] = [];
  if (v.state === "connected") {
    const ipv4 = v.pppNow.ipv4?.local ?? null;
    parts.push(`connected${ipv4 ? ` ${ipv4}` : ""}`);
    // ICMP is the probe whose round trip a person reads as "the link's RTT".
    const rttMs = v.linkRttMs("icmp");
    if (rttMs !== null) parts.push(`rtt ${Math.round(rttMs)} ms`);
    const failures = v.lastProbe?.consecutiveFailures ?? 0;
    if (failures > 0) parts.push(`${failures} failed probe round(s)`);
  } else {
    parts.push(v.state + (v.cause ? ` (last failure: ${v.cause.code})` : ""));
  }
  const waiting = v.recoveryNow.waitingReason;
  if (waiting) parts.push(`waiting: ${waiting}`);
  return parts.join("; ");
}

/** A view of its own, before any event (for callers that fold events by hand). */
export function initialStatusView(): StatusView {
  return new StatusView();
}

/** Fold one event into `v` and return it (StatusView.apply; unknown event types leave it unchanged). */
export function foldStatus(v: StatusView, e: AgentEvent | EventBase): StatusView {
  v.apply(e);
  return v;
}

/** Sends STATUS= from the status model's view; only on change. */
export class SystemdStatus {
  private lastSent: string | null = null;

  /** `view`: the agent's model's view (it follows the bus); by default a view of its own, fed through `observe`. */
  constructor(
    private readonly notifier: Pick<Notifier, "status">,
    private readonly view: StatusView = new StatusView(),
  ) {
    view.onApplied(() => this.publish());
  }

  /** Fold an event into the view this line reads (a view of its own; the agent's view follows the bus). */
  observe(e: AgentEvent | EventBase): void {
    this.view.apply(e);
  }

  get current(): string {
    return statusLine(this.view);
  }

  private publish(): void {
    const line = statusLine(this.view);
    if (line === this.lastSent) return;
    if (this.notifier.status(line)) this.lastSent = line;
  }
}

/**
 * The log is a view of the event stream (DESIGN.md rule 4): one readable line
 * per meaningful event, at a level that fits it. Events this view does not
 * know are logged at debug level as JSON, so nothing is ever hidden.
 */
import type { AgentEvent } from "../core/agent-events.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger, LogLevel } from "../core/log.ts";
import { maskId, sanitize } from "../core/mask.ts";

export interface LogLine {
  level: LogLevel;
  component: string;
  text: string;
}

const FAILURE_STATES = new Set(["hanging-up", "recovering", "waiting"]);

export function describeEvent(event: EventBase): LogLine | null {
  const e = event as AgentEvent;
  switch (e.type) {
    case "agent.started":
      return { level: "info", component: "agent", text: `cellkeep ${e.version} started${e.detail ? ` (${e.detail})` : ""}` };
    case "agent.stopping":
      return { level: "info", component: "agent", text: `stopping${e.detail ? `: ${e.detail}` : ""}` };
    case "agent.reloaded":
      return { level: "info", component: "agent", text: `configuration reloaded${e.detail ? `: ${e.detail}` : ""}` };
    case "modem.state": {
      const because = e.cause ? ` (cause ${e.cause.code}${e.cause.detail ? `: ${e.cause.detail}` : ""}; hint: ${e.cause.hint})` : "";
      const level: LogLevel = e.cause ? "warn" : FAILURE_STATES.has(e.state) ? "warn" : "info";
      return { level, component: "modem", text: `${e.previous} → ${e.state}${because}` };
    }
    case "modem.identity":
      return {
        level: "info",
        component: "modem",
        // IMSI and ICCID identify a subscriber: masked here as on /status.
        text: `identity: ${[e.manufacturer, e.model].filter(Boolean).join(" ") || "unknown model"}, firmware ${e.firmware ?? "?"}, IMEI ${e.imei ?? "?"}, profile ${e.profile}${e.imsi ? `, IMSI ${maskId(e.imsi)}` : ""}${e.iccid ? `, ICCID ${maskId(e.iccid)}` : ""}`,
      };
    case "modem.registration":
      return {
        level: e.status === "denied" ? "warn" : "info",
        component: "modem",
        text: `registration: ${e.status} (stat ${e.stat})${e.operator ? ` on ${e.operator}` : ""}${e.act ? ` ${e.act}` : ""}${e.tac ? ` tac ${e.tac}` : ""}${e.cell ? ` cell ${e.cell}` : ""}`,
      };
    case "modem.signal": {
      const parts = [
        e.rssi !== null ? `rssi ${e.rssi} dBm` : null,
        e.rsrp !== null ? `rsrp ${e.rsrp} dBm` : null,
        e.rsrq !== null ? `rsrq ${e.rsrq} dB` : null,
        e.sinr !== null ? `sinr ${e.sinr} dB` : null,
      ].filter(Boolean);
      return { level: "debug", component: "modem", text: `signal: ${parts.join(", ") || "unknown"}${e.act ? ` (${e.act})` : ""}` };
    }
    case "modem.dial":
      return e.result === "connect"
        ? { level: "info", component: "modem", text: `dial attempt ${e.attempt}: CONNECT` }
        : { level: "warn", component: "modem", text: `dial attempt ${e.attempt} failed: ${e.cause?.code ?? "unknown"}${e.cause?.detail ? ` (${e.cause.detail})` : ""}` };
    case "ppp.phase":
      return { level: "info", component: "ppp", text: `phase ${e.phase}` };
    case "ppp.up": {
      const v4 = e.ipv4 ? `IPCP ${e.ipv4.local} peer ${e.ipv4.remote}${e.ipv4.dns.length ? ` dns ${e.ipv4.dns.join(", ")}` : ""}` : null;
      const v6 = e.ipv6 ? `IPV6CP ${e.ipv6.local}` : null;
      return { level: "info", component: "ppp", text: `link up: ${[v4, v6].filter(Boolean).join("; ")} (mru ${e.mru})` };
    }
    case "ppp.down":
      return { level: "warn", component: "ppp", text: `link down${e.cause ? `: ${e.cause.code} (${e.cause.hint})` : ""}` };
    case "health.probe":
      return e.ok
        ? { level: "info", component: "health", text: `probe ${e.probe}${e.target ? ` ${e.target}` : ""} ok${e.rttMs !== null ? ` in ${e.rttMs.toFixed(1)} ms` : ""}` }
        : {
            level: "warn",
            component: "health",
            text: `probe ${e.probe}${e.target ? ` ${e.target}` : ""} failed (${e.consecutiveFailures} in a row)${e.detail ? `: ${e.detail}` : ""}`,
          };
    case "recovery.action":
      return { level: "warn", component: "recovery", text: `action ${e.rung}${e.forced ? " (forced)" : ""}: ${e.reason}` };
    case "recovery.state":
      return {
        level: "debug",
        component: "recovery",
        text: `ladder: rung ${e.rung ?? "none"}, ${e.consecutiveFailures} consecutive failures${e.nextActionAt ? `, next action at ${new Date(e.nextActionAt).toISOString()}` : ""}${e.waitingReason ? ` (${e.waitingReason})` : ""}`,
      };
    case "link.interface":
      return e.up
        ? { level: "info", component: "net", text: `interface ${e.name} up: ${e.ipv4 ?? "?"} peer ${e.peer ?? "?"}${e.defaultRoute ? ", default route added" : ""}` }
        : { level: e.cause ? "warn" : "info", component: "net", text: `interface ${e.name} down${e.cause ? `: ${e.cause.code} (${e.cause.hint})` : ""}` };
    case "serial.opened":
      return { level: "info", component: "serial", text: `port ${e.path} opened` };
    case "serial.vanished":
      return { level: "warn", component: "serial", text: `port ${e.path} vanished${e.cause ? ` (${e.cause.hint})` : ""}` };
    case "serial.reopened":
      return { level: "info", component: "serial", text: `port ${e.path} is back and reopened` };
    case "usage.cycle":
      return {
        level: "info",
        component: "usage",
        text: `billing cycle ${new Date(e.cycleStart).toISOString()} – ${new Date(e.cycleEnd).toISOString()}${e.iccid ? ` for SIM ${maskId(e.iccid)}` : ""}${e.previous ? `; the last cycle used ${e.previous.bytesIn + e.previous.bytesOut} bytes (in ${e.previous.bytesIn}, out ${e.previous.bytesOut})` : ""}`,
      };
    case "usage.cap":
      return {
        level: "warn",
        component: "usage",
        text: `data cap ${e.action} reached: ${e.bytesIn + e.bytesOut} of ${e.capBytes} bytes this cycle${e.iccid ? ` (SIM ${maskId(e.iccid)})` : ""}${e.action === "stop" ? `; the link stays down until ${new Date(e.cycleEnd).toISOString()} or POST /actions/usage-resume` : e.action === "quiet" ? "; active probes stop for this cycle" : ""}`,
      };
    case "usage.resumed":
      return { level: "warn", component: "usage", text: `data caps lifted for this cycle by a person: ${e.lifted.join(", ")}` };
    case "usage.sim":
      return { level: "info", component: "usage", text: `counting traffic for SIM ${maskId(e.iccid) ?? "unknown"}${e.previous.iccid ? ` (was ${maskId(e.previous.iccid)})` : ""}` };
    case "usage.state-file":
      return { level: "error", component: "usage", text: e.message };
    case "health.quiet":
      return { level: "info", component: "health", text: e.quiet ? `active probes skipped: ${e.reason === "cap" ? "the quiet data cap holds" : "data arrives through the link (quiet liveness)"}` : "active probes run again" };
    case "time.network":
      return { level: "debug", component: "time", text: `network time ${new Date(e.networkTime).toISOString()} (${e.source}); the system clock is ${(e.offsetMs / 1000).toFixed(1)} s ${e.offsetMs >= 0 ? "ahead" : "behind"}` };
    case "time.system-clock":
      return e.result === "set"
        ? { level: "warn", component: "time", text: `system clock set (${e.reason}): ${new Date(e.from).toISOString()} → ${new Date(e.to).toISOString()}` }
        : { level: "warn", component: "time", text: `could not set the system clock (${e.reason}): ${e.cause?.code ?? "?"}${e.cause?.detail ? ` (${e.cause.detail})` : ""}; hint: ${e.cause?.hint ?? ""}` };
    case "sms.command":
      return { level: "warn", component: "sms", text: `command ${e.command}${e.force ? " force" : ""} from ${e.from}: ${e.outcome}: ${e.message}` };
    case "sms.rejected":
      return { level: "info", component: "sms", text: `SMS from ${e.from ?? "?"} deleted: ${e.reason}` };
    case "sms.reply":
      return e.ok
        ? { level: "info", component: "sms", text: `reply to ${e.to}: ${e.sent} SMS sent` }
        : { level: "warn", component: "sms", text: `reply to ${e.to} failed after ${e.sent} of ${e.parts} SMS: ${e.detail ?? "?"}` };
    default:
      return null;
  }
}

/** Subscribe a logger to an event source. Returns the unsubscribe function. */
export function attachEventLog(source: { on(fn: (e: EventBase) => void): () => void }, log: Logger): () => void {
  const children = new Map<string, Logger>();
  const child = (c: string) => {
    let l = children.get(c);
    if (!l) children.set(c, (l = log.child(c)));
    return l;
  };
  return source.on((event) => {
    const line = describeEvent(event);
    if (line) child(line.component)[line.level](line.text);
    else {
      const { type, at: _at, ...rest } = event as EventBase & Record<string, unknown>;
      child(type.split(".")[0] ?? "event").debug(type, sanitize(rest) as Record<string, unknown>);
    }
  });
}

/**
 * The fleet picture `cellkeep fleet` shows: a reducer from broker messages
 * (topic, payload, arrival time) to one row per gateway, and the terminal
 * table. No I/O and no clock of its own.
 *
 * Events carry a queue id (epoch `q`, `seq`); a repeat (a resend after a lost
 * PUBACK) is recognised here and dropped, so each event counts once.
 */
import { linkUptimeSeconds } from "./telemetry.ts";

export interface GatewayRow {
  device: string;
  /** "online" | "offline" | null (no presence message yet). */
  presence: string | null;
  state: string | null;
  cause: string | null;
  /** dBm: RSRP where the modem reports it (LTE), else RSSI. */
  signal: number | null;
  /** ms since the epoch of the newest message from this gateway (a retained status counts by its own time). */
  lastSeen: number | null;
  /** ms since the epoch when the link came up, when connected. */
  linkUpSince: number | null;
  /** Events received (repeats excluded). */
  events: number;
  /** Repeated events dropped. */
  duplicates: number;
  /** Events the gateway's queue dropped past its bound (from its metrics). */
  dropped: number;
}

export type FleetUpdate =
  | { kind: "status" | "presence" | "metrics"; device: string }
  | { kind: "event"; device: string; event: Record<string, unknown> }
  | { kind: "duplicate"; device: string; seq: number };

type Rec = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export class FleetModel {
  private rows = new Map<string, GatewayRow>();
  /** device → epoch → highest seq seen. */
  private seen = new Map<string, Map<string, number>>();

  /** `prefix` is the part before the device id, e.g. "cellkeep/". */
  constructor(private readonly prefix: string) {}

  /** Fold one message in; null when the topic or payload is not ours. */
  apply(topic: string, payload: Uint8Array | string, receivedAt: number): FleetUpdate | null {
    if (!topic.startsWith(this.prefix)) return null;
    const rest = topic.slice(this.prefix.length);
    const slash = rest.indexOf("/");
    if (slash <= 0) return null;
    const device = rest.slice(0, slash);
    const kind = rest.slice(slash + 1);
    const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
    if (kind === "presence") {
      if (text !== "online" && text !== "offline") return null;
      const row = this.row(device);
      row.presence = text;
      if (text === "online") row.lastSeen = Math.max(row.lastSeen ?? 0, receivedAt);
      return { kind: "presence", device };
    }
    if (kind !== "status" && kind !== "events" && kind !== "metrics") return null;
    let body: Rec;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
      body = parsed as Rec;
    } catch {
      return null;
    }
    const row = this.row(device);
    if (kind === "status") {
      row.state = str(body.state);
      row.cause = str((body.cause as Rec | null)?.code);
      const signal = (body.signal ?? {}) as Rec;
      row.signal = num(signal.rsrp) ?? num(signal.rssi);
      const at = Date.parse(str(body.now) ?? "");
      // A retained status may be hours old: it says when it was taken.
      row.lastSeen = Math.max(row.lastSeen ?? 0, Number.isFinite(at) ? Math.min(at, receivedAt) : receivedAt);
      const up = linkUptimeSeconds(body, Number.isFinite(at) ? at : receivedAt);
      row.linkUpSince = up === null ? null : (Number.isFinite(at) ? at : receivedAt) - up * 1000;
      return { kind: "status", device };
    }
    row.lastSeen = Math.max(row.lastSeen ?? 0, receivedAt);
    if (kind === "metrics") {
      const s = str(body.s);
      if (s !== null) row.state = s;
      if (body.c !== undefined) row.cause = str(body.c);
      else if (s === "connected") row.cause = null;
      const signal = num(body.rsrp) ?? num(body.rssi);
      if (signal !== null) row.signal = signal;
      const up = num(body.up);
      const t = num(body.t) ?? receivedAt;
      row.linkUpSince = up === null ? null : t - up * 1000;
      row.dropped = num(body.d) ?? row.dropped;
      return { kind: "metrics", device };
    }
    // events
    const epoch = str(body.q);
    const seq = num(body.seq);
    if (epoch !== null && seq !== null) {
      let epochs = this.seen.get(device);
      if (!epochs) this.seen.set(device, (epochs = new Map()));
      const last = epochs.get(epoch) ?? 0;
      if (seq <= last) {
        row.duplicates++;
        return { kind: "duplicate", device, seq };
      }
      epochs.set(epoch, seq);
    }
    row.events++;
    if (body.type === "modem.state") {
      const state = str(body.state);
      row.state = state;
      row.cause = str((body.cause as Rec | null)?.code);
      const at = num(body.at);
      if (state === "connected") row.linkUpSince = at ?? receivedAt;
      else row.linkUpSince = null;
    } else if (body.type === "agent.stopping") {
      row.state = "stopped";
      row.linkUpSince = null;
    }
    return { kind: "event", device, event: body };
  }

  gateways(): GatewayRow[] {
    return [...this.rows.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  get size(): number {
    return this.rows.size;
  }

  row(device: string): GatewayRow {
    let r = this.rows.get(device);
    if (!r) {
      r = { device, presence: null, state: null, cause: null, signal: null, lastSeen: null, linkUpSince: null, events: 0, duplicates: 0, dropped: 0 };
      this.rows.set(device, r);
    }
    return r;
  }
}

/** The row as JSON for scripts: times as ISO text, uptime in seconds. */
export function rowJson(row: GatewayRow, now: number): Record<string, unknown> {
  return {
    device: row.device,
    presence: row.presence,
    state: row.state,
    cause: row.cause,
    signalDbm: row.signal,
    lastSeen: row.lastSeen === null ? null : new Date(row.lastSeen).toISOString(),
    linkUptime: row.linkUpSince === null ? null : Math.max(0, Math.floor((now - row.linkUpSince) / 1000)),
    events: row.events,
    duplicates: row.duplicates,
    dropped: row.dropped,
  };
}

/** "4s", "12m", "3h", "2d". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** The terminal table, one line per gateway, widths fitted to the content. */
export function renderTable(rows: readonly GatewayRow[], now: number): string {
  const head = ["DEVICE", "PRESENCE", "STATE", "CAUSE", "SIGNAL", "LAST SEEN", "LINK UP"];
  const body = rows.map((r) => [
    r.device,
    r.presence ?? "?",
    r.state ?? "?",
    r.cause ?? "-",
    r.signal === null ? "-" : `${r.signal} dBm`,
    r.lastSeen === null ? "-" : `${ago(now - r.lastSeen)} ago`,
    r.linkUpSince === null ? "-" : ago(now - r.linkUpSince),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const online = rows.filter((r) => r.presence === "online").length;
  const connected = rows.filter((r) => r.state === "connected").length;
  const summary = `${rows.length} gateway${rows.length === 1 ? "" : "s"}: ${online} online, ${connected} connected`;
  return [summary, "", line(head), ...body.map(line)].join("\n") + "\n";
}

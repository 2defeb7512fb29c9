/**
 * The status view (DESIGN.md rule 4): a pure reducer from the agent's event
 * stream to what every view shows (/status, /metrics, /healthz, the status
 * page, systemd's STATUS= line). It never reads the clock and does no I/O;
 * `apply(event)` folds one event in, `snapshot(...)` renders the current
 * picture given `now` and the PPP counters pulled at request time. Unknown
 * event types, and known types with odd fields, are ignored field by field: a
 * view must never throw on the stream. The agent holds it in a StatusModel
 * (./model.ts) together with the facts it supplies (clock, version, counters).
 */
import { CAUSE_HINTS, isCauseCode } from "../core/cause.ts";
import { LINK_STATES, RECOVERY_RUNGS, type CmuxCountsView, type CmuxDlciView, type LinkState, type RecoveryRung, type ModemIdentity } from "../core/agent-events.ts";
import type { EventBase } from "../core/events.ts";
import { BucketRing, type BucketPoint } from "./bucket-ring.ts";
import { maskId } from "../core/mask.ts";
import type { PppCounters } from "./counters.ts";
import type { UsageStatus } from "./usage.ts";

/** States of a bring-up in progress; entering one of these from any other state starts a new attempt. */
const BRINGUP_STATES = new Set<string>(["syncing", "sim", "registering", "attaching", "dialing", "negotiating"]);
/** States that end an attempt that did not reach "connected". */
const FAILED_END_STATES = new Set<string>(["hanging-up", "recovering", "waiting", "stopped"]);

/** Probe RTT histogram upper bounds, seconds (cellular RTTs: tens of ms to seconds). */
export const RTT_BUCKETS_S = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface CauseView {
  code: string;
  hint: string;
  detail?: string;
}

export interface TimelineStep {
  /** ms since the epoch. */
  at: number;
  /** ms since the attempt began. */
  offsetMs: number;
  /** The event type that produced the step. */
  type: string;
  /** For a person, e.g. "registered: home, LTE-M, Operator". */
  text: string;
}

export interface BringUpAttempt {
  startedAt: number;
  outcome: "in-progress" | "connected" | "failed";
  /** When the state became "connected" (outcome connected). */
  connectedAt: number | null;
  /** Why the attempt failed (outcome failed). */
  cause: CauseView | null;
  steps: TimelineStep[];
}

export interface ProbeHistogram {
  /** Cumulative counts per RTT_BUCKETS_S bound, then +Inf last. */
  buckets: number[];
  sumSeconds: number;
  count: number;
}

export type SignalField = "rssi" | "rsrp" | "rsrq" | "sinr";
export type ProbeField = "rttMs" | "failed";

export interface StatusViewOptions {
  /** Plot bucket width (default 60 s) and count (default 1440: 24 h). */
  bucketMs?: number;
  buckets?: number;
  /** Steps kept per bring-up attempt (default 100). */
  maxTimelineSteps?: number;
}

/** The /status document. Field names are a contract (README "GET /status"). */
export interface StatusSnapshot {
  state: LinkState;
  since: string | null;
  cause: CauseView | null;
  /** IMSI and ICCID masked. */
  modem: ModemIdentity & { profile: string | null; port: string | null };
  registration: {
    stat: number | null;
    status: string | null;
    act: string | null;
    operator: string | null;
    band: string | null;
    tac: string | null;
    cell: string | null;
    at: string | null;
  };
  signal: {
    rssi: number | null;
    rsrp: number | null;
    rsrq: number | null;
    sinr: number | null;
    act: string | null;
    at: string | null;
  };
  ppp: {
    phase: string;
    ipv4: { local: string; remote: string; dns: string[] } | null;
    ipv6: { local: string; remote: string } | null;
    mru: number | null;
    bytesIn: number | null;
    bytesOut: number | null;
    packetsIn: number | null;
    packetsOut: number | null;
    errors: Record<string, number> | null;
  };
  /**
   * The CMUX session on the one serial port (modem.mux; docs/cmux.md):
   * "off" when the port is plain. Counts are cumulative for the session and
   * refreshed at most once a second while they change.
   */
  mux: {
    state: "off" | "entering" | "open" | "closed";
    frameSize: number | null;
    dlcis: CmuxDlciView[];
    counts: CmuxCountsView | null;
    /** The last named trouble of the mux (frame errors, a silent DLCI, the module left it), if any. */
    lastFault: CauseView | null;
    /** How a modem left in CMUX or data mode by an earlier run was brought back ("close-down", "escape"). */
    recovered: string | null;
    since: string | null;
  };
  link: {
    interface: string | null;
    up: boolean;
    ipv4: string | null;
    peer: string | null;
    defaultRoute: boolean;
  };
  health: {
    ok: boolean | null;
    rttMs: number | null;
    at: string | null;
    probe: string | null;
    target: string | null;
    loss: number | null;
    consecutiveFailures: number;
  };
  recovery: {
    rung: string | null;
    consecutiveFailures: number;
    lastResetAt: string | null;
    nextActionAt: string | null;
    waitingReason: string | null;
    /** The ladder's phase ("blocked": a person must fix credentials, SIM or subscription). */
    phase: string | null;
    /** The remedy class of the last failure: link, network, operator, backoff, module, local. */
    causeClass: string | null;
    /** Reset-class actions in this escalation. */
    resets: number;
    actions: Record<RecoveryRung, number>;
  };
  timeline: {
    current: BringUpAttempt | null;
    lastConnection: BringUpAttempt | null;
  };
  /** The network's time (issue 17): NITZ, AT+QLTS or the module clock. */
  time: {
    /** The network's time when last read (UTC). */
    network: string | null;
    source: string | null;
    /** System clock minus network time at that reading, ms (positive: the system clock is ahead). */
    offsetMs: number | null;
    readAt: string | null;
    /** How far the system clock was stepped since cellkeep started (NTP, NITZ, a person); waits ignore it. */
    clockStepMs: number;
    /** When cellkeep last set the system clock (time.set_system_clock), and how the last attempt ended. */
    systemClockSetAt: string | null;
    systemClockResult: "set" | "failed" | null;
    systemClockCause: CauseView | null;
  };
  /** SMS control (issue 17): counts since start and the last command. */
  sms: {
    commands: number;
    rejected: number;
    rejectedBy: Record<string, number>;
    replies: number;
    replyFailures: number;
    last: { at: string | null; from: string; command: string; force: boolean; outcome: string; message: string } | null;
  };
  /** Seconds since the agent started. */
  uptime: number;
  version: string;
  /** When this snapshot was taken. */
  now: string;
  /** The radio policy ([radio]) as the last bring-up applied it (modem.radio events). */
  radio: {
    /** "applied" (every setting holds), "refused" (radio-refused), null before the first bring-up with a policy. */
    policy: "applied" | "refused" | null;
    settings: { name: string; result: string; wanted: string; found: string | null; detail?: string }[];
    notes: string[];
    /** Settings written since the agent started (NVRAM writes on Quectel modules). */
    writes: number;
    at: string | null;
    /** Waiting with radio.roaming = "deny" while the modem is registered roaming: no dialling until home. */
    roamingDenied: boolean;
  };
  /** APN failover (network.apns) and SIM slot failover (sim.failover_after). */
  failover: {
    apn: string | null;
    /** 0-based position of `apn` in network.apns. */
    apnIndex: number | null;
    apnCount: number | null;
    /** APN switches after a rejection since the agent started. */
    apnFailovers: number;
    /** The SIM slot selected by the last switch (1 or 2); null before any switch. */
    simSlot: number | null;
    simSwitches: number;
    lastSimSwitchAt: string | null;
    /** false: the module has one slot (AT+QDSIM unsupported); null: not asked yet. */
    dualSim: boolean | null;
  };
  /** Data usage per SIM and billing cycle, caps, probe traffic (./usage.ts); null when not wired. */
  usage: UsageStatus | null;
}

type Rec = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === "boolean" ? v : null);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function causeOf(v: unknown): CauseView | null {
  if (!v || typeof v !== "object") return null;
  const c = v as Rec;
  const code = str(c.code);
  if (!code) return null;
  const hint = str(c.hint) ?? (isCauseCode(code) ? CAUSE_HINTS[code] : "");
  const detail = str(c.detail);
  return detail ? { code, hint, detail } : { code, hint };
}

function isLinkState(s: string | null): s is LinkState {
  return s !== null && (LINK_STATES as readonly string[]).includes(s);
}

export class StatusView {
  readonly signalHistory: BucketRing<SignalField>;
  readonly probeHistory: BucketRing<ProbeField>;
  private readonly maxSteps: number;

  // current picture
  state: LinkState = "starting";
  stateSince: number | null = null;
  cause: CauseView | null = null;
  private modem: StatusSnapshot["modem"] = {
    manufacturer: null, model: null, firmware: null, imei: null, imsi: null, iccid: null, profile: null, port: null,
  };
  private registration = {
    stat: null as number | null, status: null as string | null, act: null as string | null, operator: null as string | null,
    band: null as string | null, tac: null as string | null, cell: null as string | null, at: null as number | null,
  };
  private signal = {
    rssi: null as number | null, rsrp: null as number | null, rsrq: null as number | null, sinr: null as number | null,
    act: null as string | null, at: null as number | null,
  };
  private ppp = {
    phase: "dead",
    ipv4: null as StatusSnapshot["ppp"]["ipv4"],
    ipv6: null as StatusSnapshot["ppp"]["ipv6"],
    mru: null as number | null,
  };
  private mux = {
    state: "off" as StatusSnapshot["mux"]["state"], frameSize: null as number | null, dlcis: [] as CmuxDlciView[],
    counts: null as CmuxCountsView | null, lastFault: null as CauseView | null, recovered: null as string | null, since: null as number | null,
  };
  private link: StatusSnapshot["link"] = { interface: null, up: false, ipv4: null, peer: null, defaultRoute: false };
  lastProbe: {
    ok: boolean; rttMs: number | null; at: number; probe: string | null; target: string | null; loss: number | null; consecutiveFailures: number;
  } | null = null;
  private recovery = {
    rung: null as string | null, consecutiveFailures: 0, lastResetAt: null as number | null,
    nextActionAt: null as number | null, waitingReason: null as string | null,
    phase: null as string | null, causeClass: null as string | null, resets: 0,
  };
  private current: BringUpAttempt | null = null;
  private lastConnection: BringUpAttempt | null = null;
  private radio = {
    policy: null as "applied" | "refused" | null,
    settings: [] as StatusSnapshot["radio"]["settings"],
    notes: [] as string[],
    at: null as number | null,
  };
  private failover = {
    apn: null as string | null, apnIndex: null as number | null, apnCount: null as number | null,
    simSlot: null as number | null, lastSimSwitchAt: null as number | null, dualSim: null as boolean | null,
  };
  /** Last successful RTT per probe kind measured over the current link; cleared when PPP goes down. */
  private readonly linkRtt = new Map<string, number>();
  private readonly listeners = new Set<(event: EventBase) => void>();

  // counters for /metrics (since the view was created)
  readonly actionCounts = Object.fromEntries(RECOVERY_RUNGS.map((r) => [r, 0])) as Record<RecoveryRung, number>;
  readonly forcedActions = Object.fromEntries(RECOVERY_RUNGS.map((r) => [r, 0])) as Record<RecoveryRung, number>;
  /** Failures by cause code: state transitions that carried a cause. */
  readonly causeCounts = new Map<string, number>();
  readonly stateEntries = new Map<LinkState, number>();
  readonly dials = { connect: 0, failed: 0 };
  /** Radio settings written, refused (by setting name), APN and SIM failovers: for /metrics. */
  readonly radioWrites = new Map<string, number>();
  readonly radioRefusals = new Map<string, number>();
  apnFailovers = 0;
  simSwitches = 0;
  readonly probeResults = new Map<string, { ok: number; failed: number }>();
  readonly rtt = new Map<string, ProbeHistogram>();
  // modem time and SMS control (issue 17)
  private netTime = { network: null as number | null, source: null as string | null, offsetMs: null as number | null, at: null as number | null };
  private clockSet = { at: null as number | null, result: null as "set" | "failed" | null, cause: null as CauseView | null };
  readonly clockSets = { set: 0, failed: 0 };
  /** Commands by "command outcome", rejections by reason, replies by result. */
  readonly smsCommands = new Map<string, number>();
  readonly smsRejected = new Map<string, number>();
  readonly smsReplies = { ok: 0, failed: 0 };
  private smsLast: { atMs: number; from: string; command: string; force: boolean; outcome: string; message: string } | null = null;
  /** Events folded in, and those ignored as unknown. */
  applied = 0;
  ignored = 0;

  constructor(opts: StatusViewOptions = {}) {
    const bucketMs = opts.bucketMs ?? 60_000;
    const buckets = opts.buckets ?? 1440;
    this.signalHistory = new BucketRing<SignalField>(["rssi", "rsrp", "rsrq", "sinr"], bucketMs, buckets);
    this.probeHistory = new BucketRing<ProbeField>(["rttMs", "failed"], bucketMs, buckets);
    this.maxSteps = opts.maxTimelineSteps ?? 100;
  }

  /**
   * Fold one event in, then tell the listeners if it was one the view knows.
   * A malformed event never throws; a listener that throws does, after the
   * other listeners ran (on the bus, the bus logs it).
   */
  apply(event: EventBase): void {
    const before = this.applied;
    try {
      this.reduce(event as EventBase & Rec);
    } catch {
      // A malformed event must not break the view; it is simply not reflected.
      this.ignored++;
    }
    if (this.applied === before || this.listeners.size === 0) return;
    let failure: unknown = null;
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== null) throw failure;
  }

  /** Call `fn` after each event the view folded in (views that push, e.g. systemd STATUS=). Returns the unsubscribe. */
  onApplied(fn: (event: EventBase) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private reduce(e: EventBase & Rec): void {
    const at = num(e.at);
    if (at === null || typeof e.type !== "string") {
      this.ignored++;
      return;
    }
    this.applied++;
    switch (e.type) {
      case "modem.state": {
        const state = str(e.state);
        if (!isLinkState(state)) return;
        const c = causeOf(e.cause);
        this.onState(state, at, c, str(e.previous));
        return;
      }
      case "modem.identity":
        this.modem = {
          manufacturer: str(e.manufacturer) ?? this.modem.manufacturer,
          model: str(e.model) ?? this.modem.model,
          firmware: str(e.firmware) ?? this.modem.firmware,
          imei: str(e.imei) ?? this.modem.imei,
          // Mask at once: the full value is never kept in the view.
          imsi: maskId(str(e.imsi)) ?? this.modem.imsi,
          iccid: maskId(str(e.iccid)) ?? this.modem.iccid,
          profile: str(e.profile) ?? this.modem.profile,
          port: this.modem.port,
        };
        this.step(at, e.type, `modem ${[str(e.model), str(e.firmware)].filter(Boolean).join(" ") || "identified"}`);
        return;
      case "modem.registration": {
        // A poll that answers only the stat (e.g. AT+CEREG? in mode 1, or the health
        // check's quick query) must not erase the cell facts bring-up learned: while the
        // modem stays registered, fields the new report lacks keep their known values.
        const prev = this.registration;
        const stat = num(e.stat);
        const stillRegistered = (stat === 1 || stat === 5) && prev !== null && (prev.stat === 1 || prev.stat === 5);
        const keep = (now: string | null, before: string | null | undefined) => now ?? (stillRegistered ? (before ?? null) : null);
        this.registration = {
          stat, status: str(e.status), act: keep(str(e.act), prev?.act), operator: keep(str(e.operator), prev?.operator),
          band: keep(str(e.band), prev?.band), tac: keep(str(e.tac), prev?.tac), cell: keep(str(e.cell), prev?.cell), at,
        };
        const parts = [str(e.status) ?? `stat ${num(e.stat)}`, str(e.act), str(e.operator)].filter(Boolean);
        this.step(at, e.type, `registration: ${parts.join(", ")}`, true);
        return;
      }
      case "modem.signal": {
        this.signal = { rssi: num(e.rssi), rsrp: num(e.rsrp), rsrq: num(e.rsrq), sinr: num(e.sinr), act: str(e.act), at };
        this.signalHistory.add(at, this.signal);
        return;
      }
      case "modem.dial": {
        const result = str(e.result);
        if (result === "connect") this.dials.connect++;
        else if (result === "failed") this.dials.failed++;
        const c = causeOf(e.cause);
        this.step(at, e.type, `dial attempt ${num(e.attempt) ?? "?"}: ${result === "connect" ? "CONNECT" : `failed${c ? ` (${c.code})` : ""}`}`);
        return;
      }
      case "modem.radio": {
        const settings = Array.isArray(e.settings) ? (e.settings as Rec[]).filter((x) => x && typeof x === "object").slice(0, 16) : [];
        this.radio = {
          policy: e.ok === true ? "applied" : "refused",
          settings: settings.map((x) => {
            const d = str(x.detail);
            const one = { name: str(x.name) ?? "?", result: str(x.result) ?? "?", wanted: str(x.wanted) ?? "", found: str(x.found) };
            return d ? { ...one, detail: d } : one;
          }),
          notes: strings(e.notes),
          at,
        };
        for (const x of this.radio.settings) {
          if (x.result === "written") this.radioWrites.set(x.name, (this.radioWrites.get(x.name) ?? 0) + 1);
          if (x.result === "refused") this.radioRefusals.set(x.name, (this.radioRefusals.get(x.name) ?? 0) + 1);
        }
        const changed = this.radio.settings.filter((x) => x.result !== "unchanged").map((x) => `${x.name} ${x.result}`);
        this.step(at, e.type, `radio policy ${this.radio.policy}${changed.length ? `: ${changed.join(", ")}` : " (unchanged)"}`);
        return;
      }
      case "modem.apn": {
        this.failover.apn = str(e.apn);
        this.failover.apnIndex = num(e.index);
        this.failover.apnCount = num(e.count);
        const c = causeOf(e.cause);
        if (c) {
          this.apnFailovers++;
          this.step(at, e.type, `APN "${str(e.previous) ?? "?"}" rejected (${c.code}): trying "${str(e.apn) ?? "?"}"`);
        }
        return;
      }
      case "modem.sim-switch": {
        const result = str(e.result);
        if (result === "unsupported") this.failover.dualSim = false;
        if (result === "switched") {
          this.failover.dualSim = true;
          this.failover.simSlot = num(e.to);
          this.failover.lastSimSwitchAt = at;
          this.simSwitches++;
        }
        this.step(at, e.type, `SIM switch ${result ?? "?"}${num(e.to) !== null ? ` to slot ${num(e.to)}` : ""}${str(e.reason) ? `: ${str(e.reason)}` : ""}`);
        return;
      }
      case "ppp.phase": {
        // The agent contract has `phase`; the PPP module's own event has `to`.
        const phase = str(e.phase) ?? str(e.to);
        if (!phase) return;
        this.ppp.phase = phase;
        this.step(at, e.type, `PPP phase ${phase}`);
        return;
      }
      case "ppp.lcp.up":
        this.ppp.mru = num(e.mru) ?? this.ppp.mru;
        this.step(at, e.type, `LCP opened (MRU ${num(e.mru) ?? "?"}${str(e.auth) ? `, auth ${str(e.auth)}` : ""})`);
        return;
      case "ppp.auth":
        this.step(at, e.type, `${String(str(e.method) ?? "auth").toUpperCase()} ${str(e.result) ?? ""}`.trim());
        return;
      case "ppp.ipcp.up": {
        const local = str(e.local), remote = str(e.remote);
        if (local && remote) this.ppp.ipv4 = { local, remote, dns: strings(e.dns) };
        this.step(at, e.type, `IPCP opened: ${local ?? "?"} peer ${remote ?? "?"}`);
        return;
      }
      case "ppp.ipv6cp.up": {
        const local = str(e.local), remote = str(e.remote);
        if (local && remote) this.ppp.ipv6 = { local, remote };
        this.step(at, e.type, `IPV6CP opened: ${local ?? "?"}`);
        return;
      }
      case "ppp.up": {
        const v4 = e.ipv4 as Rec | null | undefined;
        const v6 = e.ipv6 as Rec | null | undefined;
        if (v4 && typeof v4 === "object" && str(v4.local) && str(v4.remote)) {
          this.ppp.ipv4 = { local: str(v4.local)!, remote: str(v4.remote)!, dns: strings(v4.dns) };
        }
        if (v6 && typeof v6 === "object" && str(v6.local) && str(v6.remote)) {
          this.ppp.ipv6 = { local: str(v6.local)!, remote: str(v6.remote)! };
        }
        this.ppp.mru = num(e.mru) ?? this.ppp.mru;
        this.ppp.phase = "open";
        this.step(at, e.type, `PPP up${this.ppp.ipv4 ? `: ${this.ppp.ipv4.local} peer ${this.ppp.ipv4.remote}` : ""}${this.ppp.ipv6 ? ` ${this.ppp.ipv6.local}` : ""}`);
        return;
      }
      case "ppp.terminate":
        this.step(at, e.type, `PPP terminate by ${str(e.by) ?? "?"}${str(e.message) ? `: ${str(e.message)}` : ""}`);
        return;
      case "ppp.down": {
        const c = causeOf(e.cause);
        if (c) this.cause = c;
        this.ppp.ipv4 = null;
        this.ppp.ipv6 = null;
        this.ppp.phase = "dead";
        this.linkRtt.clear();
        this.step(at, e.type, `PPP down${c ? ` (${c.code})` : ""}`);
        return;
      }
      case "health.probe": {
        const ok = bool(e.ok);
        if (ok === null) return;
        const probe = str(e.probe) ?? "unknown";
        const rttMs = num(e.rttMs);
        this.lastProbe = {
          ok, rttMs, at, probe, target: str(e.target), loss: num(e.loss), consecutiveFailures: num(e.consecutiveFailures) ?? 0,
        };
        const r = this.probeResults.get(probe) ?? { ok: 0, failed: 0 };
        if (ok) r.ok++;
        else r.failed++;
        this.probeResults.set(probe, r);
        if (ok && rttMs !== null) {
          this.observeRtt(probe, rttMs / 1000);
          this.linkRtt.set(probe, rttMs);
        }
        this.probeHistory.add(at, { rttMs: ok ? rttMs : null, failed: ok ? 0 : 1 });
        return;
      }
      case "recovery.action": {
        const rung = str(e.rung) as RecoveryRung | null;
        if (rung && Object.hasOwn(this.actionCounts, rung)) {
          this.actionCounts[rung]++;
          if (e.forced === true) this.forcedActions[rung]++;
        }
        this.step(at, e.type, `recovery: ${rung ?? "?"}${e.forced === true ? " (forced)" : ""}${str(e.reason) ? ` — ${str(e.reason)}` : ""}`);
        return;
      }
      case "recovery.state":
        this.recovery = {
          rung: str(e.rung),
          consecutiveFailures: num(e.consecutiveFailures) ?? 0,
          lastResetAt: num(e.lastResetAt),
          nextActionAt: num(e.nextActionAt),
          waitingReason: str(e.waitingReason),
          phase: str(e.phase),
          causeClass: str(e.causeClass),
          resets: num(e.resets) ?? 0,
        };
        return;
      case "link.interface": {
        this.link = {
          interface: str(e.name), up: e.up === true, ipv4: str(e.ipv4), peer: str(e.peer), defaultRoute: e.defaultRoute === true,
        };
        const c = causeOf(e.cause);
        this.step(at, e.type, `interface ${str(e.name) ?? "?"} ${e.up === true ? "up" : "down"}${c ? ` (${c.code})` : ""}`);
        return;
      }
      case "serial.opened":
      case "serial.reopened":
        this.modem.port = str(e.path);
        this.step(at, e.type, `${e.type === "serial.opened" ? "port opened" : "port reopened"}: ${str(e.path) ?? "?"}`);
        return;
      case "cmux.state":
      case "cmux.counts":
      case "cmux.fault":
      case "cmux.recovered": {
        const st = str(e.state);
        const state = st === "entering" || st === "open" || st === "closed" ? st : this.mux.state;
        if (state !== this.mux.state) this.mux.since = at;
        const c = causeOf(e.cause);
        const counts = e.counts && typeof e.counts === "object" ? (e.counts as CmuxCountsView) : this.mux.counts;
        this.mux = {
          ...this.mux,
          state: e.type === "cmux.recovered" ? this.mux.state : state,
          frameSize: num(e.frameSize) ?? this.mux.frameSize,
          dlcis: e.type === "cmux.state" && Array.isArray(e.dlcis) ? (e.dlcis as CmuxDlciView[]).slice(0, 8).map((d) => ({ ...d })) : this.mux.dlcis,
          counts: counts ? { ...counts } : null,
          lastFault: (e.type === "cmux.fault" || (e.type === "cmux.state" && state === "closed")) && c ? c : this.mux.lastFault,
          recovered: e.type === "cmux.recovered" ? str(e.detail) : this.mux.recovered,
        };
        if (e.type === "cmux.state" && state === "closed") this.mux.dlcis = [];
        if (e.type === "cmux.state" && st !== null && st !== "open") this.step(at, e.type, `CMUX ${st}${c ? ` (${c.code})` : ""}`);
        if (e.type === "cmux.fault" && c) this.step(at, e.type, `CMUX fault: ${c.code}`);
        if (e.type === "cmux.recovered") this.step(at, e.type, `CMUX: modem brought back (${str(e.detail) ?? "?"})`);
        return;
      }
      case "serial.vanished":
        this.step(at, e.type, `port vanished: ${str(e.path) ?? "?"}`);
        return;
      case "time.network":
        this.netTime = { network: num(e.networkTime), source: str(e.source), offsetMs: num(e.offsetMs), at };
        return;
      case "time.system-clock": {
        const result = e.result === "set" || e.result === "failed" ? e.result : null;
        if (!result) return;
        this.clockSets[result]++;
        this.clockSet = { at, result, cause: causeOf(e.cause) };
        return;
      }
      case "sms.command": {
        const command = str(e.command) ?? "?";
        const outcome = str(e.outcome) ?? "?";
        const key = `${command} ${outcome}`;
        this.smsCommands.set(key, (this.smsCommands.get(key) ?? 0) + 1);
        this.smsLast = { atMs: at, from: str(e.from) ?? "", command, force: e.force === true, outcome, message: str(e.message) ?? "" };
        return;
      }
      case "sms.rejected": {
        const reason = str(e.reason) ?? "unknown";
        this.smsRejected.set(reason, (this.smsRejected.get(reason) ?? 0) + 1);
        return;
      }
      case "sms.reply":
        if (e.ok === true) this.smsReplies.ok++;
        else this.smsReplies.failed++;
        return;
      default:
        this.applied--;
        this.ignored++;
        return;
    }
  }

  private onState(state: LinkState, at: number, c: CauseView | null, previous: string | null): void {
    const changed = state !== this.state || this.stateSince === null;
    const prev = previous ?? this.state;
    if (changed) {
      this.stateEntries.set(state, (this.stateEntries.get(state) ?? 0) + 1);
      this.state = state;
      this.stateSince = at;
    }
    if (c) {
      this.cause = c;
      this.causeCounts.set(c.code, (this.causeCounts.get(c.code) ?? 0) + 1);
    }
    if (state === "connected") this.cause = null;

    // Bring-up timeline: an attempt starts when we enter a bring-up state from outside one.
    if (BRINGUP_STATES.has(state) && (!this.current || this.current.outcome !== "in-progress")) {
      this.current = { startedAt: at, outcome: "in-progress", connectedAt: null, cause: null, steps: [] };
    }
    const text = `state ${prev} → ${state}${c ? ` (${c.code})` : ""}`;
    this.step(at, "modem.state", text);
    if (this.current?.outcome === "in-progress") {
      if (state === "connected") {
        this.current.outcome = "connected";
        this.current.connectedAt = at;
        this.lastConnection = this.current;
      } else if (FAILED_END_STATES.has(state)) {
        this.current.outcome = "failed";
        this.current.cause = c ?? this.cause;
      }
    }
  }

  /** Record a step in the attempt in progress (dedupe: skip a repeat of the previous text). */
  private step(at: number, type: string, text: string, dedupe = false): void {
    const a = this.current;
    if (!a || a.outcome !== "in-progress") return;
    if (dedupe && a.steps.length > 0 && a.steps[a.steps.length - 1]!.text === text) return;
    if (a.steps.length >= this.maxSteps) {
      // Keep the start and the most recent steps: drop the second oldest.
      a.steps.splice(1, 1);
    }
    a.steps.push({ at, offsetMs: at - a.startedAt, type, text });
  }

  private observeRtt(probe: string, seconds: number): void {
    let h = this.rtt.get(probe);
    if (!h) {
      h = { buckets: new Array(RTT_BUCKETS_S.length + 1).fill(0), sumSeconds: 0, count: 0 };
      this.rtt.set(probe, h);
    }
    RTT_BUCKETS_S.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]!++;
    });
    h.buckets[RTT_BUCKETS_S.length]!++;
    h.sumSeconds += seconds;
    h.count++;
  }

  /**
   * Healthy = the link is open and the last probe (taken while connected)
   * succeeded. With probes disabled, connected alone is healthy.
   */
  health(probesEnabled = true): { healthy: boolean; reason: string } {
    if (this.state !== "connected") return { healthy: false, reason: this.cause?.code ?? "not-connected" };
    if (!probesEnabled) return { healthy: true, reason: "ok" };
    const p = this.lastProbe;
    if (!p || (this.stateSince !== null && p.at < this.stateSince)) return { healthy: false, reason: "no-probe-yet" };
    return p.ok ? { healthy: true, reason: "ok" } : { healthy: false, reason: "probe-failed" };
  }

  snapshot(now: number, info: { version: string; startedAt: number; counters: PppCounters | null; usage?: UsageStatus | null; wallOffsetMs?: number }): StatusSnapshot {
    // Times are kept on agent (monotonic) time; shown on the system clock as it reads now (src/core/clock.ts).
    const off = info.wallOffsetMs ?? 0;
    const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms + off).toISOString());
    const k = info.counters;
    const p = this.lastProbe;
    return {
      state: this.state,
      since: iso(this.stateSince),
      cause: this.cause ? { ...this.cause } : null,
      modem: { ...this.modem },
      registration: { ...this.registration, at: iso(this.registration.at) },
      signal: { ...this.signal, at: iso(this.signal.at) },
      ppp: {
        phase: this.ppp.phase,
        ipv4: this.ppp.ipv4 ? { ...this.ppp.ipv4, dns: [...this.ppp.ipv4.dns] } : null,
        ipv6: this.ppp.ipv6 ? { ...this.ppp.ipv6 } : null,
        mru: this.ppp.mru,
        bytesIn: k ? k.bytesIn : null,
        bytesOut: k ? k.bytesOut : null,
        packetsIn: k ? k.packetsIn : null,
        packetsOut: k ? k.packetsOut : null,
        errors: k ? { ...k.errors } : null,
      },
      mux: {
        state: this.mux.state,
        frameSize: this.mux.frameSize,
        dlcis: this.mux.dlcis.map((d) => ({ ...d })),
        counts: this.mux.counts ? { ...this.mux.counts } : null,
        lastFault: this.mux.lastFault ? { ...this.mux.lastFault } : null,
        recovered: this.mux.recovered,
        since: iso(this.mux.since),
      },
      link: { ...this.link },
      health: {
        ok: p ? p.ok : null,
        rttMs: p ? p.rttMs : null,
        at: p ? iso(p.at) : null,
        probe: p ? p.probe : null,
        target: p ? p.target : null,
        loss: p ? p.loss : null,
        consecutiveFailures: p ? p.consecutiveFailures : 0,
      },
      recovery: {
        rung: this.recovery.rung,
        consecutiveFailures: this.recovery.consecutiveFailures,
        lastResetAt: iso(this.recovery.lastResetAt),
        nextActionAt: iso(this.recovery.nextActionAt),
        waitingReason: this.recovery.waitingReason,
        phase: this.recovery.phase,
        causeClass: this.recovery.causeClass,
        resets: this.recovery.resets,
        actions: { ...this.actionCounts },
      },
      timeline: { current: cloneAttempt(this.current), lastConnection: cloneAttempt(this.lastConnection) },
      time: {
        // The network's time is UTC as read: not shifted like the agent's own times.
        network: this.netTime.network === null ? null : new Date(this.netTime.network).toISOString(),
        source: this.netTime.source,
        offsetMs: this.netTime.offsetMs,
        readAt: iso(this.netTime.at),
        clockStepMs: off,
        systemClockSetAt: iso(this.clockSet.result === "set" ? this.clockSet.at : null),
        systemClockResult: this.clockSet.result,
        systemClockCause: this.clockSet.cause ? { ...this.clockSet.cause } : null,
      },
      sms: {
        commands: [...this.smsCommands.values()].reduce((a, b) => a + b, 0),
        rejected: [...this.smsRejected.values()].reduce((a, b) => a + b, 0),
        rejectedBy: Object.fromEntries(this.smsRejected),
        replies: this.smsReplies.ok,
        replyFailures: this.smsReplies.failed,
        last: this.smsLast
          ? { at: iso(this.smsLast.atMs), from: this.smsLast.from, command: this.smsLast.command, force: this.smsLast.force, outcome: this.smsLast.outcome, message: this.smsLast.message }
          : null,
      },
      uptime: Math.max(0, Math.floor((now - info.startedAt) / 1000)),
      version: info.version,
      now: new Date(now + off).toISOString(),
      radio: {
        policy: this.radio.policy,
        settings: this.radio.settings.map((x) => ({ ...x })),
        notes: [...this.radio.notes],
        writes: [...this.radioWrites.values()].reduce((a, b) => a + b, 0),
        at: iso(this.radio.at),
        roamingDenied: this.roamingDenied,
      },
      failover: {
        apn: this.failover.apn,
        apnIndex: this.failover.apnIndex,
        apnCount: this.failover.apnCount,
        apnFailovers: this.apnFailovers,
        simSlot: this.failover.simSlot,
        simSwitches: this.simSwitches,
        lastSimSwitchAt: iso(this.failover.lastSimSwitchAt),
        dualSim: this.failover.dualSim,
      },
      usage: info.usage ?? null,
    };
  }

  /** Plot data for the page: the last `windowMs` (default: the whole ring, 24 h). */
  history(now: number, windowMs?: number): { bucketMs: number; windowMs: number; signal: BucketPoint<SignalField>[]; probe: BucketPoint<ProbeField>[] } {
    const w = windowMs ?? this.signalHistory.windowMs;
    return {
      bucketMs: this.signalHistory.bucketMs,
      windowMs: w,
      signal: this.signalHistory.points(now, w),
      probe: this.probeHistory.points(now, w),
    };
  }

  /** Waiting because the modem is registered roaming and radio.roaming = "deny" (the named waiting state). */
  get roamingDenied(): boolean {
    return this.state === "waiting" && this.cause?.code === "roaming-denied";
  }

  /** The SIM slot selected by the last switch (null before any). */
  get simSlot(): number | null {
    return this.failover.simSlot;
  }

  /** Raw values for /metrics (unmasked numbers only; no identities). */
  get signalNow(): Readonly<typeof this.signal> {
    return this.signal;
  }
  get registrationNow(): Readonly<typeof this.registration> {
    return this.registration;
  }
  get modemNow(): Readonly<StatusSnapshot["modem"]> {
    return this.modem;
  }
  get recoveryNow(): Readonly<typeof this.recovery> {
    return this.recovery;
  }
  /** The last reading of the network's time (for /metrics). */
  get networkTimeNow(): Readonly<typeof this.netTime> {
    return this.netTime;
  }
  /** PPP phase and addresses as last reported (no counters: those are pulled at snapshot time). */
  get pppNow(): Readonly<typeof this.ppp> {
    return this.ppp;
  }
  /** The last successful RTT of a probe kind on the current link (null: none since PPP came up). */
  linkRttMs(probe: string): number | null {
    return this.linkRtt.get(probe) ?? null;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, 8) : [];
}

function cloneAttempt(a: BringUpAttempt | null): BringUpAttempt | null {
  return a ? { ...a, cause: a.cause ? { ...a.cause } : null, steps: a.steps.map((s) => ({ ...s })) } : null;
}

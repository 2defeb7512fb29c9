/**
 * The data-usage ledger (a core: no I/O, `now` comes in): bytes in and out
 * per SIM (by ICCID) per billing cycle, the caps each SIM's cycle has
 * reached, and which of them a person lifted. The adapter (src/agent/usage.ts)
 * feeds it counter deltas and the SIM in use, saves `state()` to the usage
 * file and turns the events it returns into actions.
 *
 * A cap is compared with bytes in + out of the cycle. `warn` is reported once
 * per cycle; `quiet` and `stop` are enforced while the cycle's total is at or
 * above them and a person has not lifted them (POST /actions/usage-resume lifts
 * every cap reached so far; a higher cap not yet reached still acts). Caps
 * are taken from the config in force, so raising a cap and restarting lifts
 * it too; the reached/lifted lists only keep events and resumes from
 * repeating.
 */
import { USAGE_CAP_ACTIONS, type UsageCapAction, type UsageCapEvent, type UsageCycleEvent, type UsageCycleTotals, type UsageResumedEvent, type UsageSimEvent } from "../core/agent-events.ts";
import { cycleAt, type Cycle } from "./cycle.ts";

/** The key of traffic counted while the modem reported no ICCID. */
export const UNKNOWN_SIM = "unknown";

export type UsageCaps = Partial<Record<UsageCapAction, number>>;

export interface LedgerOptions {
  /** usage.cycle_day: 1–31. */
  cycleDay: number;
  /** usage.timezone; undefined: the host's zone. */
  timeZone?: string;
  caps: UsageCaps;
}

/** One SIM's record, as saved. */
export interface SimUsage extends UsageCycleTotals {
  /** Caps crossed in this cycle (their events went out). */
  reached: UsageCapAction[];
  /** Caps a person lifted in this cycle. */
  lifted: UsageCapAction[];
  /** The cycle before this one, for the status page. */
  previous: UsageCycleTotals | null;
}

/** The usage file's content. */
export interface UsageState {
  version: 1;
  /** Keyed by ICCID (UNKNOWN_SIM for traffic before or without one). */
  sims: Record<string, SimUsage>;
}

export type UsageEvent = UsageCycleEvent | UsageCapEvent | UsageResumedEvent | UsageSimEvent;

export interface Enforcement {
  quiet: boolean;
  stop: boolean;
}

const isAction = (a: unknown): a is UsageCapAction => typeof a === "string" && (USAGE_CAP_ACTIONS as readonly string[]).includes(a);
const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

function parseTotals(x: unknown): UsageCycleTotals | null {
  if (!x || typeof x !== "object") return null;
  const t = x as Record<string, unknown>;
  if (!isCount(t.cycleStart) || !isCount(t.cycleEnd) || !isCount(t.bytesIn) || !isCount(t.bytesOut) || t.cycleEnd <= t.cycleStart) return null;
  return { cycleStart: t.cycleStart, cycleEnd: t.cycleEnd, bytesIn: t.bytesIn, bytesOut: t.bytesOut };
}

/** The usage file's JSON, checked field by field; a string says what is wrong. */
export function parseUsageState(x: unknown): UsageState | string {
  if (!x || typeof x !== "object") return "not an object";
  const o = x as Record<string, unknown>;
  if (o.version !== 1) return `unknown version ${JSON.stringify(o.version)}`;
  if (!o.sims || typeof o.sims !== "object" || Array.isArray(o.sims)) return "sims is not an object";
  const sims: Record<string, SimUsage> = {};
  for (const [iccid, rec] of Object.entries(o.sims as Record<string, unknown>)) {
    const totals = parseTotals(rec);
    if (!totals) return `sims.${iccid}: bad cycle or byte counts`;
    const r = rec as Record<string, unknown>;
    const list = (v: unknown) => (Array.isArray(v) ? [...new Set(v.filter(isAction))] : []);
    sims[iccid] = { ...totals, reached: list(r.reached), lifted: list(r.lifted), previous: parseTotals(r.previous) };
  }
  return { version: 1, sims };
}

export class UsageLedger {
  private readonly sims: Map<string, SimUsage>;
  private current: string;
  /** Bumped on every change: the adapter saves when it differs from what it saved. */
  private revision = 0;
  /** Events not yet handed out (a read at a cycle boundary rolls over too; its event waits here). */
  private pending: UsageEvent[] = [];

  constructor(
    private readonly o: LedgerOptions,
    saved: UsageState | null,
  ) {
    this.sims = new Map(Object.entries(saved?.sims ?? {}).map(([k, v]) => [k, { ...v, reached: [...v.reached], lifted: [...v.lifted] }]));
    this.current = UNKNOWN_SIM;
  }

  /** The ICCID being counted, or null while it is unknown. */
  get sim(): string | null {
    return this.current === UNKNOWN_SIM ? null : this.current;
  }

  get changes(): number {
    return this.revision;
  }

  get caps(): Readonly<UsageCaps> {
    return this.o.caps;
  }

  cycleOf(now: number): Cycle {
    return cycleAt(now, this.o.cycleDay, this.o.timeZone);
  }

  /**
   * The SIM now in use (after the SIM step, and again after a SIM switch). Count
   * the old SIM's last bytes before calling this. A null ICCID (not readable)
   * keeps the SIM known so far: a modem that stops answering AT+QCCID has not
   * swapped its SIM.
   */
  setSim(iccid: string | null, now: number): UsageEvent[] {
    if (iccid !== null && iccid !== this.current) {
      const previous = this.sim;
      this.current = iccid;
      this.revision++;
      this.pending.push({ type: "usage.sim", at: now, iccid, previous: { iccid: previous } });
      this.rollOver(now);
      // A SIM already over a cap is reported at once (a restart or a switch back to it).
      this.crossings(now);
    }
    this.rollOver(now);
    return this.take();
  }

  /** Bytes through the link since the last call, for the SIM in use. */
  count(bytesIn: number, bytesOut: number, now: number): UsageEvent[] {
    this.rollOver(now);
    if (bytesIn > 0 || bytesOut > 0) {
      const r = this.record(now);
      r.bytesIn += Math.max(0, Math.round(bytesIn));
      r.bytesOut += Math.max(0, Math.round(bytesOut));
      this.revision++;
      this.crossings(now);
    }
    return this.take();
  }

  /** Time-driven: a new cycle at its boundary. Also hands out events a read produced. */
  poll(now: number): UsageEvent[] {
    this.rollOver(now);
    return this.take();
  }

  /** When the current cycle ends (the adapter's timer for the roll-over). */
  nextDeadline(now: number): number {
    return this.record(now).cycleEnd;
  }

  /** What the caps enforce now for the SIM in use. */
  enforced(now: number): Enforcement {
    this.rollOver(now);
    const r = this.record(now);
    const total = r.bytesIn + r.bytesOut;
    const on = (a: UsageCapAction) => {
      const cap = this.o.caps[a];
      return cap !== undefined && total >= cap && !r.lifted.includes(a);
    };
    return { quiet: on("quiet"), stop: on("stop") };
  }

  /** While `stop` is enforced: when it ends by itself (the cycle's end); else null. */
  holdUntil(now: number): number | null {
    return this.enforced(now).stop ? this.record(now).cycleEnd : null;
  }

  /** A person lifts every cap reached in this cycle for the SIM in use; empty when none was. */
  resume(now: number): UsageEvent[] {
    this.rollOver(now);
    const r = this.record(now);
    const total = r.bytesIn + r.bytesOut;
    const lifted = USAGE_CAP_ACTIONS.filter((a) => {
      const cap = this.o.caps[a];
      return cap !== undefined && total >= cap && !r.lifted.includes(a);
    });
    if (lifted.length > 0) {
      r.lifted.push(...lifted);
      this.revision++;
      this.pending.push({ type: "usage.resumed", at: now, iccid: this.sim, lifted });
    }
    return this.take();
  }

  /** The SIM in use this cycle. */
  currentRecord(now: number): Readonly<SimUsage> {
    this.rollOver(now);
    return this.record(now);
  }

  /** Every SIM's record (others' cycles as last counted), the one in use first. */
  records(): Array<{ iccid: string; usage: Readonly<SimUsage> }> {
    const all = [...this.sims].filter(([k, v]) => !isEmptyUnknown(k, v)).map(([iccid, usage]) => ({ iccid, usage }));
    return all.sort((a, b) => (a.iccid === this.current ? -1 : b.iccid === this.current ? 1 : a.iccid.localeCompare(b.iccid)));
  }

  /** A copy to save. */
  state(): UsageState {
    const sims: Record<string, SimUsage> = {};
    for (const [k, v] of this.sims) if (!isEmptyUnknown(k, v)) sims[k] = { ...v, reached: [...v.reached], lifted: [...v.lifted], previous: v.previous ? { ...v.previous } : null };
    return { version: 1, sims };
  }

  private record(now: number): SimUsage {
    let r = this.sims.get(this.current);
    if (!r) {
      const c = this.cycleOf(now);
      r = { cycleStart: c.start, cycleEnd: c.end, bytesIn: 0, bytesOut: 0, reached: [], lifted: [], previous: null };
      this.sims.set(this.current, r);
      this.revision++;
    }
    return r;
  }

  /**
   * The SIM in use moves to the cycle that holds `now`: past its end, a new
   * cycle (the old one kept as `previous`); still inside it but on other
   * boundaries (cycle_day or the zone changed, or the clock was set back),
   * the counts stay and the boundaries follow the config.
   */
  private rollOver(now: number): void {
    const had = this.sims.has(this.current);
    const r = this.record(now);
    const c = this.cycleOf(now);
    if (c.start === r.cycleStart && c.end === r.cycleEnd) {
      if (!had) this.pending.push({ type: "usage.cycle", at: now, iccid: this.sim, cycleStart: c.start, cycleEnd: c.end, previous: null });
      return;
    }
    this.revision++;
    if (now >= r.cycleEnd) {
      const previous: UsageCycleTotals = { cycleStart: r.cycleStart, cycleEnd: r.cycleEnd, bytesIn: r.bytesIn, bytesOut: r.bytesOut };
      Object.assign(r, { cycleStart: c.start, cycleEnd: c.end, bytesIn: 0, bytesOut: 0, reached: [], lifted: [], previous });
      this.pending.push({ type: "usage.cycle", at: now, iccid: this.sim, cycleStart: c.start, cycleEnd: c.end, previous });
      return;
    }
    r.cycleStart = c.start;
    r.cycleEnd = c.end;
  }

  /** Caps newly reached by the SIM in use (each reported once per cycle). */
  private crossings(now: number): void {
    const r = this.record(now);
    const total = r.bytesIn + r.bytesOut;
    for (const action of USAGE_CAP_ACTIONS) {
      const cap = this.o.caps[action];
      if (cap === undefined || total < cap || r.reached.includes(action)) continue;
      r.reached.push(action);
      this.revision++;
      this.pending.push({ type: "usage.cap", at: now, iccid: this.sim, action, capBytes: cap, bytesIn: r.bytesIn, bytesOut: r.bytesOut, cycleEnd: r.cycleEnd });
    }
  }

  private take(): UsageEvent[] {
    return this.pending.splice(0);
  }
}

/** The placeholder record of a SIM never identified that counted nothing: not worth showing or saving. */
function isEmptyUnknown(iccid: string, r: SimUsage): boolean {
  return iccid === UNKNOWN_SIM && r.bytesIn === 0 && r.bytesOut === 0 && r.previous === null;
}

/**
 * The network's time (issue 17, "modem time"): read from NITZ URCs, AT+QLTS
 * or the module clock (AT+CCLK?), shown with its offset to the system clock,
 * and, with time.set_system_clock, used to set the system clock of a gateway
 * without RTC (it boots in 1970 or at its image's build date) or one that is
 * far off.
 *
 * The parsing and the decision are pure (`parse*`, `decideClock`); the
 * service reads the modem on the supervisor's side channel, on a NITZ URC and
 * every time.poll_interval, and sets the clock through an injected setter
 * (libc clock_settime in the agent, a fake in tests).
 *
 * Which readings may set the clock: NITZ and AT+QLTS (the time the network
 * sent). AT+CCLK? is the module's own RTC, which runs free from 1980 (or
 * 2080: two-digit years) after a power loss unless NITZ set it; it is shown,
 * never used to set the system clock.
 */
import type { AtChannel } from "../at/channel.ts";
import { parseModemTime, parseZone, type ModemTime } from "../at/time-text.ts";
import type { NetworkTimeSource, TimeNetworkEvent, TimeSystemClockEvent } from "../core/agent-events.ts";
import { cause, type Cause } from "../core/cause.ts";
import { WakeTimer, type Scheduler, type WallClock } from "../core/clock.ts";
import { nullLogger, type Logger } from "../core/log.ts";

/** A system clock before this reads "unset" (the year is far behind), and network times before it are not believed. */
export const CLOCK_PLAUSIBLE_FROM = Date.UTC(2024, 0, 1);
/** Network times after this are not believed either (a module RTC at "80/01/06" reads as 2080). */
export const CLOCK_PLAUSIBLE_UNTIL = Date.UTC(2060, 0, 1);

export function plausible(utcMs: number): boolean {
  return utcMs >= CLOCK_PLAUSIBLE_FROM && utcMs < CLOCK_PLAUSIBLE_UNTIL;
}

/** `+QLTS: "2025/05/01,14:00:00+08,0"` (AT+QLTS=2: current local time and zone). `+QLTS: ""`: no NITZ yet. */
export function parseQlts(lines: readonly string[]): ModemTime | null {
  for (const l of lines) {
    const m = /^\+QLTS:\s*"([^"]*)"/.exec(l);
    if (!m) continue;
    // The trailing ",<dst>" is inside the quotes; the zone already includes daylight saving.
    const t = parseModemTime(m[1]!.replace(/,\d+$/, ""));
    return t && plausible(t.utcMs) ? t : null;
  }
  return null;
}

/** `+CCLK: "25/05/01,14:00:00+08"`. */
export function parseCclk(lines: readonly string[]): ModemTime | null {
  for (const l of lines) {
    const m = /^\+CCLK:\s*"([^"]*)"/.exec(l);
    if (!m) continue;
    const t = parseModemTime(m[1]!);
    return t && plausible(t.utcMs) ? t : null;
  }
  return null;
}

/**
 * A NITZ URC: `+CTZE: "+08",0,"2025/05/01,14:00:00"` (27.007 +CTZR=2: zone,
 * daylight saving, local time) carries the time; `+CTZV: +08` (+CTZR=1) only
 * the zone, so the time must then be read (AT+QLTS). Returns null for a line
 * that is no NITZ URC, `{ time: null }` for one without a usable time.
 */
export function parseNitzUrc(line: string): { time: ModemTime | null } | null {
  const e = /^\+CTZE:\s*([^,]+),\s*(\d+)(?:,\s*"([^"]*)")?/.exec(line);
  if (e) {
    const zone = parseZone(e[1]!);
    const t = zone !== null && e[3] ? parseModemTime(e[3], zone) : null;
    return { time: t && plausible(t.utcMs) ? t : null };
  }
  const v = /^\+CTZV:\s*(.*)$/.exec(line);
  if (v) {
    // Some firmware puts a whole time stamp here ("25/05/01,14:00:00+08").
    const t = parseModemTime(v[1]!.trim().replace(/,\d+$/, ""));
    return { time: t && plausible(t.utcMs) ? t : null };
  }
  return null;
}

export interface ClockDecision {
  /** System clock minus network time, ms. */
  offsetMs: number;
  /** Set the system clock to `to` (wall ms), or leave it. */
  set: { to: number; reason: "unset" | "far-off" } | null;
}

export interface ClockPolicy {
  setSystemClock: boolean;
  maxOffsetMs: number;
}

/**
 * Whether to set the system clock: only when allowed, only from a reading
 * that may set it (not the module RTC), and only when the clock is unset
 * (before CLOCK_PLAUSIBLE_FROM) or off by more than max_offset either way.
 */
export function decideClock(networkNow: number, wallNow: number, source: NetworkTimeSource, p: ClockPolicy): ClockDecision {
  const offsetMs = wallNow - networkNow;
  if (!p.setSystemClock || source === "cclk" || !plausible(networkNow)) return { offsetMs, set: null };
  if (wallNow < CLOCK_PLAUSIBLE_FROM) return { offsetMs, set: { to: networkNow, reason: "unset" } };
  if (Math.abs(offsetMs) > p.maxOffsetMs) return { offsetMs, set: { to: networkNow, reason: "far-off" } };
  return { offsetMs, set: null };
}

/** What /status shows of the network's time (the service's last reading). */
export interface NetworkTimeReading {
  source: NetworkTimeSource;
  networkTime: number;
  offsetMs: number;
  /** Agent time of the reading. */
  at: number;
}

export interface NetworkTimeDeps {
  scheduler: Scheduler & WallClock;
  /** The supervisor's side channel (control port, or the idle data port); null: not now. */
  channel: () => Promise<AtChannel | null>;
  settings: { set_system_clock: boolean; max_offset: number; poll_interval: number };
  /** Steps the system clock; returns null on success or the failure. */
  setClock: (wallMs: number) => Cause | null;
  emit: (e: TimeNetworkEvent | TimeSystemClockEvent) => void;
  log?: Logger;
}

/** Read soon after a NITZ URC that carried no time, and retry this soon when no channel was free. */
const SOON_MS = 2_000;
const RETRY_MS = 60_000;
const COMMAND_MS = 3_000;

export class NetworkTimeService {
  /** The next read or round ("wake at T"). */
  private readonly wake: WakeTimer;
  private running = false;
  private reading: Promise<void> | null = null;
  private readonly prepared = new WeakSet<AtChannel>();
  private lastFailure: string | null = null;
  last: NetworkTimeReading | null = null;
  private readonly log: Logger;

  constructor(private readonly d: NetworkTimeDeps) {
    this.log = d.log ?? nullLogger;
    this.wake = new WakeTimer(d.scheduler, () => {
      void this.readNow();
    });
  }

  start(): void {
    this.running = true;
    // The first reading as soon as the modem answers: a clock that is unset matters at once.
    this.arm(SOON_MS);
  }

  stop(): void {
    this.running = false;
    this.wake.disarm();
  }

  /** A URC from either port (the agent forwards modem.urc events). */
  onUrc(line: string): void {
    if (!this.running) return;
    const nitz = parseNitzUrc(line);
    if (!nitz) return;
    if (nitz.time) this.note("nitz", nitz.time, this.d.scheduler.now());
    else this.arm(SOON_MS);
  }

  /** Read the network's time now (AT+QLTS=2, else AT+CCLK?). Concurrent calls share one read. */
  readNow(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = null));
    return this.reading;
  }

  private arm(ms: number): void {
    if (!this.running) return;
    this.wake.arm(this.d.scheduler.now() + ms);
  }

  private async read(): Promise<void> {
    let next = this.d.settings.poll_interval;
    try {
      const ch = await this.d.channel();
      if (!ch) {
        next = RETRY_MS;
        return;
      }
      if (!this.prepared.has(ch)) {
        this.prepared.add(ch);
        // NITZ reports with the time (+CTZE); not stored in NVRAM, so sent on every port opened.
        await ch.command("AT+CTZR=2", COMMAND_MS);
      }
      const q = await ch.command("AT+QLTS=2", COMMAND_MS);
      const at = this.d.scheduler.now();
      const qlts = q.status === "ok" ? parseQlts(q.lines) : null;
      if (qlts) return this.note("qlts", qlts, at);
      const c = await ch.command("AT+CCLK?", COMMAND_MS);
      const cclk = c.status === "ok" ? parseCclk(c.lines) : null;
      if (cclk) this.note("cclk", cclk, this.d.scheduler.now());
      else if (q.status === "timeout" || c.status === "timeout" || c.status === "aborted") next = RETRY_MS;
    } catch (err) {
      this.log.debug("network time read failed", { error: String(err) });
      next = RETRY_MS;
    } finally {
      if (next > 0) this.arm(next);
    }
  }

  /** One reading taken at agent time `at`: offset, event, and the clock set when the policy says so. */
  private note(source: NetworkTimeSource, t: ModemTime, at: number): void {
    const s = this.d.scheduler;
    const networkNow = t.utcMs + (s.now() - at);
    const wallNow = s.wallNow();
    const d = decideClock(networkNow, wallNow, source, { setSystemClock: this.d.settings.set_system_clock, maxOffsetMs: this.d.settings.max_offset });
    this.last = { source, networkTime: networkNow, offsetMs: d.offsetMs, at: s.now() };
    this.d.emit({ type: "time.network", at: s.now(), source, networkTime: networkNow, offsetMs: d.offsetMs });
    if (!d.set) return;
    const failure = this.d.setClock(d.set.to);
    const key = failure ? (failure.detail ?? failure.code) : null;
    if (key !== null && key === this.lastFailure) return; // said once; a later success or another error is news
    this.lastFailure = key;
    this.d.emit({
      type: "time.system-clock",
      at: s.now(),
      result: failure ? "failed" : "set",
      reason: d.set.reason,
      from: wallNow,
      to: d.set.to,
      method: "clock_settime",
      cause: failure,
    });
    if (!failure) this.log.info(`system clock set from the network's time (${d.set.reason}): ${new Date(wallNow).toISOString()} → ${new Date(d.set.to).toISOString()}`);
  }
}

/** The failure of a clock setter as a named cause. */
export function clockSetFailure(detail: string): Cause {
  return cause("clock-set-failed", detail);
}

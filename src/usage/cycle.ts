/**
 * Billing cycles: a cycle starts at local midnight on `cycle_day` of each
 * month, in the configured time zone (or the host's), and runs to the next
 * such midnight. A cycle day past the end of a short month means its last day
 * (cycle_day 31: 28 or 29 February, 30 April), as carriers do. Pure: the
 * instant comes in, the boundaries go out; zone rules come from Intl.
 */

export interface Cycle {
  /** ms since the epoch: the first instant of the cycle. */
  start: number;
  /** ms since the epoch: the first instant of the next cycle. */
  end: number;
}

interface LocalDate {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? "";
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric", hourCycle: "h23" });
    formatters.set(key, f);
  }
  return f;
}

/** The calendar date at `at` in `timeZone` (undefined: the host's zone). */
export function localDate(at: number, timeZone?: string): LocalDate {
  let year = 0, month = 0, day = 0;
  for (const p of formatter(timeZone).formatToParts(new Date(at))) {
    if (p.type === "year") year = Number(p.value);
    else if (p.type === "month") month = Number(p.value);
    else if (p.type === "day") day = Number(p.value);
  }
  return { year, month, day };
}

const dateKey = (d: LocalDate) => d.year * 10_000 + d.month * 100 + d.day;

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * The first instant whose local date is `d`: local midnight, or the first
 * valid time after a midnight a DST change skipped. Zone offsets lie within
 * ±15 h, so the instant lies within 15 h of UTC midnight of that date; a
 * binary search over that window on "local date ≥ d" finds it to the ms.
 */
export function startOfLocalDay(d: LocalDate, timeZone?: string): number {
  const target = dateKey(d);
  const utcMidnight = Date.UTC(d.year, d.month - 1, d.day);
  let lo = utcMidnight - 15 * 3_600_000; // local date before d everywhere
  let hi = utcMidnight + 15 * 3_600_000; // local date d or later everywhere
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (dateKey(localDate(mid, timeZone)) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The cycle boundary in (year, month): cycle_day, or that month's last day when it is shorter. */
export function boundaryIn(year: number, month: number, cycleDay: number, timeZone?: string): number {
  return startOfLocalDay({ year, month, day: Math.min(cycleDay, daysInMonth(year, month)) }, timeZone);
}

function shift(year: number, month: number, by: number): { year: number; month: number } {
  const i = year * 12 + (month - 1) + by;
  return { year: Math.floor(i / 12), month: (i % 12) + 1 };
}

/** The cycle that holds `at`. */
export function cycleAt(at: number, cycleDay: number, timeZone?: string): Cycle {
  if (!(Number.isInteger(cycleDay) && cycleDay >= 1 && cycleDay <= 31)) throw new RangeError("cycle_day must be 1 to 31");
  const here = localDate(at, timeZone);
  const thisMonth = boundaryIn(here.year, here.month, cycleDay, timeZone);
  if (at >= thisMonth) {
    const n = shift(here.year, here.month, 1);
    return { start: thisMonth, end: boundaryIn(n.year, n.month, cycleDay, timeZone) };
  }
  const p = shift(here.year, here.month, -1);
  return { start: boundaryIn(p.year, p.month, cycleDay, timeZone), end: thisMonth };
}

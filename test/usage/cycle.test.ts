import { describe, expect, test } from "bun:test";
import { cycleAt, startOfLocalDay } from "../../src/usage/cycle.ts";

const iso = (ms: number) => new Date(ms).toISOString();
const cycle = (at: string, day: number, tz?: string) => {
  const c = cycleAt(Date.parse(at), day, tz);
  return [iso(c.start), iso(c.end)];
};

describe("billing cycle boundaries", () => {
  test("cycle_day 31 in February is the month's last day: the 28th, the 29th in a leap year", () => {
    // Mid-February 2025: the cycle began on 31 January and ends at the start of 28 February.
    expect(cycle("2025-02-15T12:00:00Z", 31, "UTC")).toEqual(["2025-01-31T00:00:00.000Z", "2025-02-28T00:00:00.000Z"]);
    // On the 28th the new cycle has begun, and it runs to 31 March.
    expect(cycle("2025-02-28T00:00:00Z", 31, "UTC")).toEqual(["2025-02-28T00:00:00.000Z", "2025-03-31T00:00:00.000Z"]);
    // 2024 is a leap year: the 29th.
    expect(cycle("2024-02-28T23:59:59Z", 31, "UTC")).toEqual(["2024-01-31T00:00:00.000Z", "2024-02-29T00:00:00.000Z"]);
    expect(cycle("2024-02-29T00:00:00Z", 31, "UTC")).toEqual(["2024-02-29T00:00:00.000Z", "2024-03-31T00:00:00.000Z"]);
    // A 30-day month: cycle_day 31 is the 30th of April.
    expect(cycle("2025-04-30T08:00:00Z", 31, "UTC")).toEqual(["2025-04-30T00:00:00.000Z", "2025-05-31T00:00:00.000Z"]);
  });

  test("the start is inclusive, the end exclusive: one ms before the boundary is the old cycle", () => {
    const b = Date.parse("2025-03-15T00:00:00Z");
    expect(cycleAt(b - 1, 15, "UTC").end).toBe(b);
    expect(cycleAt(b, 15, "UTC").start).toBe(b);
  });

  test("cycles across the year end", () => {
    expect(cycle("2025-01-02T00:00:00Z", 5, "UTC")).toEqual(["2024-12-05T00:00:00.000Z", "2025-01-05T00:00:00.000Z"]);
    expect(cycle("2024-12-31T00:00:00Z", 5, "UTC")).toEqual(["2024-12-05T00:00:00.000Z", "2025-01-05T00:00:00.000Z"]);
  });

  test("the boundary is local midnight in the configured zone, following its DST offset", () => {
    // Berlin is UTC+1 in winter, UTC+2 in summer: midnight is 23:00 or 22:00 UTC the day before.
    expect(cycle("2025-01-20T12:00:00Z", 1, "Europe/Berlin")).toEqual(["2024-12-31T23:00:00.000Z", "2025-01-31T23:00:00.000Z"]);
    expect(cycle("2025-07-20T12:00:00Z", 1, "Europe/Berlin")).toEqual(["2025-06-30T22:00:00.000Z", "2025-07-31T22:00:00.000Z"]);
    // A cycle spanning the switch to summer time (30 March 2025) is an hour shorter.
    const c = cycleAt(Date.parse("2025-03-20T12:00:00Z"), 15, "Europe/Berlin");
    expect([iso(c.start), iso(c.end)]).toEqual(["2025-03-14T23:00:00.000Z", "2025-04-14T22:00:00.000Z"]);
    // 22:30 UTC on 31 January is already 1 February in Berlin: the new cycle; in UTC it is not yet.
    expect(cycle("2025-01-31T23:30:00Z", 1, "Europe/Berlin")[0]).toBe("2025-01-31T23:00:00.000Z");
    expect(cycle("2025-01-31T23:30:00Z", 1, "UTC")[0]).toBe("2025-01-01T00:00:00.000Z");
    // East of UTC by more than 12 h still lands on the right day.
    expect(cycle("2025-06-10T00:00:00Z", 10, "Pacific/Kiritimati")[0]).toBe("2025-06-09T10:00:00.000Z");
  });

  test("a midnight that a DST change skips: the day starts at the first valid time (Santiago, 7 Sep 2025)", () => {
    // Chile moves from UTC-4 to UTC-3 at 00:00 local: the day begins at 01:00 local = 04:00 UTC.
    expect(iso(startOfLocalDay({ year: 2025, month: 9, day: 7 }, "America/Santiago"))).toBe("2025-09-07T04:00:00.000Z");
    expect(cycle("2025-09-07T12:00:00Z", 7, "America/Santiago")).toEqual(["2025-09-07T04:00:00.000Z", "2025-10-07T03:00:00.000Z"]);
  });

  test("a cycle day outside 1..31 is refused", () => {
    expect(() => cycleAt(0, 0)).toThrow(RangeError);
    expect(() => cycleAt(0, 32)).toThrow(RangeError);
  });
});

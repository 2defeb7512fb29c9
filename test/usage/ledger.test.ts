import { describe, expect, test } from "bun:test";
import { parseUsageState, UsageLedger, type UsageEvent } from "../../src/usage/ledger.ts";

const DAY = 86_400_000;
const t0 = Date.parse("2025-02-10T12:00:00Z");
const SIM_A = "89001012345678901234";
const SIM_B = "89001098765432109876";

function ledger(caps: { warn?: number; quiet?: number; stop?: number } = {}, saved: ReturnType<UsageLedger["state"]> | null = null) {
  return new UsageLedger({ cycleDay: 1, timeZone: "UTC", caps }, saved);
}
const types = (es: UsageEvent[]) => es.map((e) => (e.type === "usage.cap" ? `cap:${e.action}` : e.type));

describe("usage ledger", () => {
  test("counts per SIM; a SIM switch keeps each SIM's cycle apart", () => {
    const l = ledger();
    expect(types(l.setSim(SIM_A, t0))).toEqual(["usage.sim", "usage.cycle"]);
    l.count(1000, 200, t0 + 1);
    expect(types(l.setSim(SIM_B, t0 + 2))).toEqual(["usage.sim", "usage.cycle"]);
    l.count(50, 5, t0 + 3);
    expect(l.currentRecord(t0 + 3)).toMatchObject({ bytesIn: 50, bytesOut: 5 });
    l.setSim(SIM_A, t0 + 4);
    expect(l.currentRecord(t0 + 4)).toMatchObject({ bytesIn: 1000, bytesOut: 200 });
    expect(l.records().map((r) => [r.iccid, r.usage.bytesIn])).toEqual([[SIM_A, 1000], [SIM_B, 50]]);
    // A modem that stops answering AT+QCCID has not swapped its SIM.
    expect(l.setSim(null, t0 + 5)).toEqual([]);
    expect(l.sim).toBe(SIM_A);
  });

  test("a new cycle starts from zero and keeps the last one as previous", () => {
    const l = ledger();
    l.setSim(SIM_A, t0);
    l.count(700, 300, t0);
    const march = Date.parse("2025-03-01T00:00:00Z");
    expect(l.poll(march - 1)).toEqual([]);
    const ev = l.poll(march);
    expect(ev).toEqual([
      {
        type: "usage.cycle",
        at: march,
        iccid: SIM_A,
        cycleStart: march,
        cycleEnd: Date.parse("2025-04-01T00:00:00Z"),
        previous: { cycleStart: Date.parse("2025-02-01T00:00:00Z"), cycleEnd: march, bytesIn: 700, bytesOut: 300 },
      },
    ]);
    expect(l.currentRecord(march)).toMatchObject({ bytesIn: 0, bytesOut: 0, reached: [], lifted: [] });
  });

  test("a read at the boundary rolls over too, and its event is handed out by the next call, not lost", () => {
    const l = ledger();
    l.setSim(SIM_A, t0);
    l.count(1, 1, t0);
    const march = Date.parse("2025-03-01T00:00:00Z");
    expect(l.currentRecord(march).bytesIn).toBe(0);
    expect(types(l.poll(march + 1))).toEqual(["usage.cycle"]);
  });

  test("each cap is reported once per cycle, in + out against the cap", () => {
    const l = ledger({ warn: 1000, quiet: 2000, stop: 3000 });
    l.setSim(SIM_A, t0);
    expect(l.count(500, 499, t0)).toEqual([]);
    const warn = l.count(0, 1, t0 + 1);
    expect(warn).toEqual([{ type: "usage.cap", at: t0 + 1, iccid: SIM_A, action: "warn", capBytes: 1000, bytesIn: 500, bytesOut: 500, cycleEnd: Date.parse("2025-03-01T00:00:00Z") }]);
    expect(l.count(100, 0, t0 + 2)).toEqual([]);
    expect(l.enforced(t0 + 2)).toEqual({ quiet: false, stop: false });
    // One big step crosses two caps at once.
    expect(types(l.count(2000, 0, t0 + 3))).toEqual(["cap:quiet", "cap:stop"]);
    expect(l.enforced(t0 + 3)).toEqual({ quiet: true, stop: true });
    expect(l.holdUntil(t0 + 3)).toBe(Date.parse("2025-03-01T00:00:00Z"));
    // The next cycle lifts everything by itself.
    const march = Date.parse("2025-03-01T00:00:00Z");
    expect(l.enforced(march)).toEqual({ quiet: false, stop: false });
    expect(l.holdUntil(march)).toBeNull();
  });

  test("resume lifts the caps reached so far; a higher cap not yet reached still acts", () => {
    const l = ledger({ quiet: 1000, stop: 5000 });
    l.setSim(SIM_A, t0);
    l.count(1000, 0, t0);
    expect(l.enforced(t0).quiet).toBe(true);
    expect(l.resume(t0 + 1)).toEqual([{ type: "usage.resumed", at: t0 + 1, iccid: SIM_A, lifted: ["quiet"] }]);
    expect(l.enforced(t0 + 1)).toEqual({ quiet: false, stop: false });
    expect(l.resume(t0 + 2)).toEqual([]); // nothing more to lift
    expect(types(l.count(4000, 0, t0 + 3))).toEqual(["cap:stop"]);
    expect(l.enforced(t0 + 3)).toEqual({ quiet: false, stop: true });
    expect(l.resume(t0 + 4)).toEqual([{ type: "usage.resumed", at: t0 + 4, iccid: SIM_A, lifted: ["stop"] }]);
    expect(l.holdUntil(t0 + 4)).toBeNull();
  });

  test("caps are per SIM: switching to a SIM under the cap releases the hold; back to the full one holds again", () => {
    const l = ledger({ stop: 1000 });
    l.setSim(SIM_A, t0);
    l.count(1000, 0, t0);
    expect(l.holdUntil(t0)).not.toBeNull();
    l.setSim(SIM_B, t0 + 1);
    expect(l.holdUntil(t0 + 1)).toBeNull();
    // Back on A: the cap event is not repeated, the hold is.
    expect(types(l.setSim(SIM_A, t0 + 2))).toEqual(["usage.sim"]);
    expect(l.holdUntil(t0 + 2)).not.toBeNull();
  });

  test("state() round-trips through parseUsageState; a changed cycle_day moves the boundaries, not the counts", () => {
    const l = ledger({ stop: 10 });
    l.setSim(SIM_A, t0);
    l.count(20, 0, t0);
    l.resume(t0);
    const saved = parseUsageState(JSON.parse(JSON.stringify(l.state())));
    if (typeof saved === "string") throw new Error(saved);
    const again = new UsageLedger({ cycleDay: 5, timeZone: "UTC", caps: { stop: 10 } }, saved);
    again.setSim(SIM_A, t0 + DAY);
    expect(again.currentRecord(t0 + DAY)).toMatchObject({
      bytesIn: 20,
      lifted: ["stop"],
      cycleStart: Date.parse("2025-02-05T00:00:00Z"),
      cycleEnd: Date.parse("2025-03-05T00:00:00Z"),
    });
    expect(again.holdUntil(t0 + DAY)).toBeNull();
  });

  test("bad saved state is named, not half-loaded", () => {
    expect(parseUsageState(null)).toBe("not an object");
    expect(parseUsageState({ version: 2, sims: {} })).toBe("unknown version 2");
    expect(parseUsageState({ version: 1, sims: [] })).toBe("sims is not an object");
    expect(parseUsageState({ version: 1, sims: { x: { cycleStart: 5, cycleEnd: 1, bytesIn: 0, bytesOut: 0 } } })).toBe("sims.x: bad cycle or byte counts");
    expect(parseUsageState({ version: 1, sims: { x: { cycleStart: 1, cycleEnd: 5, bytesIn: -1, bytesOut: 0 } } })).toBe("sims.x: bad cycle or byte counts");
    // Unknown cap names in the lists are dropped, not trusted.
    const ok = parseUsageState({ version: 1, sims: { x: { cycleStart: 1, cycleEnd: 5, bytesIn: 1, bytesOut: 2, reached: ["stop", "explode"], lifted: "no" } } });
    expect(ok).toEqual({ version: 1, sims: { x: { cycleStart: 1, cycleEnd: 5, bytesIn: 1, bytesOut: 2, reached: ["stop"], lifted: [], previous: null } } });
  });

  test("traffic before the SIM is known is kept under 'unknown', an empty placeholder is not", () => {
    const l = ledger();
    l.currentRecord(t0);
    expect(l.records()).toEqual([]);
    expect(l.state().sims).toEqual({});
    l.count(5, 5, t0);
    expect(Object.keys(l.state().sims)).toEqual(["unknown"]);
  });
});

/** The network's time: parsing, the set-the-clock decision, and the service over the virtual modem under fake time. */
import { describe, expect, test } from "bun:test";
import { AtChannel } from "../../src/at/channel.ts";
import { formatModemTime, parseModemTime } from "../../src/at/time-text.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { EventBase } from "../../src/core/events.ts";
import { clockSetFailure, decideClock, NetworkTimeService, parseCclk, parseNitzUrc, parseQlts } from "../../src/modem/network-time.ts";
import { TestModem, runUntil } from "./harness.ts";

const T = Date.UTC(2025, 4, 1, 12, 0, 0);
const M = 60_000;

describe("time text", () => {
  test("local time and zone in quarter hours → UTC; two- and four-digit years", () => {
    expect(parseModemTime("25/05/01,14:00:00+08")).toEqual({ utcMs: T, zoneQuarters: 8 });
    expect(parseModemTime("2025/05/01,10:30:00-06")).toEqual({ utcMs: T, zoneQuarters: -6 });
    expect(parseModemTime("2025/05/01,14:00:00", 8)?.utcMs).toBe(T);
    expect(parseModemTime("25/02/30,00:00:00+00")).toBeNull();
    expect(parseModemTime("25/13/01,00:00:00+00")).toBeNull();
    expect(parseModemTime("garbage")).toBeNull();
    expect(formatModemTime(T, 8)).toBe("25/05/01,14:00:00+08");
    expect(formatModemTime(T, -6, true)).toBe("2025/05/01,10:30:00-06");
  });

  test("QLTS, CCLK and NITZ URCs; an unsynced module clock (1980/2080) is not believed", () => {
    expect(parseQlts(['+QLTS: "2025/05/01,14:00:00+08,0"'])?.utcMs).toBe(T);
    expect(parseQlts(['+QLTS: ""'])).toBeNull();
    expect(parseCclk(['+CCLK: "25/05/01,14:00:00+08"'])?.utcMs).toBe(T);
    expect(parseCclk(['+CCLK: "80/01/06,00:00:10+00"'])).toBeNull();
    expect(parseNitzUrc('+CTZE: "+08",0,"2025/05/01,14:00:00"')).toEqual({ time: { utcMs: T, zoneQuarters: 8 } });
    expect(parseNitzUrc("+CTZV: +08")).toEqual({ time: null });
    expect(parseNitzUrc("+CEREG: 1")).toBeNull();
  });

  test("decideClock: unset or far off sets the clock (from NITZ/QLTS only); within max_offset it does not", () => {
    const p = { setSystemClock: true, maxOffsetMs: 2 * M };
    expect(decideClock(T, 86_400_000, "qlts", p)).toEqual({ offsetMs: 86_400_000 - T, set: { to: T, reason: "unset" } });
    expect(decideClock(T, T + 3 * M, "nitz", p).set).toEqual({ to: T, reason: "far-off" });
    expect(decideClock(T, T - 3 * M, "nitz", p).set).toEqual({ to: T, reason: "far-off" });
    expect(decideClock(T, T + M, "nitz", p)).toEqual({ offsetMs: M, set: null });
    expect(decideClock(T, 86_400_000, "cclk", p).set).toBeNull();
    expect(decideClock(T, 86_400_000, "qlts", { ...p, setSystemClock: false }).set).toBeNull();
  });
});

async function rig(setSystemClock: boolean, setClock: (ms: number) => ReturnType<typeof clockSetFailure> | null) {
  const sched = new ManualScheduler(T);
  const modem = new TestModem(sched);
  const ch = new AtChannel(await modem.openPort(), sched);
  await ch.command("ATE0");
  const events: EventBase[] = [];
  const service = new NetworkTimeService({
    scheduler: sched,
    channel: async () => ch,
    settings: { set_system_clock: setSystemClock, max_offset: 2 * M, poll_interval: 60 * M },
    setClock,
    emit: (e) => void events.push(e),
  });
  ch.onUrc((u) => service.onUrc(u.line));
  return { sched, modem, ch, service, events, of: (t: string) => events.filter((e) => e.type === t) as (EventBase & Record<string, unknown>)[] };
}

describe("NetworkTimeService over the virtual modem (fake time)", () => {
  test("a gateway without RTC (clock in 1970) gets the network's time; agent time and waits do not move", async () => {
    const sets: number[] = [];
    const r = await rig(true, (ms) => {
      sets.push(ms);
      r.sched.setWall(ms); // what clock_settime does to the wall clock
      return null;
    });
    r.sched.setWall(Date.UTC(1970, 0, 1, 0, 5));
    let waited = 0;
    r.sched.setTimer(r.sched.now() + 10 * M, () => waited++);
    r.service.start();
    expect(await runUntil(r.sched, () => sets.length > 0, 30_000)).toBe(true);
    expect(Math.abs(sets[0]! - r.sched.now())).toBeLessThan(2_000); // the sim's network clock is its own time
    expect(r.of("time.network")[0]).toMatchObject({ source: "qlts" });
    expect(r.of("time.system-clock")[0]).toMatchObject({ result: "set", reason: "unset", method: "clock_settime" });
    // The step did not fire the 10-minute wait early.
    expect(waited).toBe(0);
    r.sched.advance(10 * M);
    expect(waited).toBe(1);
    // A NITZ URC later: the clock is right, nothing is set again.
    r.modem.core.sendNitz(r.sched.now());
    r.modem.pump();
    expect(await runUntil(r.sched, () => r.of("time.network").some((e) => e.source === "nitz"), 5_000)).toBe(true);
    expect(sets.length).toBe(1);
    r.service.stop();
    r.modem.stop();
  });

  test("off by more than max_offset: set; a failing setter is reported once, with its cause", async () => {
    let calls = 0;
    const r = await rig(true, () => {
      calls++;
      return clockSetFailure("clock_settime: EPERM");
    });
    r.sched.stepWall(10 * M);
    r.service.start();
    expect(await runUntil(r.sched, () => r.of("time.network").length >= 1, 30_000)).toBe(true);
    expect(r.of("time.network")[0]!.offsetMs).toBeGreaterThan(9 * M);
    await r.service.readNow();
    expect(calls).toBe(2);
    const failed = r.of("time.system-clock");
    expect(failed.length).toBe(1);
    expect(failed[0]).toMatchObject({ result: "failed", reason: "far-off", cause: { code: "clock-set-failed", detail: "clock_settime: EPERM" } });
    r.service.stop();
    r.modem.stop();
  });

  test("without NITZ the module clock is shown but never sets the system clock", async () => {
    const sets: number[] = [];
    const r = await rig(true, (ms) => (sets.push(ms), null));
    r.modem.core.sms.nitz = false;
    r.sched.stepWall(10 * M);
    r.service.start();
    expect(await runUntil(r.sched, () => r.modem.commands().includes("AT+CCLK?"), 30_000)).toBe(true);
    expect(r.modem.commands()).toContain("AT+QLTS=2");
    // The module clock reads 2080 without NITZ here: not believed, nothing reported, nothing set.
    expect(r.of("time.network")).toEqual([]);
    expect(sets).toEqual([]);
    r.service.stop();
    r.modem.stop();
  });
});

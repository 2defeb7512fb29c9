/**
 * modem.mux = "cmux" against a modem whose mux will not start, on fake time:
 * the supervisor (with the mux wiring of src/agent/mux.ts and the real
 * recovery ladder) names the cause right after the module's answer, without
 * the port-return retries a vanished port gets (60 s by default), and the
 * ladder treats it by its class: a refused AT+CMUX is an operator fault
 * (slow retries, never a reset); DM or no UA to SABM a module fault.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { wireMux } from "../../src/agent/mux.ts";
import type { RecoveryActionEvent, RecoveryStateEvent } from "../../src/core/agent-events.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { EventBase } from "../../src/core/events.ts";
import { nullLogger } from "../../src/core/log.ts";
import { RecoveryLadder } from "../../src/health/ladder.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { DEFAULT_TIMING } from "../../src/modem/types.ts";
import { createInProcessModem, type InProcessModem } from "../../src/sim/in-process.ts";
import { runUntil, testConfig, upAtOnce } from "../modem/harness.ts";

const M = 60_000;

interface Rig {
  sched: ManualScheduler;
  sim: InProcessModem;
  sup: ModemSupervisor;
  modemEvents: ModemEvent[];
  ladderEvents: (RecoveryActionEvent | RecoveryStateEvent)[];
  muxEvents: EventBase[];
  /** Plain port opens (each one a new attempt to enter the mux). */
  opens: number;
  /** `opens` when the first failure was reported (the ladder may act at once after it). */
  opensAtFailure: number | null;
  /** The module's mux state then: in mux mode, close-downs taken. */
  moduleAtFailure: { inMux: boolean; closedDown: number } | null;
}

let live: Rig[] = [];
afterEach(async () => {
  for (const r of live) {
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 30_000);
    await p;
    await r.sim.stop();
  }
  live = [];
});

function rig(scenarios: string[], recovery = ""): Rig {
  const sched = new ManualScheduler();
  const sim = createInProcessModem({ scheduler: sched, scenarios, booted: true });
  const config = testConfig(`[modem]\nport = "/dev/ttyS0"\ncontrol_port = "none"\nmux = "cmux"\n${recovery}`);
  const r: Rig = { sched, sim, sup: null as unknown as ModemSupervisor, modemEvents: [], ladderEvents: [], muxEvents: [], opens: 0, opensAtFailure: null, moduleAtFailure: null };
  const mux = wireMux(
    {
      openPort: async () => {
        r.opens++;
        return sim.reopen();
      },
      openControlPort: async () => null,
    },
    { config: () => config, scheduler: sched, log: nullLogger, emit: (e) => r.muxEvents.push(e), onFault: (c) => r.sup.linkLost(c) },
  );
  const ladder = new RecoveryLadder({ backoffMs: [0, 10 * M, 30 * M, 60 * M], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: recovery.includes("power_cycle"), reboot: false }, null, sched.now(), {
    emit: (e) => r.ladderEvents.push(e),
  });
  r.sup = new ModemSupervisor({
    config,
    scheduler: sched,
    openPort: mux.openPort,
    openControlPort: mux.openControlPort,
    policy: ladder,
    emit: (e) => {
      r.modemEvents.push(e);
      if (e.type === "modem.state" && e.cause && r.opensAtFailure === null) {
        r.opensAtFailure = r.opens;
        r.moduleAtFailure = { inMux: sim.modem.cmux?.inMux ?? false, closedDown: sim.modem.cmux?.stats.closedDown ?? 0 };
      }
    },
    createBearer: upAtOnce,
  });
  live.push(r);
  return r;
}

function failures(r: Rig): { code: string; at: number }[] {
  return r.modemEvents.filter((e) => e.type === "modem.state" && e.cause).map((e) => ({ code: (e as { cause: { code: string } }).cause.code, at: e.at }));
}

describe("a modem that refuses AT+CMUX (modem.mux = cmux)", () => {
  test("cmux-rejected is named at once, without the port-return retries", async () => {
    const r = rig(["cmux-reject"]);
    const t0 = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => failures(r).length > 0, 2 * DEFAULT_TIMING.portReturnTimeoutMs)).toBe(true);
    const first = failures(r)[0]!;
    expect(first.code).toBe("cmux-rejected");
    // One port open, one AT+CMUX, and the cause before even one port retry would have run.
    expect(r.opensAtFailure).toBe(1);
    expect(first.at - t0).toBeLessThan(DEFAULT_TIMING.portRetryMs);
    expect(r.sim.modem.cmux?.inMux).toBe(false);
  });

  test("the ladder treats it as an operator fault: blocked with slow retries, never a reset", async () => {
    const r = rig(["cmux-reject"]);
    r.sup.start();
    await runUntil(r.sched, () => failures(r).length > 0, 2 * DEFAULT_TIMING.portReturnTimeoutMs);
    const state = r.ladderEvents.filter((e): e is RecoveryStateEvent => e.type === "recovery.state").at(-1)!;
    expect(state.phase).toBe("blocked");
    expect(state.causeClass).toBe("operator");
    expect(state.nextActionAt! - failures(r)[0]!.at).toBe(M);
    // Four more refusals over the slow retries (1, 2, 4, 8 min): each one is cmux-rejected, none is followed by a reset.
    expect(await runUntil(r.sched, () => failures(r).length >= 5, 20 * M)).toBe(true);
    expect(failures(r).map((f) => f.code)).toEqual(Array(5).fill("cmux-rejected"));
    const gaps = failures(r).slice(1).map((f, i) => Math.round((f.at - failures(r)[i]!.at) / 1000));
    expect(gaps).toEqual([60, 120, 240, 480]);
    const rungs = r.ladderEvents.filter((e): e is RecoveryActionEvent => e.type === "recovery.action").map((e) => e.rung);
    expect(rungs.filter((x) => x !== "redial")).toEqual([]);
    expect(r.opens).toBe(5);
  });
});

describe("a modem whose mux does not start after AT+CMUX OK", () => {
  test("DM to SABM on the data DLCI: cmux-no-answer at once, one open, then the module rung (power cycle)", async () => {
    const r = rig(["cmux-dm"], '[recovery]\npower_cycle = "relay modem"\n');
    const t0 = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => failures(r).length > 0, 2 * DEFAULT_TIMING.portReturnTimeoutMs)).toBe(true);
    const first = failures(r)[0]!;
    expect(first.code).toBe("cmux-no-answer");
    const failed = r.modemEvents.find((e) => e.type === "modem.state" && e.cause) as { cause: { detail?: string } };
    expect(failed.cause.detail).toContain("DLCI 2: the module answered DM");
    expect(r.opensAtFailure).toBe(1);
    expect(first.at - t0).toBeLessThan(DEFAULT_TIMING.portRetryMs);
    // The session that did start was closed down: the module is back in command mode.
    expect(r.moduleAtFailure).toEqual({ inMux: false, closedDown: 1 });
    const state = r.ladderEvents.filter((e): e is RecoveryStateEvent => e.type === "recovery.state").at(-1)!;
    expect(state.causeClass).toBe("module");
    const rungs = r.ladderEvents.filter((e): e is RecoveryActionEvent => e.type === "recovery.action").map((e) => e.rung);
    expect(rungs[0]).toBe("power-cycle");
  });

  test("no UA to SABM: cmux-no-answer after N2 retries of T1, one open", async () => {
    const r = rig(["cmux-no-ua"]);
    const t0 = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => failures(r).length > 0, 2 * DEFAULT_TIMING.portReturnTimeoutMs)).toBe(true);
    const first = failures(r)[0]!;
    expect(first.code).toBe("cmux-no-answer");
    expect(r.opensAtFailure).toBe(1);
    // T1 × (N2 + 1) = 400 ms of SABMs, not the 60 s port-return wait.
    expect(first.at - t0).toBeLessThan(DEFAULT_TIMING.portRetryMs);
  });
});

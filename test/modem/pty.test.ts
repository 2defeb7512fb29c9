/**
 * The supervisor over a real pseudo-terminal: the virtual modem drives the pty
 * master, the supervisor opens the slave like a modem tty. Real time (bytes
 * cross the kernel), with the modem's delays scaled down so each test takes
 * well under a second of modem time.
 */
import type { SupervisorTiming } from "../../src/modem/supervisor.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { RealScheduler } from "../../src/core/clock.ts";
import type { Cause } from "../../src/core/cause.ts";
import { AlwaysRedial, type RecoveryDecision } from "../../src/core/recovery-policy.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { pppBearerFactory, type PppBearer } from "../../src/bearer/ppp.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";
import { openSerialPipe } from "../../src/serial/port.ts";
import { VirtualModem } from "../../src/sim/virtual-modem.ts";
import { testConfig } from "./harness.ts";

class Recorder extends AlwaysRedial {
  failures: Cause[] = [];
  override onBringUpFailure(c: Cause, now: number): RecoveryDecision {
    this.failures.push(c);
    return super.onBringUpFailure(c, now);
  }
}

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(5);
  return cond();
}

function rig(scenarios: string[], timing: Partial<SupervisorTiming> = {}) {
  const sched = new RealScheduler();
  const pair: PtyPair = openPtyPair();
  const modem = new VirtualModem({ scheduler: sched, scenarios, timeScale: 0.02, booted: true });
  modem.attach(ptyMasterPipe(pair));
  const config = testConfig('[auth]\nmethod = "auto"\nusername = "user"\npassword = "pass"\n');
  const events: ModemEvent[] = [];
  const policy = new Recorder(200);
  const sup = new ModemSupervisor<PppBearer>({
    config,
    scheduler: sched,
    openPort: () => openSerialPipe(pair.path, { lock: false }),
    policy,
    emit: (e) => events.push(e),
    createBearer: pppBearerFactory({ config, scheduler: sched }),
    timing: { escapeGuardMs: 50, ...timing },
  });
  cleanups.push(async () => {
    await sup.stop();
    modem.stop();
    pair.close();
    expect(sched.pendingCount()).toBe(0);
  });
  return { sched, pair, modem, sup, events, policy };
}

describe("supervisor over a real pty", () => {
  test("healthy: connected with real PPP; stop() hangs up and AT answers again", async () => {
    const r = rig(["healthy"]);
    r.sup.start();
    expect(await until(() => r.sup.state === "connected", 10_000)).toBe(true);
    expect(r.events.some((e) => e.type === "ppp.up" && e.ipv4 !== null)).toBe(true);
    await r.sup.stop();
    expect(r.sup.state).toBe("stopped");
    const hang = r.events.find((e) => e.type === "modem.hangup") as { method: string; verified: boolean } | undefined;
    expect(hang?.verified).toBe(true);
    // Like a Quectel module, the modem drops the call with NO CARRIER after our LCP Terminate.
    expect(hang?.method).toBe("no-carrier");
    expect(r.modem.core.modeState).toBe("command");
  });

  test("a peer that ignores LCP Terminate: no DTR on a pty (ENOTTY), so stop() leaves data mode with +++ and ATH", async () => {
    const r = rig(["dead-peer"], { bearerStopTimeoutMs: 300 });
    r.sup.start();
    expect(await until(() => r.sup.state === "connected", 10_000)).toBe(true);
    await r.sup.stop();
    const hang = r.events.find((e) => e.type === "modem.hangup") as { method: string; verified: boolean } | undefined;
    expect(hang?.method).toBe("escape");
    expect(hang?.verified).toBe(true);
    expect(r.modem.core.modeState).toBe("command");
  });

  test("sim-missing over the pty ends in the named cause", async () => {
    const r = rig(["sim-missing"]);
    r.sup.start();
    expect(await until(() => r.policy.failures.length > 0, 10_000)).toBe(true);
    expect(r.policy.failures[0]!.code).toBe("sim-missing");
  });

  test("garbage and URC storms on the tty do not stop the bring-up", async () => {
    const r = rig(["garbage:0.5"]);
    r.sup.start();
    expect(await until(() => r.sup.state === "connected", 10_000)).toBe(true);
  });
});

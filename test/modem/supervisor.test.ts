import { afterEach, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause, type Cause, type CauseCode } from "../../src/core/cause.ts";
import { AlwaysRedial, type RecoveryDecision, type RecoveryPolicy } from "../../src/core/recovery-policy.ts";
import type { RecoveryRung } from "../../src/core/agent-events.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { ModemSupervisor, type SupervisorDeps } from "../../src/modem/supervisor.ts";
import { RecoveryLadder } from "../../src/health/ladder.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { fakePppBearer, HEALTHY_RULES, runUntil, ScriptedModem, testConfig, TestModem, type ScriptRule, type TestModemOptions, upAtOnce } from "./harness.ts";

/** Records every report and answers with a scripted action. */
class RecordingPolicy implements RecoveryPolicy {
  failures: Cause[] = [];
  lost: Cause[] = [];
  backoffs: number[] = [];
  actions: RecoveryRung[] = [];
  connected = 0;
  undelivered: RecoveryRung[] = [];
  configChanges = 0;
  constructor(
    private readonly next: (n: number) => RecoveryRung = () => "redial",
    private readonly pauseMs = 1000,
    private readonly watchRegistration = false,
  ) {}
  onBringUpFailure(c: Cause, now: number): RecoveryDecision {
    this.failures.push(c);
    return { action: this.next(this.failures.length), notBefore: now + this.pauseMs, reason: c.code, watchRegistration: this.watchRegistration };
  }
  onLinkLost(c: Cause, now: number): RecoveryDecision {
    this.lost.push(c);
    return { action: "redial", notBefore: now + this.pauseMs, reason: c.code };
  }
  onNetworkBackoff(until: number): RecoveryDecision {
    this.backoffs.push(until);
    return { action: "redial", notBefore: until, reason: "backoff" };
  }
  /** Which of the actions were operator/maintenance requests (reported as forced by the ladder). */
  forced: boolean[] = [];
  onActionStarted(a: RecoveryRung, _now: number, forced: boolean): void {
    this.actions.push(a);
    this.forced.push(forced);
  }
  onActionUndelivered(a: RecoveryRung): void {
    this.undelivered.push(a);
  }
  onConnected(): void {
    this.connected++;
  }
  onConfigChanged(): void {
    this.configChanges++;
  }
}

interface Rig {
  sched: ManualScheduler;
  modem: { stop(): void };
  sup: ModemSupervisor;
  events: ModemEvent[];
  policy: RecordingPolicy;
  states: () => string[];
}

let live: Rig[] = [];
afterEach(async () => {
  for (const r of live) {
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 30_000);
    await p;
    r.modem.stop();
  }
  live = [];
});

type RigOptions = TestModemOptions & { toml?: string; policy?: RecordingPolicy; deps?: Partial<SupervisorDeps> };

function rig(opts: RigOptions = {}): Rig & { modem: TestModem } {
  const sched = new ManualScheduler();
  const modem = new TestModem(sched, opts);
  return build(sched, modem, modem.openPort, opts) as Rig & { modem: TestModem };
}

/** A rig on a scripted modem: `rules` first, then the healthy defaults. */
function scripted(rules: ScriptRule[], opts: RigOptions = {}): Rig & { modem: ScriptedModem } {
  const sched = new ManualScheduler();
  const modem = new ScriptedModem(sched, [...rules, ...HEALTHY_RULES]);
  return build(sched, modem, modem.openPort, opts) as Rig & { modem: ScriptedModem };
}

function build(sched: ManualScheduler, modem: { stop(): void }, openPort: () => Promise<BytePipe>, opts: RigOptions): Rig {
  const events: ModemEvent[] = [];
  const policy = opts.policy ?? new RecordingPolicy();
  const sup = new ModemSupervisor({
    config: testConfig(opts.toml),
    scheduler: sched,
    openPort,
    policy,
    emit: (e) => events.push(e),
    createBearer: fakePppBearer,
    ...opts.deps,
  });
  const r: Rig = {
    sched,
    modem,
    sup,
    events,
    policy,
    states: () => events.filter((e) => e.type === "modem.state").map((e) => (e as { state: string }).state),
  };
  live.push(r);
  return r;
}

async function firstFailure(r: Rig, maxMs: number): Promise<CauseCode | undefined> {
  await runUntil(r.sched, () => r.policy.failures.length > 0, maxMs);
  return r.policy.failures[0]?.code;
}

describe("bring-up against the virtual modem core", () => {
  test("healthy: the vendor's order of steps, every state, connected", async () => {
    const r = rig();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(r.states()).toEqual(["starting", "syncing", "sim", "registering", "attaching", "dialing", "negotiating", "connected"]);
    const cmds = r.modem.commands();
    const idx = (c: string) => cmds.findIndex((x) => x.toUpperCase().startsWith(c));
    for (const c of ["ATE0", "AT+CMEE=2", "AT&D2", "ATI", "AT+CPIN?", "AT+CEREG?", "AT+CGATT=1", "AT+CGATT?", "AT+CGDCONT=1", "ATD*99#"]) {
      expect(idx(c)).toBeGreaterThanOrEqual(0);
    }
    expect(idx("ATE0")).toBeLessThan(idx("AT+CPIN?"));
    expect(idx("AT+CPIN?")).toBeLessThan(idx("AT+CEREG?"));
    expect(idx("AT+CEREG?")).toBeLessThan(idx("AT+CGATT=1"));
    expect(cmds.lastIndexOf("AT+CGATT?")).toBeLessThan(idx("ATD*99#"));
    expect(cmds.some((c) => c.startsWith("AT+IPR"))).toBe(false);
    const id = r.events.find((e) => e.type === "modem.identity") as { model: string; profile: string; imei: string } | undefined;
    expect(id?.profile).toBe("quectel-bg96");
    expect(id?.imei).toMatch(/^\d{15}$/);
    expect(r.events.some((e) => e.type === "modem.identity" && e.imsi !== null && e.iccid !== null)).toBe(true);
    expect(r.events.some((e) => e.type === "modem.registration" && e.stat === 1)).toBe(true);
    expect(r.events.some((e) => e.type === "modem.signal" && e.rssi !== null)).toBe(true);
    expect(r.events.some((e) => e.type === "modem.dial" && e.result === "connect")).toBe(true);
    expect(r.events.some((e) => e.type === "ppp.up")).toBe(true);
    expect(r.policy.connected).toBe(1);
    expect(r.sup.bearer?.kind).toBe("fake-ppp");
  });

  test("AT+IPR only when modem.set_baud", async () => {
    const r = rig({ toml: "[modem]\nset_baud = true\nbaud = 115200\n" });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(r.modem.commands().some((c) => c.startsWith("AT+IPR=115200"))).toBe(true);
  });

  test("echo is on at start (the modem echoes until ATE0) and the bring-up still works", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    expect(r.sup.state).toBe("connected");
    expect(r.sup.atChannel!.stats.echoes).toBeGreaterThan(0);
  });

  test("stop() hangs up cleanly: PPP terminate, back in command mode, verified with AT", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 30_000);
    await p;
    expect(r.sup.state).toBe("stopped");
    const hangup = r.events.find((e) => e.type === "modem.hangup") as { method: string; verified: boolean } | undefined;
    expect(hangup?.verified).toBe(true);
    expect(hangup?.method).toBe("no-carrier");
    expect(r.events.some((e) => e.type === "ppp.down")).toBe(true);
    expect(r.sched.pendingCount()).toBeLessThanOrEqual(1); // at most the modem core's own timer
  });

  test("a modem still in data mode from an earlier run is brought back with +++ and ATH", async () => {
    const sched = new ManualScheduler();
    const modem = new TestModem(sched, {});
    await runUntil(sched, () => modem.core.registrationStat === 1, 30_000);
    const { AtChannel } = await import("../../src/at/channel.ts");
    const old = await modem.openPort();
    // an earlier agent dialled and died; its port had no DTR wire
    (old as { setLines?: unknown }).setLines = undefined;
    const prev = new AtChannel(old, sched);
    const dial = prev.command("ATD*99#", 60_000);
    await runUntil(sched, () => prev.mode === "data", 10_000);
    expect((await dial).status).toBe("connect");
    prev.detach();
    expect(modem.core.modeState).toBe("data");
    const r = build(sched, modem, async () => {
      const p = await modem.openPort();
      (p as { setLines?: unknown }).setLines = undefined;
      return p;
    }, {});
    r.sup.start();
    expect(await runUntil(sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(modem.received.join("")).toContain("+++");
    expect(r.policy.failures).toEqual([]);
  });

  test("start from a cold modem: waits through boot (RDY) with AT every 100 ms", async () => {
    const r = rig({ booted: false });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
  });
});

describe("every cause the modem layer reaches", () => {
  test("sim-missing", async () => {
    const r = rig({ scenarios: ["sim-missing"] });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-missing");
    const waiting = r.events.find((e) => e.type === "modem.state" && e.state === "waiting") as { cause: Cause } | undefined;
    expect(waiting?.cause.code).toBe("sim-missing");
    expect(waiting?.cause.hint).toContain("SIM");
  });

  test("sim-pin-required without modem.pin", async () => {
    const r = rig({ scenarios: ["sim-pin"] });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-pin-required");
    expect(r.modem.commands().some((c) => c.startsWith("AT+CPIN="))).toBe(false);
  });

  test("the right PIN unlocks the SIM and the link comes up; the PIN is never in events", async () => {
    const r = rig({ scenarios: ["sim-pin:4321"], toml: '[modem]\npin = "4321"\n' });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(JSON.stringify(r.events)).not.toContain("4321");
  });

  test("sim-pin-wrong is never retried (a retry brings the PUK lock closer)", async () => {
    const r = rig({ scenarios: ["sim-pin:4321"], toml: '[modem]\npin = "1111"\n' });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-pin-wrong");
    // several more bring-up attempts: the PIN is sent exactly once
    await runUntil(r.sched, () => r.policy.failures.length >= 4, 120_000);
    expect(r.policy.failures.map((f) => f.code)).toEqual(["sim-pin-wrong", "sim-pin-wrong", "sim-pin-wrong", "sim-pin-wrong"]);
    expect(r.modem.commands().filter((c) => c.startsWith("AT+CPIN=")).length).toBe(1);
    expect(r.modem.core.isHung).toBe(false);
  });

  test("a PIN-locked SIM is unlocked again after the module rebooted on its own (the SIM asks at every power-up)", async () => {
    const r = rig({ scenarios: ["sim-pin:4321"], toml: '[modem]\npin = "4321"\n' });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    // A brown-out: the module reboots without being asked; health monitoring then declares the link dead.
    r.modem.core.powerCycle(r.sched.now());
    r.modem.pump();
    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => r.policy.connected >= 2 || r.policy.failures.length > 0, 200_000)).toBe(true);
    expect(r.policy.failures.map((f) => f.code)).toEqual([]);
    expect(r.policy.connected).toBe(2);
    expect(r.modem.commands().filter((c) => c.startsWith("AT+CPIN=")).length).toBe(2);
  });

  test("a corrected modem.pin (SIGHUP reload) is tried; the rejected one never again", async () => {
    const r = rig({ scenarios: ["sim-pin:4321"], toml: '[modem]\npin = "1111"\n' });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-pin-wrong");
    await runUntil(r.sched, () => r.policy.failures.length >= 2, 60_000);
    // The agent's reload assigns the new config into the same object the supervisor reads.
    (r.sup as unknown as { deps: SupervisorDeps }).deps.config.modem.pin = "4321";
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    const sent = r.modem.received.join("").match(/AT\+CPIN="\d+"/g);
    expect(sent).toEqual(['AT+CPIN="1111"', 'AT+CPIN="4321"']);
  });

  test("sim-puk-required", async () => {
    const r = scripted([[/^AT\+CPIN\?$/, "+CPIN: SIM PUK\nOK"]], { toml: '[modem]\npin = "1111"\n' });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-puk-required");
    expect(r.modem.commands.some((c) => c.startsWith("AT+CPIN="))).toBe(false);
  });

  test("sim-not-ready when +CPIN? never reads READY", async () => {
    const r = scripted([[/^AT\+CPIN\?$/, "+CME ERROR: SIM busy"]]);
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("sim-not-ready");
  });

  test("registration-denied (stat 3) is a cause, not something to hammer", async () => {
    const r = rig({ scenarios: ["registration-denied"] });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("registration-denied");
    expect(r.modem.commands().some((c) => c.startsWith("ATD"))).toBe(false);
    expect(r.events.some((e) => e.type === "modem.registration" && e.status === "denied")).toBe(true);
  });

  test("not-registered after the registration limit (fake time)", async () => {
    const r = rig({ scenarios: ["slow-registration:600"] });
    const t0 = r.sched.now();
    r.sup.start();
    expect(await firstFailure(r, 400_000)).toBe("not-registered");
    expect(r.sched.now() - t0).toBeGreaterThanOrEqual(180_000);
  });

  test("network-backoff: the policy is told, the supervisor waits it out, then connects", async () => {
    const r = rig({ scenarios: ["network-backoff:60"] });
    const t0 = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 300_000)).toBe(true);
    expect(r.policy.backoffs.length).toBe(1);
    expect(r.policy.backoffs[0]! - t0).toBeGreaterThanOrEqual(55_000);
    expect(r.policy.failures.length).toBe(0);
    const w = r.events.find((e) => e.type === "modem.state" && e.state === "waiting") as { cause: Cause } | undefined;
    expect(w?.cause.code).toBe("network-backoff");
  });

  test("not-attached when AT+CGATT? never reads 1", async () => {
    const r = scripted([[/^AT\+CGATT\?$/, "+CGATT: 0\nOK"]]);
    r.sup.start();
    expect(await firstFailure(r, 300_000)).toBe("not-attached");
    expect(r.modem.commands.some((c) => c.startsWith("ATD"))).toBe(false);
  });

  test("context-failed when AT+CGDCONT is refused", async () => {
    const r = scripted([[/^AT\+CGDCONT=/, "+CME ERROR: operation not allowed"]]);
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("context-failed");
  });

  test("init-failed names the failing modem.init command", async () => {
    const r = rig({ toml: '[modem]\ninit = ["AT+QCFG=\\"band\\",0,80000,80000", "AT+BOGUS"]\n' });
    r.sup.start();
    const code = await firstFailure(r, 60_000);
    expect(code).toBe("init-failed");
    expect(r.policy.failures[0]!.detail).toContain("AT+BOGUS");
  });

  test("a modem.init command carrying credentials (AT+CGAUTH) never shows them in a failure, event or cause", async () => {
    // auth.method = "none": the modem does the network auth, so the password is not a registered secret.
    const r = scripted([[/^AT\+CGAUTH=/, "ERROR"]], { toml: '[modem]\ninit = ["AT+CGAUTH=1,1,\\"user\\",\\"Net;Pw-9\\""]\n' });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("init-failed");
    expect(r.policy.failures[0]!.detail).toContain("AT+CGAUTH=");
    expect(r.events.some((e) => e.type === "modem.command-failed")).toBe(true);
    const shown = JSON.stringify([r.policy.failures, r.events]);
    expect(shown).not.toContain("Net;Pw-9");
    expect(shown).not.toContain("Pw-9");
  });

  test("at-error when a required sync command fails", async () => {
    const r = scripted([[/^AT\+CMEE=2$/, "ERROR"]]);
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("at-error");
    expect(r.events.some((e) => e.type === "modem.command-failed" && e.command === "AT+CMEE=2")).toBe(true);
  });

  test("at-timeout when one command goes unanswered but AT still answers", async () => {
    const r = scripted([[/^AT\+CGDCONT=/, null]]);
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("at-timeout");
  });

  for (const [answer, code] of [
    ["NO CARRIER", "no-carrier"],
    ["BUSY", "busy"],
    ["NO ANSWER", "no-answer"],
    ["NO DIALTONE", "no-dialtone"],
    ["ERROR", "dial-failed"],
  ] as const) {
    test(`${code} from the dial`, async () => {
      const r = scripted([[/^ATD/, answer]]);
      r.sup.start();
      expect(await firstFailure(r, 120_000)).toBe(code);
      const dial = r.events.find((e) => e.type === "modem.dial") as { result: string; cause: Cause } | undefined;
      expect(dial?.result).toBe("failed");
      expect(dial?.cause.code).toBe(code);
    });
  }

  test("modem-hung: a hung modem trips the vendor's 60 s limit in fake time", async () => {
    const r = rig({ scenarios: ["hang:after=14"], policy: new RecordingPolicy(() => "module-reset", 1000) });
    const t0 = r.sched.now();
    r.sup.start();
    expect(await firstFailure(r, 300_000)).toBe("modem-hung");
    expect(r.sched.now() - t0).toBeGreaterThanOrEqual(60_000);
    expect(r.sched.now() - t0).toBeLessThan(70_000);
    // The policy's module reset cannot reach a module that does not answer AT: it is reported
    // undelivered (so the policy's next reset is the hardware one) and AT+CFUN=1,1 never goes out.
    await runUntil(r.sched, () => r.policy.undelivered.length > 0, 10_000);
    expect(r.policy.actions[0]).toBe("module-reset");
    expect(r.policy.undelivered).toEqual(["module-reset"]);
    expect(r.policy.failures[1]?.code).toBe("reset-undelivered");
    expect(r.modem.received.join("")).not.toContain("AT+CFUN=1,1");
  });

  test("modem-hung at start: a modem that never answers AT (escape tried once) fails after 60 s, not before", async () => {
    const r = scripted([[/.*/, null]]);
    const t0 = r.sched.now();
    r.sup.start();
    expect(await firstFailure(r, 120_000)).toBe("modem-hung");
    expect(r.sched.now() - t0).toBeGreaterThanOrEqual(60_000);
    expect(r.sched.now() - t0).toBeLessThan(61_000);
    expect(r.modem.commands.filter((c) => c === "+++ATH").length).toBe(1); // "+++" has no CR: it reaches this line reader glued to ATH
  });

  test("port-vanished when the port goes away and does not come back", async () => {
    const r = rig({ scenarios: ["slow-registration:30"] });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "registering", 60_000);
    r.modem.present = false;
    r.modem.stop();
    expect(await firstFailure(r, 60_000)).toBe("port-vanished");
    // the next attempt tries to reopen for 60 s, then names the same cause
    await runUntil(r.sched, () => r.policy.failures.length >= 2, 200_000);
    expect(r.policy.failures[1]!.code).toBe("port-vanished");
  });

  test("lcp-timeout when PPP never comes up after CONNECT (PPP causes pass through)", async () => {
    const r = scripted([]);
    r.sup.start();
    expect(await firstFailure(r, 200_000)).toBe("lcp-timeout");
  });

  test("auth-rejected and ipcp-no-address from PPP are passed through", async () => {
    const a = rig({ auth: "reject" });
    a.sup.start();
    expect(await firstFailure(a, 60_000)).toBe("auth-rejected");
    const b = rig({ noIp: true });
    b.sup.start();
    expect(await firstFailure(b, 60_000)).toBe("ipcp-no-address");
  });

  test("carrier-lost: the call drops with NO CARRIER while connected; redialled", async () => {
    const r = rig({ scenarios: ["drop-after:30"] });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    await runUntil(r.sched, () => r.policy.lost.length > 0, 60_000);
    expect(r.policy.lost[0]!.code).toBe("carrier-lost");
    expect(r.events.some((e) => e.type === "ppp.down" && e.cause?.code === "carrier-lost")).toBe(true);
    expect(await runUntil(r.sched, () => r.policy.connected === 2, 60_000)).toBe(true);
  });
});

describe("field reports", () => {
  test("dial-before-attach: the supervisor attaches and waits for +CGATT: 1, so the call is placed attached and connects", async () => {
    const r = rig({ scenarios: ["dial-before-attach"] });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 200_000)).toBe(true);
    const ev = r.modem.events;
    const attachedAt = ev.findIndex((e) => e.type === "sim.attach" && e.attached);
    const dialAt = ev.findIndex((e) => e.type === "sim.command" && e.line.startsWith("ATD"));
    expect(attachedAt).toBeGreaterThanOrEqual(0);
    expect(attachedAt).toBeLessThan(dialAt);
    expect(r.policy.failures).toEqual([]);
  });

  test("dial-before-attach without the attach wait would end in terminated-after-auth (the stand-in PPP is honest)", async () => {
    const r = rig({ scenarios: ["dial-before-attach"], toml: "" });
    // Place a call by hand before the supervisor runs, as a naive chat script would.
    await runUntil(r.sched, () => r.modem.core.registrationStat === 1, 30_000);
    const pipe = await r.modem.openPort();
    const { AtChannel } = await import("../../src/at/channel.ts");
    const ch = new AtChannel(pipe, r.sched);
    const p = ch.command("ATD*99#", 60_000);
    await runUntil(r.sched, () => ch.mode === "data", 10_000);
    expect((await p).status).toBe("connect");
    let down: Cause | null = null;
    fakePppBearer(ch.dataPipe!, { up: () => {}, down: (c) => (down = c) }).start();
    await runUntil(r.sched, () => down !== null, 10_000);
    expect(down!.code).toBe("terminated-after-auth");
    ch.detach();
    await pipe.close();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 200_000)).toBe(true);
  });

  test("URC storms and garbage between commands do not break a command", async () => {
    const r = rig({ scenarios: ["garbage:1"] });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 120_000)).toBe(true);
    expect(r.modem.events.some((e) => e.type === "sim.garbage")).toBe(true);
    expect(r.sup.atChannel!.stats.garbageBytes + r.sup.atChannel!.stats.urcs).toBeGreaterThan(0);
  });

  test("a stray ERROR landing on a required command costs one retry, not the bring-up", async () => {
    let n = 0;
    const r = scripted([[/^ATE0$/, () => (n++ === 0 ? "ERROR" : "OK")]]);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "negotiating", 60_000)).toBe(true);
    expect(n).toBe(2);
    expect(r.policy.failures).toEqual([]);
  });

  test("a URC and ERROR spam right after reset on a scripted modem: each command still gets its own answer", async () => {
    const r = scripted([]);
    let storms = 0;
    r.modem.rules.unshift([
      /^AT\+CPIN\?$/,
      () => {
        // storm injected right before the answer
        storms++;
        r.modem.inject("\r\n+CEREG: 2\r\n+QIND: \"csq\",31,99\r\n\x00\xff\xfe\r\n+CGEV: ME DETACH\r\nRDY\r\n");
        // ERROR spam between commands (nothing in flight yet when it arrives)
        r.sched.setTimer(r.sched.now() + 20, () => r.modem.inject("\r\nERROR\r\n\r\nERROR\r\n"));
        return "+CPIN: READY\nOK";
      },
    ]);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "negotiating", 60_000)).toBe(true);
    expect(storms).toBeGreaterThan(0);
    expect(r.policy.failures).toEqual([]);
  });
});

describe("recovery actions and operator requests", () => {
  test("radio-cycle: AT+CFUN=0 then AT+CFUN=1, then registration again", async () => {
    const r = rig({ scenarios: ["registration-denied"], policy: new RecordingPolicy(() => "radio-cycle") });
    r.sup.start();
    await runUntil(r.sched, () => r.policy.actions.length > 0 && r.policy.failures.length >= 2, 120_000);
    const cmds = r.modem.commands();
    const off = cmds.indexOf("AT+CFUN=0");
    expect(off).toBeGreaterThan(0);
    expect(cmds.indexOf("AT+CFUN=1")).toBeGreaterThan(off);
    expect(r.states()).toContain("recovering");
  });

  test("module-reset with a port that vanishes and returns: reopened, RDY awaited, connected", async () => {
    const r = rig({ scenarios: ["port-vanish:5"], policy: new RecordingPolicy(() => "module-reset") });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    r.sup.requestModemReset();
    await runUntil(r.sched, () => r.policy.connected >= 2, 200_000);
    expect(r.policy.connected).toBeGreaterThanOrEqual(2);
    expect(r.modem.opens).toBeGreaterThanOrEqual(2);
    expect(r.policy.actions).toContain("module-reset");
    expect(r.policy.forced[r.policy.actions.indexOf("module-reset")]).toBe(true);
  });

  test("a reset requested while a module reset waits for RDY restarts the reset instead of spinning", async () => {
    const r = rig();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    r.sup.requestModemReset();
    await runUntil(r.sched, () => r.modem.commands().includes("AT+CFUN=1,1"), 60_000);
    expect(r.sup.state).toBe("recovering");
    r.sup.requestModemReset();
    expect(await runUntil(r.sched, () => r.policy.connected === 2, 200_000)).toBe(true);
    expect(r.policy.actions).toEqual(["module-reset", "module-reset"]);
    expect(r.policy.forced).toEqual([true, true]);
  });

  test("power-cycle runs recovery.power_cycle", async () => {
    const ran: string[] = [];
    const r = rig({
      scenarios: ["sim-missing"],
      toml: '[recovery]\npower_cycle = "gpio-power-cycle modem"\n',
      policy: new RecordingPolicy(() => "power-cycle"),
      deps: {
        runCommand: async (c) => {
          ran.push(c);
          return { kind: "exited", code: 0, durationMs: 0 };
        },
      },
    });
    r.sup.start();
    await runUntil(r.sched, () => ran.length > 0, 60_000);
    expect(ran).toEqual(["gpio-power-cycle modem"]);
  });

  test("a power-cycle command that exits non-zero ends the action as command-failed (not just a log line)", async () => {
    const r = rig({
      scenarios: ["sim-missing"],
      toml: '[recovery]\npower_cycle = "gpio-power-cycle modem"\n',
      policy: new RecordingPolicy(() => "power-cycle"),
      deps: { runCommand: async () => ({ kind: "exited", code: 3, durationMs: 5 }) },
    });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.policy.failures.length >= 2, 60_000)).toBe(true);
    expect(r.policy.failures.map((f) => f.code)).toEqual(["sim-missing", "command-failed"]);
    expect(r.policy.failures[1]!.detail).toBe("power-cycle: exit status 3");
    expect(r.policy.actions).toEqual(["power-cycle"]);
    // It is the action that failed, not a bring-up: no AT was sent after the command.
    expect(r.events.find((e) => e.type === "modem.state" && e.state === "waiting" && e.cause?.code === "command-failed")).toBeDefined();
  });

  test("a reboot command past recovery.command_timeout ends the action as command-timeout", async () => {
    const r = rig({
      scenarios: ["sim-missing"],
      toml: '[recovery]\nreboot_command = "systemctl reboot"\n',
      policy: new RecordingPolicy(() => "reboot"),
      deps: { runCommand: async () => ({ kind: "timeout", timeoutMs: 60_000, durationMs: 60_000 }) },
    });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.policy.failures.length >= 2, 60_000)).toBe(true);
    expect(r.policy.failures[1]).toMatchObject({ code: "command-timeout", detail: "reboot: no result within 60000 ms; its process group was killed" });
  });

  test("stop while the power-cycle command runs: the command ends as stopped and no failure is reported", async () => {
    let finish: ((r: { kind: "stopped"; durationMs: number }) => void) | null = null;
    const r = rig({
      scenarios: ["sim-missing"],
      toml: '[recovery]\npower_cycle = "gpio-power-cycle modem"\n',
      policy: new RecordingPolicy(() => "power-cycle"),
      deps: { runCommand: () => new Promise((resolve) => (finish = resolve)) },
    });
    r.sup.start();
    expect(await runUntil(r.sched, () => finish !== null, 60_000)).toBe(true);
    expect(r.sup.state).toBe("recovering");
    const stopping = r.sup.stop();
    // The agent's runner kills the command's group on stop; it answers "stopped".
    finish!({ kind: "stopped", durationMs: 0 });
    await stopping;
    expect(r.sup.state).toBe("stopped");
    expect(r.policy.failures.map((f) => f.code)).toEqual(["sim-missing"]);
  });

  test("requestRedial while connected hangs up and dials again", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    r.sup.requestRedial();
    expect(await runUntil(r.sched, () => r.policy.connected === 2, 60_000)).toBe(true);
    expect(r.modem.commands().filter((c) => c.startsWith("ATD")).length).toBe(2);
  });

  test("requestRedial while waiting for a module reset redials now and leaves the reset to the policy's time", async () => {
    let dials = 0;
    const r = scripted([[/^ATD/, () => (++dials === 1 ? "NO CARRIER" : "CONNECT 150000000")]], {
      policy: new RecordingPolicy(() => "module-reset", 600_000),
      deps: { createBearer: upAtOnce },
    });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "waiting", 60_000);
    expect(r.policy.failures[0]?.code).toBe("no-carrier");
    r.sup.requestRedial();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(r.policy.actions).toEqual(["redial"]);
    expect(r.policy.forced).toEqual([true]);
    expect(r.modem.commands).not.toContain("AT+CFUN=1,1");
  });

  test("requestModemReset while waiting resets now, as a forced action", async () => {
    const r = scripted([[/^ATD/, "NO CARRIER"]], { policy: new RecordingPolicy(() => "redial", 600_000) });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "waiting", 60_000);
    r.sup.requestModemReset();
    await runUntil(r.sched, () => r.policy.actions.length > 0, 60_000);
    expect(r.policy.actions).toEqual(["module-reset"]);
    expect(r.policy.forced).toEqual([true]);
  });

  test("linkLost from health monitoring goes to the policy as a lost link", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    r.sup.linkLost(cause("peer-dead"));
    await runUntil(r.sched, () => r.policy.lost.length > 0, 60_000);
    expect(r.policy.lost[0]!.code).toBe("peer-dead");
    expect(await runUntil(r.sched, () => r.policy.connected === 2, 60_000)).toBe(true);
  });

  test("AlwaysRedial keeps trying; stop() during waiting ends in stopped", async () => {
    const r = rig({ scenarios: ["sim-missing"], policy: new AlwaysRedial(5_000) as unknown as RecordingPolicy });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "waiting", 60_000);
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 10_000);
    await p;
    expect(r.sup.state).toBe("stopped");
  });
});

describe("signal, registration and the health check", () => {
  test("pollModem while connected uses the control port", async () => {
    const sched = new ManualScheduler();
    const data = new ScriptedModem(sched, HEALTHY_RULES);
    const ctl = new ScriptedModem(sched, [[/^AT\+CSQ$/, "+CSQ: 25,99\nOK"], ...HEALTHY_RULES]);
    const r = build(sched, { stop: () => (data.stop(), ctl.stop()) }, data.openPort, {
      deps: { openControlPort: ctl.openPort, createBearer: upAtOnce },
    });
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    let result: Awaited<ReturnType<ModemSupervisor["pollModem"]>> | null = null;
    void r.sup.pollModem().then((x) => (result = x));
    await runUntil(sched, () => result !== null, 10_000);
    expect(result!.source).toBe("control-port");
    expect(result!.ok).toBe(true);
    expect(result!.rssi).toBe(-65); // +QCSQ refines +CSQ (25 → -63 dBm)
    expect(ctl.commands).toContain("AT+CEREG?");
    expect(ctl.commands).toContain("AT+QCSQ");
    const sig = r.events.filter((e) => e.type === "modem.signal").at(-1) as { rsrp: number; sinr: number } | undefined;
    expect(sig?.rsrp).toBe(-90);
    expect(sig?.sinr).toBe(10);
  });

  test("while connected, signal is polled on the control port on a timer", async () => {
    const sched = new ManualScheduler();
    const data = new ScriptedModem(sched, HEALTHY_RULES);
    const ctl = new ScriptedModem(sched, HEALTHY_RULES);
    const r = build(sched, { stop: () => (data.stop(), ctl.stop()) }, data.openPort, {
      deps: {
        openControlPort: ctl.openPort,
        timing: { signalPollMs: 30_000 },
        createBearer: upAtOnce,
      },
    });
    r.sup.start();
    await runUntil(sched, () => r.sup.state === "connected", 60_000);
    const before = r.events.filter((e) => e.type === "modem.signal").length;
    await runUntil(sched, () => ctl.commands.filter((c) => c === "AT+CSQ").length >= 2, 100_000);
    expect(ctl.commands.filter((c) => c === "AT+CSQ").length).toBeGreaterThanOrEqual(2);
    expect(r.events.filter((e) => e.type === "modem.signal").length).toBeGreaterThan(before);
    // the data port carried no AT command while PPP owned it
    expect(data.commands.filter((c) => c === "AT+CSQ").length).toBe(1);
  });

  test("a signal poll still running when the link drops does not leave a second polling timer behind", async () => {
    const sched = new ManualScheduler();
    const data = new ScriptedModem(sched, HEALTHY_RULES);
    // +CSQ unanswered on the control port: each poll runs for the command's limit, so the link can drop mid-poll.
    const ctl = new ScriptedModem(sched, [[/^AT\+CSQ$/, null], ...HEALTHY_RULES]);
    const r = build(sched, { stop: () => (data.stop(), ctl.stop()) }, data.openPort, {
      deps: {
        openControlPort: ctl.openPort,
        timing: { signalPollMs: 30_000 },
        createBearer: upAtOnce,
      },
    });
    const csq = () => ctl.commands.filter((c) => c === "AT+CSQ").length;
    r.sup.start();
    await runUntil(sched, () => r.sup.state === "connected", 60_000);
    await runUntil(sched, () => csq() === 1, 100_000);
    r.sup.linkLost(cause("peer-dead"));
    await runUntil(sched, () => r.policy.lost.length === 1, 10_000);
    await runUntil(sched, () => r.sup.state === "connected", 60_000);
    const from = csq();
    await runUntil(sched, () => false, 300_000);
    // One poll every 30 s for 300 s: 10 (a doubled timer chain would make it about 20).
    expect(csq() - from).toBeGreaterThanOrEqual(9);
    expect(csq() - from).toBeLessThanOrEqual(11);
  });

  test("pollModem without a control port answers from the last known values while connected", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    let result: Awaited<ReturnType<ModemSupervisor["pollModem"]>> | null = null;
    void r.sup.pollModem().then((x) => (result = x));
    await runUntil(r.sched, () => result !== null, 1_000);
    expect(result!.source).toBe("cached");
    expect(result!.ok).toBe(true);
    expect(result!.stat).toBe(1);
  });
});

describe("field-grade recovery (issue: no lost minutes, no useless resets)", () => {
  const stateAt = (r: Rig, state: string) => (r.events.find((e) => e.type === "modem.state" && e.state === state) as { at: number } | undefined)?.at;

  test("registration denied for 20 s: the 10-minute wait ends when registration returns (URC), and the dial follows at once", async () => {
    const r = rig({ scenarios: ["registration-denied:for=20"], policy: new RecordingPolicy(() => "redial", 10 * 60_000, true) });
    const t0 = r.sched.now();
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("registration-denied");
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 10 * 60_000)).toBe(true);
    const back = r.events.find((e) => e.type === "modem.registration" && e.stat === 1 && e.at > t0 + 15_000) as { at: number } | undefined;
    expect(back).toBeDefined();
    const up = r.events.filter((e) => e.type === "modem.state" && e.state === "connected").at(-1)!.at;
    expect(up - back!.at).toBeLessThan(15_000);
    expect(up - t0).toBeLessThan(60_000); // not the policy's 10 minutes
    expect(r.policy.failures).toHaveLength(1);
  });

  test("while waiting, registration is polled no less often than recovery.registration_poll (default 10 s)", async () => {
    const r = rig({ scenarios: ["registration-denied"], policy: new RecordingPolicy(() => "redial", 2 * 60_000, true) });
    r.sup.start();
    await firstFailure(r, 60_000);
    const waitFrom = r.sched.now();
    await runUntil(r.sched, () => r.policy.actions.length > 0, 3 * 60_000);
    const simPolls = r.modem.events.filter((e) => e.type === "sim.command" && e.line === "AT+CEREG?" && e.at >= waitFrom && e.at < waitFrom + 2 * 60_000).map((e) => e.at);
    expect(simPolls.length).toBeGreaterThanOrEqual(11);
    for (let k = 1; k < simPolls.length; k++) expect(simPolls[k]! - simPolls[k - 1]!).toBeLessThanOrEqual(10_500);
  });

  test("a wait that began registered (wrong credentials) is not cut short by registration that never went away", async () => {
    const r = rig({ auth: "reject", policy: new RecordingPolicy(() => "redial", 5 * 60_000, true) });
    const t0 = r.sched.now();
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 60_000);
    await runUntil(r.sched, () => r.policy.actions.length > 0, 6 * 60_000);
    const firstRetry = r.modem.events.filter((e) => e.type === "sim.command" && e.line.startsWith("ATD")).map((e) => e.at)[1]!;
    expect(firstRetry - t0).toBeGreaterThanOrEqual(5 * 60_000);
  });

  test("the link is known down at once: connected → hanging-up (with the cause) before PPP stop, DTR or +++ run → waiting", async () => {
    const r = rig();
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    r.sup.linkLost(cause("peer-dead", "test"));
    await runUntil(r.sched, () => r.sup.state === "waiting", 30_000);
    const states = r.events.filter((e) => e.type === "modem.state") as { state: string; at: number; cause: Cause | null }[];
    const i = states.findIndex((s) => s.state === "hanging-up");
    expect(states.slice(i - 1, i + 2).map((s) => s.state)).toEqual(["connected", "hanging-up", "waiting"]);
    expect(states[i]!.cause?.code).toBe("peer-dead");
    const hangup = r.events.find((e) => e.type === "modem.hangup")!;
    expect(states[i]!.at).toBeLessThanOrEqual(hangup.at);
    const down = r.events.find((e) => e.type === "ppp.down")!;
    expect(down.at).toBe(states[i]!.at);
  });

  test("a rejected SIM PIN is remembered (salted fingerprint) and never sent again by a later supervisor", async () => {
    let remembered: { salt: string; hash: string } | null = null;
    const pinMemory = { rejected: () => remembered, remember: (p: { salt: string; hash: string } | null) => void (remembered = p) };
    const a = rig({ scenarios: ["sim-pin:1234"], toml: '[modem]\npin = "9999"', deps: { pinMemory } });
    a.sup.start();
    expect(await firstFailure(a, 60_000)).toBe("sim-pin-wrong");
    expect(a.modem.commands().filter((c) => c.startsWith("AT+CPIN="))).toHaveLength(1);
    expect(remembered).not.toBeNull();
    expect(JSON.stringify(remembered)).not.toContain("9999");
    // A restarted agent (new supervisor, module powered on again) with the same state file.
    const b = rig({ scenarios: ["sim-pin:1234"], toml: '[modem]\npin = "9999"', deps: { pinMemory } });
    b.sup.start();
    expect(await firstFailure(b, 60_000)).toBe("sim-pin-wrong");
    expect(b.policy.failures[0]!.detail).toContain("not sent again");
    expect(b.modem.commands().some((c) => c.startsWith("AT+CPIN="))).toBe(false);
    // The right PIN is another PIN: it gets its try and the link comes up.
    const c = rig({ scenarios: ["sim-pin:1234"], toml: '[modem]\npin = "1234"', deps: { pinMemory } });
    c.sup.start();
    expect(await runUntil(c.sched, () => c.sup.state === "connected", 60_000)).toBe(true);
  });

  test("APN rejected: NO CARRIER on the dial, AT+CEER names ESM cause 27 → apn-rejected", async () => {
    const r = rig({ scenarios: ["apn-rejected:private.apn"] });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("apn-rejected");
    expect(r.policy.failures[0]!.detail).toContain("#27");
  });

  test("T3396: the dial's refusal carries a session-management back-off: waited out, not counted as a failure", async () => {
    const r = rig({ scenarios: ["t3396:60"] });
    const t0 = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.policy.backoffs.length > 0, 60_000)).toBe(true);
    expect(r.policy.failures).toEqual([]);
    expect(r.policy.backoffs[0]! - t0).toBeGreaterThanOrEqual(50_000);
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 3 * 60_000)).toBe(true);
  });

  test("registration denied with a permanent EMM cause (#7) is registration-barred (a person's fault)", async () => {
    const r = rig({ scenarios: ["registration-denied:cause=7"] });
    r.sup.start();
    expect(await firstFailure(r, 60_000)).toBe("registration-barred");
    expect(stateAt(r, "registering")).toBeDefined();
  });
});

describe("a module that reboots by itself during a call", () => {
  test("its boot URC between frames ends the call as module-rebooted at once (no wait for LCP echo), then it is redialled", async () => {
    const r = rig({ scenarios: ["reboot-mid-call:5"] });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    const up = r.sched.now();
    expect(await runUntil(r.sched, () => r.policy.lost.length > 0, 60_000)).toBe(true);
    expect(r.policy.lost[0]!.code).toBe("module-rebooted");
    const rdy = r.modem.events.find((e) => e.type === "sim.power" && e.at > up) as { at: number } | undefined;
    expect(rdy).toBeDefined();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
  });
});

describe("a module hung in data mode (the issue's target: connected again within 100 s with a power-cycle command)", () => {
  test("peer dead → hang-up into silence → modem-hung 60 s after the module went silent → power cycle at once → connected", async () => {
    const actions: { rung: string; at: number }[] = [];
    const ladder = new RecoveryLadder(
      { backoffMs: [0, 600_000, 1_800_000, 3_600_000], dialFailures: 3, stableAfterMs: 600_000, powerCycle: true, reboot: false },
      null,
      0,
      { emit: (e) => void (e.type === "recovery.action" && actions.push({ rung: e.rung, at: e.at })) },
    );
    const holder: { r: (Rig & { modem: TestModem }) | null } = { r: null };
    const r = (holder.r = rig({
      scenarios: ["hang:call=10"],
      toml: '[recovery]\npower_cycle = "relay modem"\n',
      deps: {
        policy: ladder,
        runCommand: async () => {
          // The relay: the module loses power and boots again.
          holder.r!.modem.core.powerCycle(holder.r!.sched.now());
          holder.r!.modem.pump();
          return { kind: "exited", code: 0, durationMs: 0 };
        },
      },
    }));
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(await runUntil(r.sched, () => r.modem.events.some((e) => e.type === "sim.hang"), 60_000)).toBe(true);
    const frozeAt = r.modem.events.find((e) => e.type === "sim.hang")!.at;
    // LCP echo (2 s × 3) declares the peer dead 7 s after the freeze.
    r.sched.advanceTo(frozeAt + 7_000);
    r.sup.linkLost(cause("peer-dead", "no reply to 3 LCP Echo-Requests"));
    expect(await runUntil(r.sched, () => actions.some((a) => a.rung === "power-cycle"), 120_000)).toBe(true);
    const hung = r.events.find((e) => e.type === "modem.state" && e.cause?.code === "modem-hung") as { at: number } | undefined;
    expect(hung).toBeDefined();
    // The vendor's 60 s count from the module's last word (here the PPP stand-in's "UP" right after
    // CONNECT, 10 s before the freeze), not from the start of the sync after the hang-up.
    const lastWord = r.events.find((e) => e.type === "modem.state" && e.state === "connected")!.at;
    expect(hung!.at - lastWord).toBeGreaterThanOrEqual(60_000);
    expect(hung!.at - lastWord).toBeLessThan(61_000);
    const pc = actions.find((a) => a.rung === "power-cycle")!;
    expect(pc.at - hung!.at).toBeLessThan(100);
    expect(actions.filter((a) => a.rung === "module-reset" || a.rung === "radio-cycle")).toEqual([]);
    expect(r.modem.commands()).not.toContain("AT+CFUN=1,1");
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(r.sched.now() - frozeAt).toBeLessThan(100_000);
  });
});

describe("faults and requests that arrive together", () => {
  test("a redial requested while hanging up is taken when the hang-up is done (the hang-up is not cut short)", async () => {
    const seen: ModemEvent[] = [];
    const holder: { sup: ModemSupervisor | null } = { sup: null };
    const r = rig({
      deps: {
        emit: (e) => {
          seen.push(e);
          // The operator's request lands in the middle of the hang-up.
          if (e.type === "modem.state" && e.state === "hanging-up") holder.sup!.requestRedial();
        },
      },
    });
    holder.sup = r.sup;
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    r.sup.linkLost(cause("probe-failed"));
    expect(await runUntil(r.sched, () => r.policy.connected === 2, 60_000)).toBe(true);
    const states = seen.filter((e) => e.type === "modem.state").map((e) => (e as { state: string }).state);
    expect(states).toContain("hanging-up");
    const hangup = seen.find((e) => e.type === "modem.hangup") as { verified: boolean } | undefined;
    expect(hangup?.verified).toBe(true);
    expect(r.policy.actions).toEqual(["redial"]);
    expect(r.policy.forced).toEqual([true]);
    expect(r.policy.lost).toEqual([]); // the request decides, not the policy
  });
});

describe("a crash of the supervisor's loop is reported, not left sitting in stopped", () => {
  /** A policy that throws once asked about a failure: a bug in a dependency of the main loop. */
  class ThrowingPolicy extends RecordingPolicy {
    override onBringUpFailure(c: Cause, now: number): RecoveryDecision {
      super.onBringUpFailure(c, now);
      throw new Error("policy bug: cannot decide");
    }
    override onLinkLost(c: Cause, now: number): RecoveryDecision {
      super.onLinkLost(c, now);
      throw new TypeError("policy bug: lost link");
    }
  }

  test("the loop throws after a failed bring-up: onCrash fires with the error, stopped with agent-crashed, ports closed", async () => {
    const r = scripted([[/^ATD/, "NO CARRIER"]], { policy: new ThrowingPolicy() });
    const crashes: Array<{ err: unknown; c: Cause }> = [];
    r.sup.onCrash((err, c) => crashes.push({ err, c }));
    r.sup.start();
    expect(await runUntil(r.sched, () => crashes.length > 0, 60_000)).toBe(true);
    expect(crashes).toHaveLength(1);
    expect((crashes[0]!.err as Error).message).toBe("policy bug: cannot decide");
    expect(crashes[0]!.c).toMatchObject({ code: "agent-crashed", detail: "Error: policy bug: cannot decide" });
    expect(r.sup.state).toBe("stopped");
    const last = r.events.filter((e) => e.type === "modem.state").at(-1) as { state: string; cause: Cause | null };
    expect(last).toMatchObject({ state: "stopped", cause: { code: "agent-crashed" } });
    expect(r.sup.lastCause?.code).toBe("agent-crashed");
    expect(r.sup.atChannel).toBeNull();
    // stop() afterwards (the agent's clean stop) resolves at once.
    await r.sup.stop();
  });

  test("the loop throws after a lost link: the call is hung up before the crash is reported", async () => {
    const r = rig({ policy: new ThrowingPolicy() });
    const crashes: Cause[] = [];
    let stateAtCrash = null as string | null;
    r.sup.onCrash((_err, c) => {
      crashes.push(c);
      stateAtCrash = r.sup.state;
    });
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => crashes.length > 0, 60_000)).toBe(true);
    expect(crashes[0]).toMatchObject({ code: "agent-crashed", detail: "TypeError: policy bug: lost link" });
    expect(stateAtCrash).toBe("stopped");
    // The modem was taken out of data mode (hang-up) before the crash was reported.
    expect(r.modem.events.some((e) => e.type === "sim.mode" && e.mode === "command")).toBe(true);
    expect(r.sup.atChannel).toBeNull();
  });
});

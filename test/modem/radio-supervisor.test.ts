/**
 * Radio policy, roaming deny, APN failover and SIM failover: the supervisor
 * against the virtual modem's AT core on fake time (ManualScheduler).
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { ModemApnEvent, ModemIdentityEvent, ModemRadioEvent, ModemSimSwitchEvent, RecoveryRung } from "../../src/core/agent-events.ts";
import { cause, type Cause } from "../../src/core/cause.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../../src/core/recovery-policy.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { ICCID, ICCID2 } from "../../src/sim/quectel-text.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { fakePppBearer, runUntil, testConfig, TestModem } from "./harness.ts";

/** Redials after `pauseMs`, resets when told to; watches registration like the ladder does for network faults. */
class Policy implements RecoveryPolicy {
  failures: Cause[] = [];
  actions: RecoveryRung[] = [];
  connectedAt: number[] = [];
  constructor(
    private readonly pauseMs: number,
    private readonly next: (c: Cause) => RecoveryRung = () => "redial",
  ) {}
  onBringUpFailure(c: Cause, now: number): RecoveryDecision {
    this.failures.push(c);
    return { action: this.next(c), notBefore: now + this.pauseMs, reason: c.code, watchRegistration: true };
  }
  onLinkLost(c: Cause, now: number): RecoveryDecision {
    return { action: "redial", notBefore: now + 1_000, reason: c.code };
  }
  onNetworkBackoff(until: number): RecoveryDecision {
    return { action: "redial", notBefore: until, reason: "backoff" };
  }
  onActionStarted(a: RecoveryRung): void {
    this.actions.push(a);
  }
  onActionUndelivered(): void {}
  onConnected(now: number): void {
    this.connectedAt.push(now);
  }
  onConfigChanged(): void {}
}

interface Rig {
  sched: ManualScheduler;
  modem: TestModem;
  sup: ModemSupervisor;
  events: ModemEvent[];
  policy: Policy;
}

let live: Rig[] = [];
afterEach(async () => {
  for (const r of live) {
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 60_000);
    await p;
    r.modem.stop();
  }
  live = [];
});

function rig(scenarios: string[], toml: string, policy = new Policy(1_000), model: "BG96" | "BG77" = "BG96"): Rig {
  const sched = new ManualScheduler();
  const modem = new TestModem(sched, { scenarios, overrides: { model } });
  const events: ModemEvent[] = [];
  const sup = new ModemSupervisor({
    config: configOf(toml),
    scheduler: sched,
    openPort: modem.openPort,
    policy,
    emit: (e) => events.push(e),
    createBearer: fakePppBearer,
  });
  const r = { sched, modem, sup, events, policy };
  live.push(r);
  return r;
}

/** testConfig (network.apn = "internet"), or a [network] with only network.apns when the TOML starts with it. */
function configOf(toml: string): Config {
  if (!toml.startsWith("apns")) return testConfig(toml);
  const r = loadConfigText(`[network]\n${toml}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

const of = <T extends ModemEvent["type"]>(r: Rig, type: T) => r.events.filter((e) => e.type === type) as Extract<ModemEvent, { type: T }>[];
/** AT commands that change a radio setting (the writes that wear NVRAM), as the modem received them. */
const radioWrites = (r: Rig) => r.modem.commands().filter((c) => /^AT\+QCFG="[a-z]+",./i.test(c) || /^AT\+COPS=/.test(c));
const dials = (r: Rig) => r.modem.commands().filter((c) => c.startsWith("ATD"));

const POLICY = `
[radio]
technologies = ["nb-iot", "lte-m"]
bands = [3, 8, 20]
roaming = "deny"
operator = "00101"
`;

describe("radio policy in the bring-up", () => {
  test("applied after the SIM and before registration, each write read back; connected", async () => {
    const r = rig(["healthy"], POLICY);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(radioWrites(r)).toEqual([
      'AT+QCFG="nwscanseq",0302,1',
      'AT+QCFG="nwscanmode",3,1',
      'AT+QCFG="band",f,80084,80084,1',
      'AT+QCFG="roamservice",1,1',
      'AT+COPS=1,2,"00101"',
    ]);
    // iotopmode 2 (both) is the module's default: read, found holding, not written.
    const [radio] = of(r, "modem.radio") as ModemRadioEvent[];
    expect(radio!.ok).toBe(true);
    expect(radio!.written).toBe(5);
    expect(radio!.settings.find((s) => s.name === "iotopmode")).toMatchObject({ result: "unchanged", found: "2" });
    const cmds = r.modem.commands();
    // Order: SIM identity, the policy, then registration.
    expect(cmds.indexOf("AT+QCCID")).toBeLessThan(cmds.indexOf('AT+QCFG="nwscanseq"'));
    const copsWrite = cmds.indexOf('AT+COPS=1,2,"00101"');
    expect(cmds[copsWrite + 1]).toBe("AT+COPS?");
    expect(copsWrite + 1).toBeLessThan(cmds.indexOf("AT+CEREG=3"));
    // Each write is followed by a read-back of the same setting.
    const i = cmds.indexOf('AT+QCFG="band",f,80084,80084,1');
    expect(cmds[i + 1]).toBe('AT+QCFG="band"');
  });

  test("unchanged settings are not written again: a redial and a second bring-up only read", async () => {
    const r = rig(["healthy"], POLICY);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    const first = radioWrites(r).length;
    expect(first).toBe(5);
    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => r.policy.connectedAt.length === 2, 60_000)).toBe(true);
    expect(radioWrites(r).length).toBe(first);
    const second = of(r, "modem.radio")[1] as ModemRadioEvent;
    expect(second.written).toBe(0);
    expect(second.settings.every((s) => s.result === "unchanged")).toBe(true);
  });

  test("reapplied after a module reset: NVRAM settings read as holding, the operator (not kept by a reset) written again", async () => {
    const r = rig(["healthy"], POLICY, new Policy(1_000, () => "module-reset"));
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    r.sup.requestModemReset();
    expect(await runUntil(r.sched, () => r.policy.connectedAt.length === 2, 120_000)).toBe(true);
    expect(r.modem.commands()).toContain("AT+CFUN=1,1");
    const writes = radioWrites(r);
    expect(writes.filter((c) => c.startsWith("AT+QCFG"))).toHaveLength(4);
    expect(writes.filter((c) => c === 'AT+COPS=1,2,"00101"')).toHaveLength(2);
    const after = of(r, "modem.radio")[1] as ModemRadioEvent;
    expect(after.settings.map((s) => `${s.name}:${s.result}`)).toEqual([
      "nwscanseq:unchanged",
      "nwscanmode:unchanged",
      "iotopmode:unchanged",
      "band:unchanged",
      "roamservice:unchanged",
      "operator:written",
    ]);
  });

  test("a setting the modem refuses: radio-refused with the command and the modem's answer, never a dial", async () => {
    const r = rig(["radio-refuse:band"], POLICY);
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 60_000);
    expect(r.policy.failures[0]?.code).toBe("radio-refused");
    expect(r.policy.failures[0]?.detail).toContain('band: AT+QCFG="band",f,80084,80084,1: cme-error');
    const radio = of(r, "modem.radio")[0] as ModemRadioEvent;
    expect(radio.ok).toBe(false);
    expect(radio.settings.find((s) => s.name === "band")?.result).toBe("refused");
    // The rest of the policy was still applied (and is seen whole in the event).
    expect(radio.settings.find((s) => s.name === "roamservice")?.result).toBe("written");
    expect(dials(r)).toEqual([]);
    expect(r.modem.commands()).not.toContain("AT+CEREG?");
  });

  test("a setting the modem answers OK to but does not keep: refused on the read-back", async () => {
    const r = rig(["radio-refuse:what=roamservice,how=ignore"], POLICY);
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 60_000);
    expect(r.policy.failures[0]?.code).toBe("radio-refused");
    expect(r.policy.failures[0]?.detail).toBe('roamservice: AT+QCFG="roamservice",1,1 answered OK but AT+QCFG="roamservice" reads 255, not 1');
    expect(dials(r)).toEqual([]);
  });

  test("BG77: GSM left out of a fleet-wide list, named in the event; a scan order the module already leads with is kept", async () => {
    const r = rig(["healthy"], `[radio]\ntechnologies = ["lte-m", "gsm"]\n[modem]\nprofile = "quectel-bg77"\n`, new Policy(1_000), "BG77");
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    // The module's 020301 already starts with LTE-M; iotopmode 0 (LTE-M only) is what narrows it.
    expect(radioWrites(r)).toEqual(['AT+QCFG="iotopmode",0,1']);
    expect((of(r, "modem.radio")[0] as ModemRadioEvent).notes).toEqual(["technologies: Quectel BG77 has no gsm; left out"]);
  });
});

describe('radio.roaming = "deny"', () => {
  test("roaming: the named waiting state, no dial; the home network appears: dialled at once, without waiting out the pause", async () => {
    const r = rig(["roaming:home=300"], `[radio]\nroaming = "deny"\n`, new Policy(30 * 60_000));
    const start = r.sched.now();
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 60_000);
    expect(r.policy.failures[0]?.code).toBe("roaming-denied");
    expect(r.sup.state).toBe("waiting");
    const waiting = of(r, "modem.state").find((e) => e.state === "waiting");
    expect(waiting?.cause?.code).toBe("roaming-denied");
    // Still roaming a while later: still waiting, nothing dialled.
    await runUntil(r.sched, () => false, 200_000);
    expect(r.sup.state).toBe("waiting");
    expect(dials(r)).toEqual([]);
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 200_000)).toBe(true);
    const connectedAt = r.policy.connectedAt[0]! - start;
    // Home at 300 s; the 30 min pause was cut short by registration (polled every recovery.registration_poll).
    expect(connectedAt).toBeGreaterThanOrEqual(300_000);
    expect(connectedAt).toBeLessThan(330_000);
    expect(dials(r)).toHaveLength(1);
    expect(r.policy.failures.map((c) => c.code)).toEqual(["roaming-denied"]);
  });

  test("roaming allowed (or unset): stat 5 is dialled", async () => {
    const r = rig(["roaming"], `[radio]\nroaming = "allow"\n`);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(of(r, "modem.registration").some((e) => e.stat === 5)).toBe(true);
  });
});

describe("APN failover (network.apns)", () => {
  const apnCommands = (r: Rig) => r.modem.commands().filter((c) => c.startsWith("AT+CGDCONT=")).map((c) => /"([^"]*)"$/.exec(c)?.[1]);

  test("tried in order on an APN rejection within one bring-up; the one that worked is kept for the next call", async () => {
    const r = rig(["apn-rejected:internet"], `apns = ["wrong.one", "also.wrong", "internet"]\n`);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    expect(apnCommands(r)).toEqual(["wrong.one", "also.wrong", "internet"]);
    expect(dials(r)).toHaveLength(3);
    expect(r.policy.failures).toEqual([]);
    const apns = of(r, "modem.apn") as ModemApnEvent[];
    expect(apns.map((e) => [e.apn, e.index, e.previous, e.cause?.code ?? null])).toEqual([
      ["wrong.one", 0, null, null],
      ["also.wrong", 1, "wrong.one", "apn-rejected"],
      ["internet", 2, "also.wrong", "apn-rejected"],
    ]);
    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => r.policy.connectedAt.length === 2, 60_000)).toBe(true);
    expect(apnCommands(r).slice(3)).toEqual(["internet"]);
  });

  test("every APN rejected: each tried once, then the cause goes to the policy", async () => {
    const r = rig(["apn-rejected:internet"], `apns = ["a.apn", "b.apn"]\n`);
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 60_000);
    expect(r.policy.failures[0]?.code).toBe("apn-rejected");
    expect(apnCommands(r)).toEqual(["a.apn", "b.apn"]);
    // The next bring-up starts over at the first.
    await runUntil(r.sched, () => r.policy.failures.length > 1, 60_000);
    expect(apnCommands(r)).toEqual(["a.apn", "b.apn", "a.apn", "b.apn"]);
  });

  test("a failure that is not about the APN does not move to the next one", async () => {
    const r = rig(["t3396:600"], `apns = ["internet", "other"]\n`);
    r.sup.start();
    await runUntil(r.sched, () => r.events.some((e) => e.type === "modem.dial"), 60_000);
    await runUntil(r.sched, () => r.sup.state === "waiting", 60_000);
    expect(apnCommands(r)).toEqual(["internet"]);
  });
});

describe("SIM failover (sim.failover_after, AT+QDSIM)", () => {
  test("no service on SIM 1 for failover_after: the next retry the policy allows selects slot 2, its ICCID is read, connected", async () => {
    const r = rig(["sim-missing", "dual-sim"], `[sim]\nfailover_after = "10m"\n`, new Policy(4 * 60_000));
    const start = r.sched.now();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 30 * 60_000)).toBe(true);
    const sw = of(r, "modem.sim-switch") as ModemSimSwitchEvent[];
    expect(sw).toHaveLength(1);
    expect(sw[0]).toMatchObject({ result: "switched", from: 1, to: 2 });
    // Retries at 4, 8, 12 min: the first one at or after 10 min without service switches.
    expect(sw[0]!.at - start).toBeGreaterThanOrEqual(10 * 60_000);
    expect(sw[0]!.at - start).toBeLessThan(13 * 60_000);
    expect(r.policy.failures.map((c) => c.code)).toEqual(["sim-missing", "sim-missing", "sim-missing"]);
    const cmds = r.modem.commands();
    const q = cmds.indexOf("AT+QDSIM=1");
    expect(cmds.slice(q - 2, q + 2)).toEqual(["AT+QDSIM?", "AT+CFUN=0", "AT+QDSIM=1", "AT+CFUN=1"]);
    // The old card's identity is cleared at the switch and the new one read after it.
    const ids = (of(r, "modem.identity") as ModemIdentityEvent[]).filter((e) => e.at >= sw[0]!.at);
    expect(ids.map((e) => e.iccid)).toEqual([null, ICCID2]);
    expect(ICCID2).not.toBe(ICCID);
    expect(r.sup.identity.iccid).toBe(ICCID2);
  });

  test("a connected link restarts the clock: a short outage does not switch", async () => {
    const r = rig(["dual-sim"], `[sim]\nfailover_after = "10m"\n`, new Policy(60_000));
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    await runUntil(r.sched, () => false, 20 * 60_000);
    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => r.policy.connectedAt.length === 2, 60_000)).toBe(true);
    expect(of(r, "modem.sim-switch")).toEqual([]);
    expect(r.modem.commands()).not.toContain("AT+QDSIM?");
  });

  test("a module with one slot: named unsupported once, then never asked again", async () => {
    const r = rig(["sim-missing"], `[sim]\nfailover_after = "1m"\n`, new Policy(60_000));
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length >= 5, 30 * 60_000);
    const sw = of(r, "modem.sim-switch") as ModemSimSwitchEvent[];
    expect(sw.map((e) => e.result)).toEqual(["unsupported"]);
    expect(r.modem.commands().filter((c) => c.startsWith("AT+QDSIM"))).toEqual(["AT+QDSIM?"]);
  });

  test("alternates: slot 2 without service either goes back to slot 1 after another failover_after", async () => {
    const r = rig(["sim-missing", "dual-sim:sim2=missing"], `[sim]\nfailover_after = "5m"\n`, new Policy(60_000));
    const start = r.sched.now();
    r.sup.start();
    await runUntil(r.sched, () => of(r, "modem.sim-switch").length >= 2, 30 * 60_000);
    const sw = of(r, "modem.sim-switch") as ModemSimSwitchEvent[];
    expect(sw.map((e) => `${e.from}->${e.to}`)).toEqual(["1->2", "2->1"]);
    expect(sw[1]!.at - sw[0]!.at).toBeGreaterThanOrEqual(5 * 60_000);
    expect(sw[0]!.at - start).toBeGreaterThanOrEqual(5 * 60_000);
  });
});

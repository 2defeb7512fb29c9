/** When the scenario faults strike (faults.ts), without a modem: behaviour in, timers and verdicts out. */
import { describe, expect, test } from "bun:test";
import { FaultPlan } from "../../src/sim/faults.ts";
import { resolveBehaviour } from "../../src/sim/scenario.ts";

const plan = (...scenarios: string[]) => new FaultPlan(resolveBehaviour(scenarios));

describe("FaultPlan", () => {
  test("healthy: no fault timers at boot or CONNECT, no hang, no dead peer", () => {
    const p = plan("healthy");
    expect(p.bootTimers(0)).toEqual([]);
    expect(p.callTimers(0, false)).toEqual([]);
    expect(p.commandAnswered(true)).toBe(false);
    expect(p.deadPeerAt(1000)).toBeNull();
    expect(p.networkDropped()).toBeNull();
    expect(p.portVanishes).toBe(false);
  });

  test("reboot-loop: a reboot timer after each boot until `times` reboots happened; garbage next to it", () => {
    const p = plan("reboot-loop:every=10,times=2", "garbage:3");
    expect(p.bootTimers(1000)).toEqual([
      { kind: "reboot", at: 11_000 },
      { kind: "garbage", at: 4000 },
    ]);
    p.rebootLoopFired();
    expect(p.bootTimers(12_000).map((t) => t.kind)).toEqual(["reboot", "garbage"]);
    p.rebootLoopFired();
    expect(p.bootTimers(23_000)).toEqual([{ kind: "garbage", at: 26_000 }]);
    expect(p.nextNoiseAt(26_000)).toBe(29_000);
  });

  test("CONNECT arms drop, hang-call, net-drop, call-reboot in that order, each after its delay", () => {
    const p = plan("drop-after:30", "hang:call=5", "network-drop:20,back=10", "reboot-mid-call:25");
    expect(p.callTimers(100, false)).toEqual([
      { kind: "drop", at: 30_100 },
      { kind: "hang-call", at: 5100 },
      { kind: "net-drop", at: 20_100 },
      { kind: "call-reboot", at: 25_100 },
    ]);
    expect(p.callRebootReason).toBe("reboot-mid-call");
  });

  test("reboot-mid-call strikes `times` calls; one still pending from an earlier call is not armed twice", () => {
    const p = plan("reboot-mid-call:after=5,times=2");
    expect(p.callTimers(0, false)).toEqual([{ kind: "call-reboot", at: 5000 }]);
    expect(p.callTimers(1000, true)).toEqual([]);
    expect(p.callTimers(9000, false)).toEqual([{ kind: "call-reboot", at: 14_000 }]);
    expect(p.callTimers(20_000, false)).toEqual([]);
  });

  test("port-vanish:S reboots once S s after CONNECT, and names it port-vanish; port-vanish alone only vanishes", () => {
    const p = plan("port-vanish:8");
    expect(p.portVanishes).toBe(true);
    expect(p.callTimers(0, false)).toEqual([{ kind: "call-reboot", at: 8000 }]);
    expect(p.callTimers(10_000, false)).toEqual([]);
    expect(p.callRebootReason).toBe("port-vanish");
    expect(plan("port-vanish").callTimers(0, false)).toEqual([]);
  });

  test("network-drop: every call until `times` drops happened; each drop tells how long the network stays away", () => {
    const p = plan("network-drop:5,back=3,times=2");
    expect(p.callTimers(0, false)).toEqual([{ kind: "net-drop", at: 5000 }]);
    expect(p.networkDropped()).toBe(3000);
    expect(p.callTimers(10_000, false)).toEqual([{ kind: "net-drop", at: 15_000 }]);
    expect(p.networkDropped()).toBe(3000);
    expect(p.callTimers(20_000, false)).toEqual([]);
  });

  test("hang:N strikes on the N-th answered line since boot, once per run, only while on; rearmHang allows another", () => {
    const p = plan("hang:after=3,recover=30");
    expect(p.commandAnswered(true)).toBe(false);
    expect(p.commandAnswered(true)).toBe(false);
    expect(p.commandAnswered(false)).toBe(false);
    expect(p.commandAnswered(true)).toBe(true);
    expect(p.hangStruck(1000)).toBe(31_000);
    p.booting();
    for (let i = 0; i < 5; i++) expect(p.commandAnswered(true)).toBe(false);
    p.rearmHang();
    p.booting();
    expect([p.commandAnswered(true), p.commandAnswered(true), p.commandAnswered(true)]).toEqual([false, false, true]);
    expect(plan("hang:2").hangStruck(0)).toBeNull();
  });

  test("hang:call=S strikes at CONNECT time only (not by answered lines), and not again once used", () => {
    const p = plan("hang:call=4");
    for (let i = 0; i < 10; i++) expect(p.commandAnswered(true)).toBe(false);
    expect(p.callTimers(0, false)).toEqual([{ kind: "hang-call", at: 4000 }]);
    p.hangStruck(4000);
    expect(p.callTimers(9000, false)).toEqual([]);
  });

  test("dead-peer counts from IPCP up", () => {
    expect(plan("dead-peer:2").deadPeerAt(500)).toBe(2500);
    expect(plan("dead-peer").deadPeerAt(500)).toBe(500);
  });

  test("garbage bursts are reproducible by seed and tell the true registration", () => {
    const a = plan("garbage:1,seed=7");
    const b = plan("garbage:1,seed=7");
    const bursts = Array.from({ length: 8 }, () => a.noiseBurst(1));
    expect(Array.from({ length: 8 }, () => b.noiseBurst(1))).toEqual(bursts);
    const text = bursts.filter((x) => x.kind === "urc-storm").map((x) => new TextDecoder().decode(x.data)).join("");
    expect(text).not.toMatch(/\+CEREG: [^1]/);
  });
});

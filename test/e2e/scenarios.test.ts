/**
 * Every virtual-modem scenario drives the whole agent (startAgent: real serial
 * binding on a real pty, real AT supervisor, PPP stack, health, recovery
 * ladder and state file) and ends in a named state and cause code.
 * The simulator runs at time scale 0.02 (a 2 s registration takes 40 ms); the
 * agent gets matching short timings (harness FAST_TIMING).
 */
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { RecoveryStateEvent } from "../../src/core/agent-events.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { RESET_RUNGS } from "../../src/health/ladder.ts";
import { is, simCommands, startHangRig, startRig, stopAllRigs, type Rig } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

/** What this process has open: pty masters, serial (pty slave) fds, sockets... */
function openFds(): string[] {
  return readdirSync("/proc/self/fd").flatMap((f) => {
    try {
      return [readlinkSync(`/proc/self/fd/${f}`)];
    } catch {
      return []; // the fd of readdir itself, closed by now
    }
  });
}
let fdsAtStart: string[] = [];
beforeAll(() => {
  fdsAtStart = openFds();
});

/** Event timeouts are generous upper bounds for a loaded CI machine, not speed checks. */
const T = 15_000;

function statesWithCause(r: Rig): string[] {
  return r.events.of("modem.state").flatMap((e) => (e.cause ? [e.cause.code] : []));
}

describe("virtual modem scenarios against the whole agent over a pty", () => {
  test("healthy: connected with an IPCP address, an ICMP probe through the link succeeds", async () => {
    const r = await startRig({ scenarios: ["healthy"], overrides: { noHttp: false, httpListen: "127.0.0.1:0" } });
    try {
      const up = await r.events.waitFor(is.pppUp, T);
      expect(up.ipv4?.local).toMatch(/^10\.64\.0\.\d+$/);
      await r.events.waitFor(is.state("connected"), T);
      const probe = await r.events.waitFor(is.probeOk("icmp"), T);
      expect(probe.target).toBe("8.8.8.8");
      expect(r.agent.state()).toBe("connected");
      expect(r.events.of("recovery.action")).toEqual([]);
      expect(statesWithCause(r)).toEqual([]);
      // The same facts on the HTTP status endpoint, with the password nowhere.
      const res = await fetch(`${r.agent.httpUrl}/status`);
      const text = await res.text();
      const status = JSON.parse(text) as { state: string; ppp: { ipv4: { local: string } | null } };
      expect(status.state).toBe("connected");
      expect(status.ppp.ipv4?.local).toBe(up.ipv4!.local);
      expect(text).not.toContain("e2e-secret");
    } finally {
      await r.stop();
    }
  });

  test("slow-registration: waits in registering while the network searches, then connected", async () => {
    // 30 s of modem time (default) = 600 ms here; the agent's registration limit is 4 s.
    const r = await startRig({ scenarios: ["slow-registration"] });
    try {
      await r.events.waitFor(is.state("connected"), T);
      const reg = r.events.of("modem.state").findIndex((e) => e.state === "registering");
      const att = r.events.of("modem.state").findIndex((e) => e.state === "attaching");
      expect(reg).toBeGreaterThanOrEqual(0);
      expect(att).toBeGreaterThan(reg);
      // The modem searched (stat 2) before it registered (stat 1).
      const stats = r.simEvents.of("sim.registration").map((e) => e.stat);
      expect(stats.indexOf(2)).toBeLessThan(stats.indexOf(1));
      expect(r.events.of("recovery.action")).toEqual([]);
    } finally {
      await r.stop();
    }
  });

  test("sim-missing: waiting with cause sim-missing, never registers", async () => {
    const r = await startRig({ scenarios: ["sim-missing"] });
    try {
      const e = await r.events.waitFor(is.state("waiting", "sim-missing"), T);
      expect(e.previous).toBe("sim");
      expect(r.events.of("modem.state").some((s) => s.state === "registering")).toBe(false);
    } finally {
      await r.stop();
    }
  });

  test("sim-pin with modem.pin: the PIN is entered once and the agent connects", async () => {
    const r = await startRig({ scenarios: ["sim-pin"], tables: { modem: 'pin = "1234"' } });
    try {
      await r.events.waitFor(is.state("connected"), T);
      expect(simCommands(r).filter((c) => /^AT\+CPIN=/i.test(c))).toHaveLength(1);
      expect(r.logs.lines.join("\n")).not.toContain("1234\"");
    } finally {
      await r.stop();
    }
  });

  test("sim-pin with a wrong PIN: sim-pin-wrong, blocked with slow retries, no reset, the PIN sent once and remembered (not in clear)", async () => {
    const r = await startRig({ scenarios: ["sim-pin"], tables: { modem: 'pin = "9999"', recovery: 'operator_retry = "1s"' } });
    try {
      const first = await r.events.waitFor(is.state("waiting", "sim-pin-wrong"), T);
      const blocked = await r.events.waitFor((e): e is RecoveryStateEvent => e.type === "recovery.state" && e.phase === "blocked", T);
      expect(blocked.waitingReason).toContain("needs a person");
      // Two slow retries later: still no reset of any kind, and the PIN was entered exactly once.
      await r.events.waitFor(is.state("waiting", "sim-pin-wrong"), T, r.events.all.indexOf(first) + 1);
      await r.events.waitFor(is.action("redial"), T, r.events.length);
      expect(r.events.of("recovery.action").filter((a) => a.rung !== "redial")).toEqual([]);
      expect(simCommands(r).filter((c) => /^AT\+CPIN=/i.test(c))).toHaveLength(1);
      expect(r.simEvents.of("sim.command").some((c) => /PUK/.test(c.result ?? ""))).toBe(false);
      const saved = readFileSync(r.stateFile, "utf8");
      expect(JSON.parse(saved).rejectedPin?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(saved).not.toContain("9999");
    } finally {
      await r.stop();
    }
  });

  test("registration-denied: waiting with cause registration-denied", async () => {
    const r = await startRig({ scenarios: ["registration-denied"] });
    try {
      const e = await r.events.waitFor(is.state("waiting", "registration-denied"), T);
      expect(e.previous).toBe("registering");
      expect(r.events.of("modem.state").some((s) => s.state === "connected")).toBe(false);
    } finally {
      await r.stop();
    }
  });

  test("dial-before-attach: the agent attaches before dialling and connects, no terminated-after-auth loop", async () => {
    const r = await startRig({ scenarios: ["dial-before-attach"] });
    try {
      await r.events.waitFor(is.state("connected"), T);
      expect(statesWithCause(r)).not.toContain("terminated-after-auth");
      expect(r.simEvents.of("sim.ppp").some((e) => e.what === "terminate-after-auth")).toBe(false);
      // AT+CGATT=1 went out and the modem was attached before the dial.
      const cmds = simCommands(r);
      const attach = cmds.findIndex((c) => /^AT\+CGATT=1$/i.test(c));
      const dial = cmds.findIndex((c) => /^ATD/i.test(c));
      expect(attach).toBeGreaterThanOrEqual(0);
      expect(dial).toBeGreaterThan(attach);
    } finally {
      await r.stop();
    }
  });

  test("wrong-credentials with PAP: auth-rejected, the password never in logs or events", async () => {
    const r = await startRig({
      scenarios: ["wrong-credentials"],
      tables: { auth: 'method = "pap"\npassword = "wrong-secret-42"' },
    });
    try {
      const e = await r.events.waitFor(is.cause("auth-rejected"), T);
      expect(e.state).toBe("waiting");
      expect(r.simEvents.of("sim.ppp").some((p) => p.what === "auth-failed")).toBe(true);
      expect(r.logs.lines.join("\n")).not.toContain("wrong-secret-42");
      expect(JSON.stringify(r.events.all)).not.toContain("wrong-secret-42");
    } finally {
      await r.stop();
    }
  });

  test("no-ip: IPCP never gets an address; the stack reports ipcp-no-address", async () => {
    // The network Naks every IP-Address with 0.0.0.0 and never acks: after
    // max_configure (5) Configure-Requests IPCP gives up (RFC 1661 §4.6), and
    // because the only address offered was 0.0.0.0 the cause is ipcp-no-address.
    const r = await startRig({ scenarios: ["no-ip"] });
    try {
      const e = await r.events.waitFor(is.cause("ipcp-no-address"), T);
      expect(e.state).toBe("waiting");
      expect(e.previous).toBe("negotiating");
      expect(r.simEvents.of("sim.ppp").some((p) => p.what === "no-ip")).toBe(true);
      expect(r.events.of("ppp.up")).toEqual([]);
    } finally {
      await r.stop();
    }
  });

  test("hang: modem-hung, then recovery.power_cycle at once (no AT reset into silence) and the agent connects", async () => {
    // Power cycle by a relay flag; the vendor's hung, CFUN and boot limits scaled down.
    const hang = await startHangRig();
    const r = hang.rig;
    try {
      await r.events.waitFor(is.cause("modem-hung"), T);
      await r.events.waitFor(is.action("power-cycle"), T);
      const connected = await r.events.waitFor(is.state("connected"), T);
      expect(hang.powerCycles()).toBe(1);
      // A hung modem gets the hardware rung at once: no redial, radio cycle or AT reset first.
      const actions = r.events.of("recovery.action").filter((a) => a.at <= connected.at).map((a) => a.rung);
      expect(actions).toEqual(["power-cycle"]);
      expect(simCommands(r)).not.toContain("AT+CFUN=1,1");
      expect(r.simEvents.of("sim.power").some((p) => p.reason === "power-cycle")).toBe(true);
    } finally {
      await hang.stop();
    }
  });

  test("drop-after: NO CARRIER gives carrier-lost, the agent redials and is connected again", async () => {
    const r = await startRig({ scenarios: ["drop-after:30"] }); // 600 ms per call
    try {
      const first = await r.events.waitFor(is.state("connected"), T);
      const lost = await r.events.waitFor(is.cause("carrier-lost"), T);
      expect(lost.previous).toBe("connected");
      const redial = await r.events.waitFor(is.action("redial"), T);
      expect(redial.at).toBeGreaterThanOrEqual(lost.at);
      const again = await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(redial));
      expect(again.at).toBeGreaterThan(first.at);
    } finally {
      await r.stop();
    }
  });

  test("dead-peer: peer-dead within echo_interval x echo_failures (+ slack), redial, connected", async () => {
    // Health probes every 30 s so that the LCP echo keep-alive (1 s x 3) is what notices.
    const r = await startRig({ scenarios: ["dead-peer:5"], tables: { health: 'every = "30s"' } });
    try {
      await r.events.waitFor(is.state("connected"), T);
      const dead = await r.simEvents.waitFor((e): e is Extract<SimEvent, { type: "sim.ppp" }> => e.type === "sim.ppp" && e.what === "dead", T);
      const lost = await r.events.waitFor(is.cause("peer-dead"), T);
      // RFC 1661 echo keep-alive: the 3rd unanswered request is noticed one interval after it was sent.
      const bound = 1_000 * (3 + 1) + 2_000;
      expect(lost.at - dead.at).toBeLessThanOrEqual(bound);
      await r.events.waitFor(is.action("redial"), T);
      await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(lost));
    } finally {
      await r.stop();
    }
  });

  test("garbage: random bytes and URC storms during bring-up; still connected", async () => {
    // Slow registration keeps the modem in command mode long enough for several bursts.
    const r = await startRig({ scenarios: ["slow-registration:20", "garbage:1"] });
    try {
      const up = await r.events.waitFor(is.state("connected"), T);
      const before = r.simEvents.of("sim.garbage").filter((g) => g.at <= up.at);
      expect(before.length).toBeGreaterThanOrEqual(3);
      // Two more probe rounds succeed on the same link (no state change in between).
      const idx = r.events.all.indexOf(up);
      const p1 = await r.events.waitFor(is.probeOk("icmp"), T, idx);
      await r.events.waitFor(is.probeOk("icmp"), T, r.events.all.indexOf(p1) + 1);
      expect(r.events.of("modem.state").at(-1)?.state).toBe("connected");
      expect(r.agent.state()).toBe("connected");
    } finally {
      await r.stop();
    }
  });

  test("reboot-loop: the module reboots twice by itself during bring-up; the agent ends connected", async () => {
    const r = await startRig({ scenarios: ["reboot-loop:every=2,times=2"] }); // 40 ms after each boot
    try {
      const isReboot = (e: SimEvent) => e.type === "sim.power" && e.reason === "reboot-loop";
      const first = await r.simEvents.waitFor(isReboot, T);
      const second = await r.simEvents.waitFor(isReboot, T, r.simEvents.all.indexOf(first) + 1);
      const up = await r.events.waitFor((e) => is.state("connected")(e) && e.at >= second.at, T);
      expect(up.type).toBe("modem.state");
      expect(r.agent.state()).toBe("connected");
      expect(r.simEvents.of("sim.power").filter((p) => p.reason === "reboot-loop")).toHaveLength(2);
    } finally {
      await r.stop();
    }
  });

  test("port-vanish: the pty disappears after CONNECT, port-vanished, reopened at the same path, connected", async () => {
    const r = await startRig({ scenarios: ["port-vanish:2"] }); // reboots 40 ms after CONNECT
    try {
      const first = await r.events.waitFor(is.state("connected"), T);
      const vanished = await r.events.waitFor(is.cause("port-vanished"), T);
      expect(vanished.previous).toBe("connected");
      const reopened = await r.events.waitFor((e) => e.type === "serial.reopened", T);
      expect((reopened as { path?: string }).path).toBe(r.port);
      const again = await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(reopened));
      expect(again.at).toBeGreaterThan(first.at);
      expect(r.events.of("serial.vanished").length).toBeGreaterThanOrEqual(1);
    } finally {
      await r.stop();
    }
  });

  test("network-backoff: waiting with cause network-backoff, no reset, then connected", async () => {
    const r = await startRig({ scenarios: ["network-backoff:30"] }); // 600 ms back-off timer
    try {
      const wait = await r.events.waitFor(is.state("waiting", "network-backoff"), T);
      expect(wait.previous).toBe("registering");
      const up = await r.events.waitFor(is.state("connected"), T);
      const actions = r.events.of("recovery.action").filter((a) => a.at <= up.at);
      expect(actions.filter((a) => RESET_RUNGS.has(a.rung) || a.rung === "radio-cycle")).toEqual([]);
      expect(r.simEvents.of("sim.power").filter((p) => p.reason !== "power-on" && p.reason !== "boot")).toEqual([]);
      // The waiting state was visible in the ladder's state as a reason.
      expect(r.events.of("recovery.state").some((s) => s.waitingReason !== null)).toBe(true);
    } finally {
      await r.stop();
    }
  });
});

test("after all scenarios: no pty, serial port or socket is left open", async () => {
  await stopAllRigs();
  // Only what this test is about: pty masters/slaves, serial ttys and sockets. Other fds
  // come and go with the runtime (e.g. Bun reading /proc/self/statm for memory stats).
  const watched = (l: string) => /^(\/dev\/pts\/|\/dev\/ptmx|\/dev\/tty|socket:)/.test(l);
  const leaked = openFds().filter((l) => watched(l) && !fdsAtStart.includes(l));
  expect(leaked).toEqual([]);
});

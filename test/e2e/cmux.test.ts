/**
 * The whole agent in CMUX mode (modem.mux) against the virtual modem's CMUX
 * responder on a real pty: PPP on the data DLCI while the control DLCI polls
 * signal and carries URCs, a DCD drop by MSC ends the call, a half-hung
 * control DLCI and a refused AT+CMUX end in their named causes, and a modem
 * left in CMUX mode by an earlier run is brought back.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { AgentEvent, CmuxEvent, ModemStateEvent } from "../../src/core/agent-events.ts";
import { startSimulatorOnPty } from "../../src/sim/simulate.ts";
import { is, startRig, stopAllRigs, tempDir } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

const T = 15_000;
const CMUX = { modem: 'mux = "cmux"' };

function cmuxStates(all: AgentEvent[]): CmuxEvent[] {
  return all.filter((e) => e.type === "cmux.state") as CmuxEvent[];
}

/** The supervisor state in force when event `i` was emitted. */
function stateAt(all: AgentEvent[], i: number): string | null {
  for (let k = i; k >= 0; k--) if (all[k]!.type === "modem.state") return (all[k] as ModemStateEvent).state;
  return null;
}

describe("the agent in CMUX mode over a pty", () => {
  test("PPP up on DLCI 2; signal polled and a +CEREG URC seen on DLCI 1 while PPP is up; CLD on stop", async () => {
    const r = await startRig({ scenarios: ["cmux", "network-drop:30,back=5,times=1"], tables: CMUX, timing: { signalPollMs: 100 } });
    try {
      await r.events.waitFor(is.pppUp, T);
      await r.events.waitFor(is.state("connected"), T);
      const open = cmuxStates(r.events.all).filter((e) => e.state === "open");
      expect(open.length).toBeGreaterThan(0);
      const connectedAt = r.events.all.findIndex(is.state("connected"));
      // A signal reading taken while connected came from the control DLCI (the data DLCI carries PPP).
      await r.events.waitFor((e) => e.type === "modem.signal", T, connectedAt);
      const urc = await r.events.waitFor((e) => (e.type as string) === "modem.urc" && (e as unknown as { name: string }).name === "+CEREG", T, connectedAt);
      expect(stateAt(r.events.all, r.events.all.indexOf(urc))).toBe("connected");
      const views = cmuxStates(r.events.all).at(-1)!.dlcis;
      expect(views.map((v) => [v.dlci, v.use, v.state])).toEqual([[1, "control", "open"], [2, "data", "open"]]);
      // The same on /status: the mux and its DLCIs.
      const mux = r.agent.status().mux;
      expect(mux.state).toBe("open");
      expect(mux.frameSize).toBe(127);
      expect(mux.dlcis.map((v) => [v.dlci, v.use])).toEqual([[1, "control"], [2, "data"]]);
      expect(r.sim.modem.cmux?.stats.entered).toBe(1);
    } finally {
      await r.stop({ keepSim: true });
      // Stop left the mux cleanly: the responder took a close-down.
      expect(r.sim.modem.cmux?.stats.closedDown).toBe(1);
      expect(r.sim.modem.cmux?.inMux).toBe(false);
      await r.sim.stop();
    }
  });

  test("DCD drop via MSC ends the call with carrier-lost; the agent redials over the mux", async () => {
    const r = await startRig({ scenarios: ["cmux", "cmux-dcd-drop:20"], tables: CMUX });
    try {
      await r.events.waitFor(is.pppUp, T);
      const lost = await r.events.waitFor(is.cause("carrier-lost"), T);
      expect(lost.cause?.detail).toContain("DCD");
      const from = r.events.all.indexOf(lost);
      await r.events.waitFor(is.action(), T, from);
      await r.events.waitFor(is.pppUp, T, from);
    } finally {
      await r.stop();
    }
  });

  test("a control DLCI that stops answering while PPP flows: cmux-dlci-silent, handled by the ladder", async () => {
    const r = await startRig({
      scenarios: ["cmux", "cmux-at-silent:10"],
      tables: CMUX,
      timing: { signalPollMs: 100, profileLimits: { hungAfter: 600 } },
    });
    try {
      await r.events.waitFor(is.pppUp, T);
      const silent = await r.events.waitFor(is.cause("cmux-dlci-silent"), T);
      expect(silent.cause?.detail).toContain("DLCI 1");
      await r.events.waitFor(is.action(), T, r.events.all.indexOf(silent));
    } finally {
      await r.stop();
    }
  });

  test("a module reset leaves the mux (RDY in plain text); the next bring-up enters it again", async () => {
    const r = await startRig({ scenarios: ["cmux"], tables: CMUX });
    try {
      await r.events.waitFor(is.pppUp, T);
      const from = r.events.length;
      r.agent.supervisor.requestModemReset();
      await r.events.waitFor(is.action("module-reset"), T, from);
      const closed = await r.events.waitFor((e): e is CmuxEvent => e.type === "cmux.state" && (e as CmuxEvent).state === "closed" && (e as CmuxEvent).cause?.code === "module-rebooted", T, from);
      await r.events.waitFor(is.pppUp, T, r.events.all.indexOf(closed));
      expect(r.sim.modem.cmux?.stats.leftByReboot).toBe(1);
      expect(r.sim.modem.cmux?.stats.entered).toBe(2);
    } finally {
      await r.stop();
    }
  });

  test("a modem that rejects AT+CMUX: cmux-rejected with modem.mux = cmux; plain port with auto", async () => {
    const r = await startRig({ scenarios: ["cmux-reject"], tables: CMUX });
    try {
      const c = await r.events.waitFor(is.cause("cmux-rejected"), T);
      expect(c.cause?.detail).toContain("AT+CMUX=0,0,5,127");
    } finally {
      await r.stop();
    }
    const auto = await startRig({ scenarios: ["cmux-reject"], tables: { modem: 'mux = "auto"' } });
    try {
      await auto.events.waitFor(is.pppUp, T);
      expect(cmuxStates(auto.events.all).filter((e) => e.state === "open")).toEqual([]);
    } finally {
      await auto.stop();
    }
  });

  test("a modem left in CMUX mode by an earlier run is closed down and brought back", async () => {
    const dir = tempDir();
    const sim = startSimulatorOnPty({ link: join(dir, "ttySIM"), scenarios: ["cmux-stuck"], timeScale: 0.02, booted: true, behaviour: { auth: { username: "e2e", password: "e2e-secret" } } });
    expect(sim.modem.cmux?.inMux).toBe(true);
    const r = await startRig({ scenarios: [], sim, dir, tables: CMUX });
    try {
      const rec = await r.events.waitFor((e): e is CmuxEvent => e.type === "cmux.recovered", T);
      expect(rec.detail).toBe("close-down");
      await r.events.waitFor(is.pppUp, T);
      expect(sim.modem.cmux?.stats.closedDown).toBeGreaterThanOrEqual(1);
      expect(sim.modem.cmux?.stats.entered).toBe(2);
    } finally {
      await r.stop({ keepSim: true });
      await sim.stop();
    }
  });
});

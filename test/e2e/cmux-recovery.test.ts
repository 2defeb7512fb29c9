/**
 * Start-up in CMUX mode on a modem that an earlier run left in a data call
 * (the run was killed after CONNECT: the port closed with no hang-up, and a
 * pty has no DTR to end the call). Over a real pty: the module ignores AT
 * and the CMUX close-down while in data mode, so the entry takes the V.250
 * escape (guard, "+++", guard, ATH), says so (cmux.recovered "escape"), then
 * enters the mux and reaches connected with PPP on the data DLCI.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { CmuxEvent } from "../../src/core/agent-events.ts";
import { openSerialPipe } from "../../src/serial/port.ts";
import type { SimModeEvent } from "../../src/sim/events.ts";
import { startSimulatorOnPty } from "../../src/sim/simulate.ts";
import { EventRecorder, is, startRig, stopAllRigs, tempDir } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

const T = 15_000;

/** An earlier run: dial on the plain port until CONNECT, then close the port as kill -9 would (no +++, no ATH). */
async function dialAndVanish(path: string): Promise<void> {
  const pipe = await openSerialPipe(path);
  let text = "";
  pipe.onData((d) => (text += new TextDecoder("latin1").decode(d)));
  const command = async (line: string, done: RegExp): Promise<string> => {
    text = "";
    pipe.write(new TextEncoder().encode(`${line}\r`));
    const end = Date.now() + 5_000;
    while (!done.test(text) && Date.now() < end) await Bun.sleep(10);
    return text;
  };
  try {
    await command("ATE0", /OK\r\n/);
    // Registered and attached first, or the dial is answered NO CARRIER.
    for (let i = 0; i < 100 && !/\+CEREG: \d,[15]/.test(await command("AT+CEREG?", /OK\r\n|ERROR/)); i++) await Bun.sleep(20);
    await command("AT+CGATT=1", /OK\r\n|ERROR/);
    expect(await command("ATD*99#", /CONNECT|NO CARRIER|ERROR/)).toContain("CONNECT");
  } finally {
    await pipe.close();
  }
}

test("a modem left in a data call by an earlier run: +++/ATH escape, then CMUX and connected", async () => {
  const dir = tempDir();
  const sim = startSimulatorOnPty({ link: join(dir, "ttySIM"), scenarios: ["cmux"], timeScale: 0.02, booted: true, behaviour: { auth: { username: "e2e", password: "e2e-secret" } } });
  const simEvents = new EventRecorder(sim.modem.events);
  try {
    await dialAndVanish(sim.path);
    expect(sim.modem.core.modeState).toBe("data");
    expect(sim.modem.cmux?.inMux).toBe(false);
    const r = await startRig({ scenarios: [], sim, dir, tables: { modem: 'mux = "cmux"' } });
    try {
      const rec = await r.events.waitFor((e): e is CmuxEvent => e.type === "cmux.recovered", T);
      expect(rec.detail).toBe("escape");
      await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(rec));
      // The call was left by the escape ("+++", then ATH), not by a close-down, a reset or a DTR drop.
      const modes = simEvents.all.filter((e): e is SimModeEvent => e.type === "sim.mode").map((e) => `${e.mode}:${e.reason}`);
      expect(modes.slice(0, 3)).toEqual(["data:connect", "online-command:+++", "command:ath"]);
      const calledAt = simEvents.all.find((e) => e.type === "sim.mode")!.at;
      expect(simEvents.all.filter((e) => e.type === "sim.power" && e.at >= calledAt)).toEqual([]);
      expect(sim.modem.cmux?.stats.closedDown).toBe(0);
      expect(sim.modem.cmux?.stats.entered).toBe(1);
      // PPP runs over the mux: the data DLCI is open and the module says DCD on.
      const views = r.agent.status().mux.dlcis;
      expect(views.find((v) => v.dlci === 2)).toMatchObject({ use: "data", state: "open", dcd: true });
      expect(r.agent.status().mux.recovered).toBe("escape");
    } finally {
      await r.stop({ keepSim: true });
    }
  } finally {
    simEvents.stop();
    await sim.stop();
  }
});

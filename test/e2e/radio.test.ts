/**
 * Radio policy, roaming deny and APN failover through the whole agent
 * (startAgent: real serial binding, AT supervisor, PPP, ladder) against the
 * virtual modem on a real pseudo-terminal, at sim time scale 0.02.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { ModemApnEvent, ModemRadioEvent } from "../../src/core/agent-events.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { is, simCommands, startRig, stopAllRigs } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

/** Event timeouts are generous upper bounds for a loaded machine, not speed checks. */
const T = 15_000;

describe("radio policy over a pty", () => {
  test("policy written and verified, roaming waited out without a dial, rejected APN left for the next: connected", async () => {
    const r = await startRig({
      // Roaming for 25 s of modem time (0.5 s here), then home; the network knows only the APN "internet".
      scenarios: ["roaming:home=25", "apn-rejected:internet"],
      tables: { network: 'apns = ["wrong.apn", "internet"]', recovery: 'registration_poll = "500ms"' },
      tail: '[radio]\ntechnologies = ["nb-iot", "lte-m"]\nbands = [3, 8, 20]\nroaming = "deny"\noperator = "00101"\n',
    });
    try {
      const radio = (await r.events.waitFor((e) => e.type === "modem.radio", T)) as unknown as ModemRadioEvent;
      expect(radio.ok).toBe(true);
      expect(radio.settings.filter((s) => s.result === "written").map((s) => s.name)).toEqual(["nwscanseq", "nwscanmode", "band", "roamservice", "operator"]);
      await r.events.waitFor(is.state("waiting", "roaming-denied"), T);
      await r.events.waitFor(is.state("connected"), T);

      // No dial while the modem was registered roaming: every ATD came after the home registration.
      const sim = r.simEvents.all as SimEvent[];
      const home = sim.findIndex((e) => e.type === "sim.registration" && e.stat === 1);
      const firstDial = sim.findIndex((e) => e.type === "sim.command" && e.line.startsWith("ATD"));
      expect(home).toBeGreaterThanOrEqual(0);
      expect(firstDial).toBeGreaterThan(home);

      const apns = r.events.all.filter((e) => e.type === "modem.apn") as unknown as ModemApnEvent[];
      expect(apns.map((e) => [e.apn, e.cause?.code ?? null])).toEqual([
        ["wrong.apn", null],
        ["internet", "apn-rejected"],
      ]);
      const cmds = simCommands(r);
      expect(cmds.filter((c) => c.startsWith("AT+CGDCONT="))).toEqual(['AT+CGDCONT=1,"IP","wrong.apn"', 'AT+CGDCONT=1,"IP","internet"']);
      // Bring-ups after the first found the policy in place: nothing written twice.
      expect(cmds.filter((c) => c === 'AT+QCFG="band",f,80084,80084,1')).toHaveLength(1);
      expect(r.events.all.filter((e) => e.type === "modem.radio").length).toBeGreaterThan(1);

      const s = r.agent.status();
      expect(s.state).toBe("connected");
      expect(s.radio.policy).toBe("applied");
      expect(s.radio.writes).toBe(5);
      expect(s.radio.roamingDenied).toBe(false);
      expect(s.failover).toMatchObject({ apn: "internet", apnIndex: 1, apnCount: 2, apnFailovers: 1 });
    } finally {
      await r.stop();
    }
  });
});

/**
 * Issue 8 at agent level: the recovery ladder (vendor backoff, network
 * back-off, persistent state file) driving the real supervisor against the
 * virtual modem over a pty, time-scaled. Assertions are on recovery.action /
 * recovery.state / modem.state events and the state file, not on sleeps.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import type { RecoveryStateEvent } from "../../src/core/agent-events.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { RESET_RUNGS } from "../../src/health/ladder.ts";
import { is, simCommands, startHangRig, startRig, stopAllRigs, tempDir, type Rig } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

const T = 15_000;

describe("recovery ladder against the virtual modem (agent level)", () => {
  test("hang → the hardware rung at once (no AT reset into silence) → connected; the reset is in the state file", async () => {
    const hang = await startHangRig();
    const r = hang.rig;
    try {
      const hung = await r.events.waitFor(is.cause("modem-hung"), T);
      const pc = await r.events.waitFor(is.action("power-cycle"), T);
      expect(pc.at - hung.at).toBeLessThan(500); // backoff[0] = 0s: at once
      expect(pc.reason).toContain("#1");
      const up = await r.events.waitFor(is.state("connected"), T);
      expect(hang.powerCycles()).toBe(1);
      expect(r.events.of("recovery.action").filter((a) => a.at <= up.at).map((a) => a.rung)).toEqual(["power-cycle"]);
      expect(simCommands(r)).not.toContain("AT+CFUN=1,1");
      // Written atomically on every change: the file holds the reset count and time.
      const saved = JSON.parse(readFileSync(r.stateFile, "utf8")) as { resets?: number; lastResetAt?: number | null };
      expect(saved.resets).toBe(1);
      expect(saved.lastResetAt).toBeGreaterThanOrEqual(pc.at);
    } finally {
      await hang.stop();
    }
  });

  test("dead-peer → peer-dead within echo interval × failures (+ slack) → redial (not a reset) → connected", async () => {
    const r = await startRig({ scenarios: ["dead-peer:5"], tables: { health: 'every = "30s"', ppp: "echo_failures = 2" } });
    try {
      await r.events.waitFor(is.state("connected"), T);
      const dead = await r.simEvents.waitFor((e) => e.type === "sim.ppp" && e.what === "dead", T);
      const lost = await r.events.waitFor(is.cause("peer-dead"), T);
      expect(lost.at - dead.at).toBeLessThanOrEqual(1_000 * (2 + 1) + 2_000);
      // The state leaves "connected" the moment the peer is known dead (before the hang-up runs):
      // /status and /healthz read this state.
      expect(lost).toMatchObject({ state: "hanging-up", previous: "connected" });
      const down = r.events.all.find((e) => e.type === "ppp.down" && e.at >= dead.at)!;
      expect(Math.abs(down.at - lost.at)).toBeLessThan(50); // same turn of the event loop (real clock)
      const hangup = await r.events.waitFor((e: EventBase) => e.type === "modem.hangup", T, r.events.all.indexOf(lost));
      expect(hangup.at).toBeGreaterThanOrEqual(lost.at);
      const action = await r.events.waitFor(is.action(), T, r.events.all.indexOf(lost));
      expect(action.rung).toBe("redial");
      await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(action));
    } finally {
      await r.stop();
    }
  });

  test("network-backoff → named waiting state for the network's timer, no radio cycle or reset, then connected", async () => {
    const r = await startRig({ scenarios: ["network-backoff:40"] }); // 800 ms back-off
    try {
      const wait = await r.events.waitFor(is.state("waiting", "network-backoff"), T);
      const st = await r.events.waitFor(
        (e): e is RecoveryStateEvent => e.type === "recovery.state" && e.waitingReason !== null && e.nextActionAt !== null,
        T,
      );
      expect(st.waitingReason).toContain("network back-off");
      expect(st.nextActionAt!).toBeGreaterThan(wait.at);
      const up = await r.events.waitFor(is.state("connected"), T);
      // Nothing left the waiting state before the timer said so.
      const left = r.events.of("modem.state").find((e) => e.previous === "waiting" && e.at >= wait.at);
      expect(left!.at).toBeGreaterThanOrEqual(st.nextActionAt! - 20);
      const actions = r.events.of("recovery.action").filter((a) => a.at <= up.at);
      expect(actions.filter((a) => RESET_RUNGS.has(a.rung) || a.rung === "radio-cycle")).toEqual([]);
      expect(r.simEvents.of("sim.power").filter((p) => p.reason !== "power-on" && p.reason !== "boot")).toEqual([]);
    } finally {
      await r.stop();
    }
  });

  test("drop-after → carrier-lost → redial → connected; the third drop in a row resets the module at once", async () => {
    const r = await startRig({ scenarios: ["drop-after:30"] }); // every call drops after 600 ms
    try {
      await r.events.waitFor(is.state("connected"), T);
      const lost = await r.events.waitFor(is.cause("carrier-lost"), T);
      const first = await r.events.waitFor(is.action(), T, r.events.all.indexOf(lost));
      expect(first.rung).toBe("redial");
      await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(first));
      // Not stable (stable_after = 30 s): failures add up; vendor rule 3 → module reset, backoff[0] = 0 s.
      const reset = await r.events.waitFor(is.action("module-reset"), T);
      const before = r.events.of("recovery.action").filter((a) => a.at <= reset.at).map((a) => a.rung);
      expect(before).toEqual(["redial", "radio-cycle", "module-reset"]);
      await r.simEvents.waitFor((e) => e.type === "sim.power" && e.reason === "cfun-reset", T); // AT+CFUN=1,1 reached the modem
      await r.events.waitFor(is.state("connected"), T, r.events.all.indexOf(reset));
    } finally {
      await r.stop();
    }
  });

  test("restart between resets (same state file): the vendor's spacing after reset #1 survives, no duplicate reset", async () => {
    const dir = tempDir();
    // Every call drops 600 ms after CONNECT (link faults); redials are capped at 500 ms so the run is short.
    const tables = { recovery: 'backoff = ["0s", "5s"]\nredial_max = "500ms"\nstable_after = "30s"' };
    const resetRungs = (r: Rig) => r.events.of("recovery.action").filter((x) => RESET_RUNGS.has(x.rung));
    let a: Rig | null = null;
    let b: Rig | null = null;
    try {
      a = await startRig({ dir, scenarios: ["drop-after:30"], tables });
      const first = await a.events.waitFor(is.action("module-reset"), T); // #1, at once after 3 failures
      const due = first.at + 5_000;
      // The restart itself, right after reset #1: cellkeep goes down (systemd Restart=, a crash, an upgrade)
      // and comes back on the same state file. No sleep: the gap is whatever the stop and start take.
      await a.stop({ keepDir: true });
      const lastOfFirst = a.events.all.at(-1)!.at;
      expect(resetRungs(a)).toHaveLength(1);
      a = null;

      b = await startRig({ dir, scenarios: ["drop-after:30"], tables });
      const restored = b.events.of("recovery.state")[0]!;
      expect(restored.lastResetAt).toBe(first.at);
      expect(restored.resets).toBe(1);
      // The second process came up after the first one ended and before reset #2 was due.
      expect(restored.at).toBeGreaterThanOrEqual(lastOfFirst);
      expect(restored.at).toBeLessThan(due);
      // Dialling goes on between resets (spaced); the ladder says when reset #2 may come: the first process's reset + 5 s.
      const between = await b.events.waitFor(
        (e): e is RecoveryStateEvent => e.type === "recovery.state" && (e.waitingReason ?? "").includes("not before"),
        T,
      );
      expect(between.rung).toBe("redial");
      expect(between.waitingReason).toContain(`module-reset #2 not before ${new Date(due).toISOString()}`);
      expect(between.nextActionAt).toBeLessThan(due);
      expect(resetRungs(b)).toEqual([]);
      const reset = await b.events.waitFor(is.action("module-reset"), T);
      // Not before the vendor's spacing from the first process's reset, and counted as #2.
      expect(reset.at).toBeGreaterThanOrEqual(due - 50);
      expect(reset.reason).toContain("#2");
      expect(resetRungs(b)).toHaveLength(1);
      const simReset = await b.simEvents.waitFor((p): p is Extract<SimEvent, { type: "sim.power" }> => p.type === "sim.power" && p.reason === "cfun-reset", T);
      expect(simReset.at).toBeGreaterThanOrEqual(due - 50);
    } finally {
      await a?.stop();
      await b?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

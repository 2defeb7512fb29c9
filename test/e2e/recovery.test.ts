/**
 * Issue 8 at agent level: the recovery ladder (vendor backoff, network
 * back-off, persistent state file) driving the real supervisor against the
 * virtual modem over a pty, time-scaled. Assertions are on recovery.action /
 * recovery.state / modem.state events and the state file, not on sleeps.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import type { RecoveryStateEvent } from "../../src/core/agent-events.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { RESET_RUNGS } from "../../src/health/ladder.ts";
import { is, startHangRig, startRig, stopAllRigs, tempDir, type Rig } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);

const T = 15_000;

describe("recovery ladder against the virtual modem (agent level)", () => {
  test("hang → module reset (vendor rule: at once, no redials) → power cycle → connected; the resets are in the state file", async () => {
    const hang = await startHangRig();
    const r = hang.rig;
    try {
      const hung = await r.events.waitFor(is.cause("modem-hung"), T);
      const reset = await r.events.waitFor(is.action("module-reset"), T);
      expect(reset.at - hung.at).toBeLessThan(500); // backoff[0] = 0s: at once
      expect(reset.reason).toContain("#1");
      const up = await r.events.waitFor(is.state("connected"), T);
      expect(hang.powerCycles()).toBe(1);
      expect(r.events.of("recovery.action").filter((a) => a.at <= up.at).map((a) => a.rung)).toEqual(["module-reset", "power-cycle"]);
      // Written atomically on every change: the file holds the reset count and time.
      const saved = JSON.parse(readFileSync(r.stateFile, "utf8")) as { resets?: number; lastResetAt?: number | null };
      expect(saved.resets).toBe(2);
      expect(saved.lastResetAt).toBeGreaterThanOrEqual(reset.at);
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

  test("restart in the middle of a backoff (same state file): waits the remainder, no duplicate reset", async () => {
    const dir = tempDir();
    const recovery = 'backoff = ["0s", "5s"]';
    let a: Rig | null = null;
    let b: Rig | null = null;
    try {
      // First process: registration is denied, the ladder reaches reset #2, which must wait 5 s.
      a = await startRig({ dir, scenarios: ["registration-denied"], tables: { recovery } });
      await a.events.waitFor(is.action("module-reset"), T); // #1, at once
      const waiting = await a.events.waitFor(
        (e): e is RecoveryStateEvent => e.type === "recovery.state" && e.nextActionAt !== null && e.nextActionAt - e.at > 3_000,
        T,
      );
      const due = waiting.nextActionAt!;
      const resetsA = a.events.of("recovery.action").filter((x) => RESET_RUNGS.has(x.rung)).length;
      expect(resetsA).toBe(1);
      await a.stop({ keepDir: true });
      a = null;
      // The restart itself: cellkeep is down for 2 s of the 5 s backoff (systemd Restart=, a crash, an upgrade).
      await Bun.sleep(2_000);
      const restartedAt = Date.now();
      expect(restartedAt).toBeLessThan(due - 1_000); // still inside the backoff

      // Second process, same state file, the modem still denies registration.
      b = await startRig({ dir, scenarios: ["registration-denied"], tables: { recovery } });
      const restored = b.events.of("recovery.state")[0];
      expect(restored?.lastResetAt).not.toBeNull();
      expect(restored?.nextActionAt).toBe(due);
      const reset = await b.events.waitFor(is.action("module-reset"), T);
      // Waited the remainder: not before the saved deadline, and not a whole new 5 s from the restart.
      expect(reset.at).toBeGreaterThanOrEqual(due - 50);
      expect(reset.at - restartedAt).toBeLessThan(5_000 - 1_000);
      expect(reset.reason).toContain("#2");
      expect(b.events.of("recovery.action").filter((x) => RESET_RUNGS.has(x.rung) && x.at < due - 50)).toEqual([]);
      // Exactly one reset reached the modem in the second process before its deadline passed.
      const simResets = b.simEvents.of("sim.power").filter((p: Extract<SimEvent, { type: "sim.power" }>) => p.reason === "cfun-reset");
      expect(simResets.every((p) => p.at >= due - 50)).toBe(true);
    } finally {
      await a?.stop();
      await b?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The agent's stop path leaves nothing behind, also after several link drops
 * and an SSE client: no timer of the agent's scheduler still pending, no
 * listener on its event bus. A long-running gateway redials thousands of
 * times; anything kept per reconnect grows without bound.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent } from "../../src/core/agent-events.ts";
import { until } from "../support/agent-rig.ts";
import { removeDir, startRig, tempDir } from "./rig.ts";

const dir = tempDir("cellkeep-leaks-");
afterAll(() => removeDir(dir));

describe("agent stop", () => {
  test("after 5 redials and an SSE client: no pending timer and no bus listener left", async () => {
    // Echo and probes every second (the rig's defaults), so their timers are re-armed per call.
    const rig = await startRig({
      dir,
      tables: { network: 'apn = "internet"', auth: 'method = "pap"\nusername = "u"\npassword = "leak-test-pw"' },
      auth: { username: "u", password: "leak-test-pw" },
      controlPort: false,
      overrides: { httpListen: "127.0.0.1:0" },
    });
    // The modem has its own clock, so the agent's scheduler counts only the agent's timers.
    const { agent, scheduler } = rig;
    const connectedCount = () =>
      agent.events.recent().filter((e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === "connected").length;
    try {
      const ok = await until(() => connectedCount() === 1);
      if (!ok) console.log(agent.events.recent().slice(-15).map((e) => JSON.stringify(e)).join("\n"));
      expect(ok).toBe(true);
      const sse = await fetch(`${agent.httpUrl!.replace(/\/$/, "")}/events/stream`);
      const reader = sse.body!.getReader();
      await reader.read();
      // Measured in the same state (just connected), nothing may grow per reconnect.
      await Bun.sleep(100);
      const listenersAfterFirst = agent.events.listenerCount();
      const timersAfterFirst = scheduler.pendingCount();
      for (let i = 2; i <= 6; i++) {
        agent.supervisor.requestRedial();
        expect(await until(() => connectedCount() === i)).toBe(true);
      }
      await Bun.sleep(100);
      expect(agent.events.listenerCount()).toBe(listenersAfterFirst);
      expect(scheduler.pendingCount()).toBeLessThanOrEqual(timersAfterFirst + 1);
      await reader.cancel();
    } finally {
      await rig.stop();
    }
    // Let cancelled streams and late promise callbacks settle.
    await Bun.sleep(50);
    expect(agent.state()).toBe("stopped");
    expect(agent.events.listenerCount()).toBe(0);
    expect(scheduler.pendingCount()).toBe(0);
  }, 60_000);
});

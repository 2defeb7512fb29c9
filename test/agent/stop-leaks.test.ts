/**
 * The agent's stop path leaves nothing behind, also after several link drops
 * and an SSE client: no timer of the agent's scheduler still pending, no
 * listener on its event bus. A long-running gateway redials thousands of
 * times; anything kept per reconnect grows without bound.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { RealScheduler } from "../../src/core/clock.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent } from "../../src/core/agent-events.ts";
import { startAgent } from "../../src/agent.ts";
import { createInProcessModem } from "../../src/sim/in-process.ts";
import { parseConfig, removeDir, RIG_TIME_SCALE, RIG_TIMING, tempDir } from "./rig.ts";

const dir = tempDir("cellkeep-leaks-");
afterAll(() => removeDir(dir));

describe("agent stop", () => {
  test("after 5 redials and an SSE client: no pending timer and no bus listener left", async () => {
    const config = parseConfig(`
[modem]
port = "/dev/null"
control_port = "none"
[network]
apn = "internet"
[auth]
method = "pap"
username = "u"
password = "leak-test-pw"
[ppp]
echo_interval = "1s"
restart_timer = "200ms"
[link]
mode = "none"
[health]
every = "1s"
timeout = "500ms"
targets = ["8.8.8.8"]
[recovery]
state_file = ${JSON.stringify(join(dir, "recovery.json"))}
`);
    // The modem gets its own clock, so the agent's scheduler counts only the agent's timers.
    const modem = createInProcessModem({ scheduler: new RealScheduler(), scenarios: ["healthy"], timeScale: RIG_TIME_SCALE, behaviour: { auth: { username: "u", password: "leak-test-pw" } } });
    const scheduler = new RealScheduler();
    const agent = await startAgent(config, {
      log: createLogger({ level: "debug", format: "text", sink: new MemorySink() }),
      scheduler,
      openPort: async () => modem.reopen(),
      timing: RIG_TIMING,
      httpListen: "127.0.0.1:0",
    });
    const connectedCount = () =>
      agent.events.recent().filter((e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === "connected").length;
    const until = async (cond: () => boolean, ms = 10_000) => {
      const end = Date.now() + ms;
      while (!cond() && Date.now() < end) await Bun.sleep(20);
      return cond();
    };
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
      await agent.stop("test done");
      await modem.stop();
    }
    // Let cancelled streams and late promise callbacks settle.
    await Bun.sleep(50);
    expect(agent.state()).toBe("stopped");
    expect(agent.events.listenerCount()).toBe(0);
    expect(scheduler.pendingCount()).toBe(0);
  }, 60_000);
});

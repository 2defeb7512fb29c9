/**
 * SIGHUP reload against the real agent: a changed link setting is applied by
 * redialling, but never by dialling through a network back-off (T3346/T3396):
 * the network said when to come back, and a failed dial during its timer
 * would count toward a module reset the back-off must never cause.
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

const dir = tempDir("cellkeep-reload-");
afterAll(() => removeDir(dir));

const toml = (apn: string) => `
[modem]
port = "/dev/null"
control_port = "none"
[network]
apn = "${apn}"
[auth]
method = "pap"
username = "u"
password = "reload-test-pw"
[link]
mode = "none"
[recovery]
state_file = ${JSON.stringify(join(dir, "recovery.json"))}
`;

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(20);
  return cond();
};

describe("agent: config reload and the maintenance window", () => {
  test("a reload during a network back-off waits for the back-off instead of dialling now", async () => {
    const modem = createInProcessModem({
      scheduler: new RealScheduler(),
      scenarios: ["network-backoff:600"],
      timeScale: RIG_TIME_SCALE,
      behaviour: { auth: { username: "u", password: "reload-test-pw" } },
    });
    const agent = await startAgent(parseConfig(toml("internet")), {
      log: createLogger({ level: "debug", format: "text", sink: new MemorySink() }),
      scheduler: new RealScheduler(),
      openPort: async () => modem.reopen(),
      timing: RIG_TIMING,
      noHttp: true,
    });
    const states = () => agent.events.recent().filter((e: EventBase) => e.type === "modem.state") as ModemStateEvent[];
    try {
      expect(await until(() => states().some((e) => e.state === "waiting" && e.cause?.code === "network-backoff"))).toBe(true);
      const before = states().length;
      await agent.reload(parseConfig(toml("internet.new-apn")));
      await Bun.sleep(300);
      expect(agent.state()).toBe("waiting");
      expect(states().slice(before).map((e) => e.state)).toEqual([]);
      const reloaded = agent.events.recent().find((e) => e.type === "agent.reloaded") as (EventBase & { detail?: string }) | undefined;
      expect(reloaded?.detail).toContain("network");
    } finally {
      await agent.stop("test done");
      await modem.stop();
    }
  }, 30_000);

  test("a reload while connected redials and the new APN is used", async () => {
    const modem = createInProcessModem({
      scheduler: new RealScheduler(),
      scenarios: ["healthy"],
      timeScale: RIG_TIME_SCALE,
      behaviour: { auth: { username: "u", password: "reload-test-pw" } },
    });
    const commands: string[] = [];
    modem.modem.events.on((e) => {
      if (e.type === "sim.command") commands.push(e.line);
    });
    const agent = await startAgent(parseConfig(toml("internet")), {
      log: createLogger({ level: "debug", format: "text", sink: new MemorySink() }),
      scheduler: new RealScheduler(),
      openPort: async () => modem.reopen(),
      timing: RIG_TIMING,
      noHttp: true,
    });
    const connected = () => (agent.events.recent().filter((e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === "connected")).length;
    try {
      expect(await until(() => connected() === 1)).toBe(true);
      await agent.reload(parseConfig(toml("internet.new-apn")));
      expect(await until(() => connected() === 2)).toBe(true);
      expect(commands.filter((c) => c.startsWith("AT+CGDCONT=")).at(-1)).toContain("internet.new-apn");
    } finally {
      await agent.stop("test done");
      await modem.stop();
    }
  }, 30_000);

  test("the maintenance window does not reset the module during a network back-off (a restart only restarts the network's timer)", async () => {
    const modem = createInProcessModem({
      scheduler: new RealScheduler(),
      scenarios: ["network-backoff:600"],
      timeScale: RIG_TIME_SCALE,
      behaviour: { auth: { username: "u", password: "reload-test-pw" } },
    });
    // Windows from +3 to +7 s: most open after the bring-up has met the back-off, even on a loaded machine.
    const sec = (d: number) => (new Date().getUTCSeconds() + d) % 60;
    const config = parseConfig(`${toml("internet")}[recovery.maintenance]\nschedule = "${[3, 4, 5, 6, 7].map(sec).join(",")} * * * * *"\naction = "reset-modem"\n`);
    const agent = await startAgent(config, {
      log: createLogger({ level: "debug", format: "text", sink: new MemorySink() }),
      scheduler: new RealScheduler(),
      openPort: async () => modem.reopen(),
      timing: RIG_TIMING,
      noHttp: true,
    });
    const types = () => agent.events.recent().map((e: EventBase) => e.type);
    try {
      expect(
        await until(() => agent.events.recent().some((e) => e.type === "modem.state" && (e as ModemStateEvent).cause?.code === "network-backoff"), 5_000),
      ).toBe(true);
      const since = agent.events.count();
      // Two windows open (every second) while the back-off runs.
      expect(await until(() => agent.events.recent().slice(-(agent.events.count() - since)).filter((e) => e.type === "recovery.maintenance").length >= 2, 15_000)).toBe(true);
      await Bun.sleep(100);
      const after = agent.events.recent().slice(-(agent.events.count() - since));
      expect(after.filter((e) => e.type === "recovery.action")).toEqual([]);
      expect(agent.state()).toBe("waiting");
      expect(types()).toContain("recovery.maintenance");
    } finally {
      await agent.stop("test done");
      await modem.stop();
    }
  }, 30_000);
});

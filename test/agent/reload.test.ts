/**
 * SIGHUP reload against the real agent: a changed link setting is applied by
 * redialling, but never by dialling through a network back-off (T3346/T3396):
 * the network said when to come back, and a failed dial during its timer
 * would count toward a module reset the back-off must never cause.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent } from "../../src/core/agent-events.ts";
import { until } from "../support/agent-rig.ts";
import { removeDir, rigConfig, startRig, tempDir, type RigOptions } from "./rig.ts";

const dir = tempDir("cellkeep-reload-");
afterAll(() => removeDir(dir));

const AUTH = { username: "u", password: "reload-test-pw" };

/** The config of every test here, with this APN. */
const tables = (apn: string): RigOptions["tables"] => ({
  network: `apn = "${apn}"`,
  auth: `method = "pap"\nusername = "${AUTH.username}"\npassword = "${AUTH.password}"`,
});

/** The agent (no HTTP, no control port) against a virtual modem in these scenarios. */
const start = (scenarios: string[], tail?: string) =>
  startRig({ dir, tables: tables("internet"), ...(tail ? { tail } : {}), scenarios, auth: AUTH, controlPort: false, overrides: { noHttp: true } });

describe("agent: config reload and the maintenance window", () => {
  test("a reload during a network back-off waits for the back-off instead of dialling now", async () => {
    const rig = await start(["network-backoff:600"]);
    const { agent } = rig;
    const states = () => agent.events.recent().filter((e: EventBase) => e.type === "modem.state") as ModemStateEvent[];
    try {
      expect(await until(() => states().some((e) => e.state === "waiting" && e.cause?.code === "network-backoff"))).toBe(true);
      const before = states().length;
      await agent.reload(rigConfig({ dir, tables: tables("internet.new-apn") }));
      await Bun.sleep(300);
      expect(agent.state()).toBe("waiting");
      expect(states().slice(before).map((e) => e.state)).toEqual([]);
      const reloaded = agent.events.recent().find((e) => e.type === "agent.reloaded") as (EventBase & { detail?: string }) | undefined;
      expect(reloaded?.detail).toContain("network");
    } finally {
      await rig.stop();
    }
  }, 30_000);

  test("a reload while connected redials and the new APN is used", async () => {
    const rig = await start(["healthy"]);
    const { agent } = rig;
    const commands: string[] = [];
    rig.modem.modem.events.on((e) => {
      if (e.type === "sim.command") commands.push(e.line);
    });
    const connected = () => (agent.events.recent().filter((e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === "connected")).length;
    try {
      expect(await until(() => connected() === 1)).toBe(true);
      await agent.reload(rigConfig({ dir, tables: tables("internet.new-apn") }));
      expect(await until(() => connected() === 2)).toBe(true);
      expect(commands.filter((c) => c.startsWith("AT+CGDCONT=")).at(-1)).toContain("internet.new-apn");
    } finally {
      await rig.stop();
    }
  }, 30_000);

  test("the maintenance window does not reset the module during a network back-off (a restart only restarts the network's timer)", async () => {
    // Windows from +3 to +7 s: most open after the bring-up has met the back-off, even on a loaded machine.
    const sec = (d: number) => (new Date().getUTCSeconds() + d) % 60;
    const rig = await start(["network-backoff:600"], `[recovery.maintenance]\nschedule = "${[3, 4, 5, 6, 7].map(sec).join(",")} * * * * *"\naction = "reset-modem"\n`);
    const { agent } = rig;
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
      await rig.stop();
    }
  }, 30_000);
});

/**
 * SIGHUP reload and the maintenance window against the real agent: a changed
 * link setting is applied by redialling, but never by dialling through a
 * network back-off (T3346/T3396): the network said when to come back, and a
 * failed dial during its timer would count toward a module reset the back-off
 * must never cause.
 *
 * Time is virtual: the agent (startAgent with an injected scheduler and cron
 * zone) and the in-process virtual modem share one ManualScheduler that starts
 * at a fixed UTC instant, so cron windows open at known times and every
 * assertion is about event times, never the wall clock. The driver jumps from
 * timer to timer after letting promise chains settle (test/modem/harness.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent, RecoveryActionEvent } from "../../src/core/agent-events.ts";
import { startAgent, type Agent } from "../../src/agent.ts";
import type { Config } from "../../src/config/schema.ts";
import { nullNotifier } from "../../src/systemd/notify.ts";
import { createInProcessModem, type InProcessModem } from "../../src/sim/in-process.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { EventRecorder } from "../support/agent-rig.ts";
import { runUntil } from "../modem/harness.ts";
import { removeDir, rigConfig, tempDir, type RigOptions } from "./rig.ts";

const dir = tempDir("cellkeep-reload-");
afterAll(() => removeDir(dir));

const AUTH = { username: "u", password: "reload-test-pw" };
/** Virtual time starts on a minute boundary, so "0 * * * * *" opens at T0 + 60 s, T0 + 120 s... */
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
const S = 1_000;

/** The config of every test here, with this APN. */
const tables = (apn: string): RigOptions["tables"] => ({
  network: `apn = "${apn}"`,
  auth: `method = "pap"\nusername = "${AUTH.username}"\npassword = "${AUTH.password}"`,
});

interface FakeRig {
  agent: Agent;
  sched: ManualScheduler;
  modem: InProcessModem;
  /** Every agent event since start. */
  events: EventBase[];
  /** AT commands the virtual modem received. */
  commands: string[];
  logs: MemorySink;
  /** The config object the agent started with (a reload must replace it, never mutate it). */
  initial: Config;
  /** Advance virtual time timer by timer until `cond()` or `maxMs` of virtual time passed. */
  run(cond: () => boolean, maxMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** The agent (no HTTP, no control port) against a virtual modem at real module durations, all on virtual time. */
async function start(scenarios: string[], tail?: string): Promise<FakeRig> {
  const sched = new ManualScheduler(T0);
  const modem = createInProcessModem({ scheduler: sched, scenarios, timeScale: 1, behaviour: { auth: AUTH } });
  const commands: string[] = [];
  modem.modem.events.on((e: SimEvent) => {
    if (e.type === "sim.command") commands.push(e.line);
  });
  const logs = new MemorySink();
  const initial = rigConfig({ dir, tables: tables("internet"), ...(tail ? { tail } : {}) });
  const agent = await startAgent(initial, {
    log: createLogger({ level: "info", format: "text", sink: logs, clock: () => sched.now() }),
    scheduler: sched,
    cron: { timezone: "UTC" },
    noHttp: true,
    openPort: async () => modem.reopen(),
    notifier: nullNotifier,
  });
  const recorder = new EventRecorder(agent.events);
  return {
    agent,
    sched,
    modem,
    events: recorder.all,
    commands,
    logs,
    initial,
    run: (cond, maxMs) => runUntil(sched, cond, maxMs),
    async stop() {
      const stopping = agent.stop("test done");
      await runUntil(sched, () => false, 10 * S);
      await stopping;
      recorder.stop();
      await modem.stop();
    },
  };
}

const isState = (e: EventBase): e is ModemStateEvent => e.type === "modem.state";
const isBackoff = (e: EventBase) => isState(e) && e.state === "waiting" && e.cause?.code === "network-backoff";
const isConnected = (e: EventBase) => isState(e) && e.state === "connected";

describe("agent: config reload and the maintenance window", () => {
  test("a reload during a network back-off waits for the back-off instead of dialling now", async () => {
    const rig = await start(["network-backoff:600"]);
    const { agent, events } = rig;
    try {
      expect(await rig.run(() => events.some(isBackoff), 60 * S)).toBe(true);
      const backoffAt = events.find(isBackoff)!.at;
      const before = events.length;
      await agent.reload(rigConfig({ dir, tables: tables("internet.new-apn") }));
      const reloaded = events.slice(before).find((e) => e.type === "agent.reloaded") as (EventBase & { detail?: string }) | undefined;
      expect(reloaded?.detail).toContain("network");
      // Five minutes of the ten-minute back-off pass: nothing moves.
      await rig.run(() => false, 300 * S);
      expect(agent.state()).toBe("waiting");
      expect(events.slice(before).filter(isState)).toEqual([]);
      expect(events.slice(before).filter((e) => e.type === "modem.dial")).toEqual([]);
      // When the network's timer runs out the agent dials, with the new APN.
      expect(await rig.run(() => events.slice(before).some(isConnected), 600 * S)).toBe(true);
      const dial = events.slice(before).find((e) => e.type === "modem.dial")!;
      expect(dial.at).toBeGreaterThanOrEqual(backoffAt + 600 * S);
      expect(rig.commands.filter((c) => c.startsWith("AT+CGDCONT=")).at(-1)).toContain("internet.new-apn");
    } finally {
      await rig.stop();
    }
  }, 30_000);

  test("a reload while connected redials and the new APN is used", async () => {
    const rig = await start(["healthy"]);
    const { agent, events } = rig;
    const connected = () => events.filter(isConnected).length;
    try {
      expect(await rig.run(() => connected() === 1, 60 * S)).toBe(true);
      expect(rig.commands.filter((c) => c.startsWith("AT+CGDCONT=")).at(-1)).toContain('"internet"');
      await agent.reload(rigConfig({ dir, tables: tables("internet.new-apn") }));
      expect(await rig.run(() => connected() === 2, 60 * S)).toBe(true);
      expect(rig.commands.filter((c) => c.startsWith("AT+CGDCONT=")).at(-1)).toContain("internet.new-apn");
      // The new config replaced the old one; the object every part got at start is untouched.
      expect(rig.initial.network.apn).toBe("internet");
    } finally {
      await rig.stop();
    }
  }, 30_000);

  test("the maintenance window does not reset the module during a network back-off (a restart only restarts the network's timer)", async () => {
    // A window at second 0 of every minute: T0 + 60 s, + 120 s, ... The back-off (600 s) is met within seconds of T0.
    const rig = await start(["network-backoff:600"], `[recovery.maintenance]\nschedule = "0 * * * * *"\naction = "reset-modem"\n`);
    const { agent, events } = rig;
    const windows = () => events.filter((e) => e.type === "recovery.maintenance");
    const actions = () => events.filter((e): e is RecoveryActionEvent => e.type === "recovery.action");
    try {
      expect(await rig.run(() => events.some(isBackoff), 60 * S)).toBe(true);
      const backoffAt = events.find(isBackoff)!.at;
      expect(windows()).toEqual([]);
      expect(backoffAt).toBeLessThan(T0 + 60 * S);
      // Windows open every minute while the back-off runs; each is skipped.
      expect(await rig.run(() => windows().length >= 2, 300 * S)).toBe(true);
      expect(windows().map((e) => e.at)).toEqual([T0 + 60 * S, T0 + 120 * S]);
      expect(actions()).toEqual([]);
      expect(agent.state()).toBe("waiting");
      expect(rig.logs.lines.filter((l) => l.includes("maintenance module-reset skipped"))).toHaveLength(2);
      // Through the whole back-off: no reset. When it ends the agent redials and connects.
      expect(await rig.run(() => events.some(isConnected), 900 * S)).toBe(true);
      const connectedAt = events.find(isConnected)!.at;
      expect(connectedAt).toBeGreaterThanOrEqual(backoffAt + 600 * S);
      expect(actions().map((a) => a.rung)).toEqual(["redial"]);
      // The control: the first window after the back-off does reset the module.
      const n = windows().length;
      expect(await rig.run(() => windows().length > n, 120 * S)).toBe(true);
      const next = windows()[n]!;
      expect(next.at).toBe(Math.ceil((connectedAt + 1) / (60 * S)) * 60 * S);
      expect(await rig.run(() => actions().some((a) => a.rung === "module-reset"), 1 * S)).toBe(true);
      expect(actions().find((a) => a.rung === "module-reset")!.at).toBe(next.at);
    } finally {
      await rig.stop();
    }
  }, 30_000);
});

/**
 * A real agent (src/agent.ts) against the in-process virtual modem on real
 * time, scaled: the modem runs at a small time scale and the agent gets small
 * timings, so a bring-up takes a fraction of a second. Tests wait on the
 * agent's typed event stream, never on fixed sleeps.
 *
 * The virtual modem has one AT interpreter per line; a gateway's modem has a
 * second AT port for polling while PPP owns the first. The rig gives the agent
 * a control port backed by a second virtual modem of the same model (already
 * booted, same SIM and network), so signal polling and the health modem check
 * run through the agent's real control-port code.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RealScheduler } from "../../src/core/clock.ts";
import { createLogger, MemorySink, type Logger } from "../../src/core/log.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { Config } from "../../src/config/schema.ts";
import { startAgent, type Agent, type AgentOverrides } from "../../src/agent.ts";
import type { SupervisorTiming } from "../../src/modem/supervisor.ts";
import { createInProcessModem, type InProcessModem } from "../../src/sim/in-process.ts";
import type { BehaviourOverrides } from "../../src/sim/scenario.ts";
import { configToml, EventRecorder, parseConfig as parseTestConfig, SCALED_TIMING, type ConfigParts } from "../support/agent-rig.ts";

/** Agent timings that match a modem time scale of a few hundredths; signal polling runs on the control port. */
export const RIG_TIMING: Partial<SupervisorTiming> = { ...SCALED_TIMING, signalPollMs: 500 };

export const RIG_TIME_SCALE = 0.05;

export interface RigOptions {
  /** Directory of the state file (recovery.json); the test creates and removes it. */
  dir: string;
  /** TOML per table on top of configToml's fast defaults; [modem] points at the in-process modem. */
  tables?: ConfigParts["tables"];
  /** TOML after every table, e.g. a [recovery.maintenance] table. */
  tail?: string;
  /** Virtual-modem scenarios of the data port (default ["healthy"]); a control port is always healthy. */
  scenarios?: string[];
  /** Credentials the virtual network accepts. */
  auth?: { username: string; password: string };
  behaviour?: BehaviourOverrides;
  /** Give the agent a control port (default true). */
  controlPort?: boolean;
  overrides?: Omit<AgentOverrides, "scheduler" | "openPort" | "openControlPort" | "timing">;
  logLevel?: "debug" | "info";
}

export interface Rig {
  agent: Agent;
  /** The agent's scheduler. The modems run on their own, so its pending timers are the agent's alone. */
  scheduler: RealScheduler;
  modem: InProcessModem;
  control: InProcessModem | null;
  config: Config;
  logSink: MemorySink;
  log: Logger;
  /** Every event the agent emitted: its bus history when the rig subscribed, then every live one (not bounded by the bus ring). */
  events: EventBase[];
  /** Resolves with the first event (after `since`, an index into `events`) matching `pred`; rejects after `timeoutMs`. */
  waitFor<T extends EventBase = EventBase>(pred: (e: EventBase) => boolean, timeoutMs?: number, since?: number): Promise<T>;
  stop(): Promise<void>;
}

export function tempDir(prefix = "cellkeep-agent-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function parseConfig(toml: string): Config {
  return parseTestConfig(toml, "agent-test.toml");
}

/** The config a rig runs: configToml's fast defaults, the tables of the test, [modem] on the in-process modem. */
export function rigConfig(o: Pick<RigOptions, "dir" | "tables" | "tail">): Config {
  return parseConfig(
    configToml({ port: "/dev/null", stateFile: join(o.dir, "recovery.json"), ...(o.tables ? { tables: o.tables } : {}), ...(o.tail ? { tail: o.tail } : {}) }),
  );
}

export async function startRig(o: RigOptions): Promise<Rig> {
  const scheduler = new RealScheduler();
  const modemScheduler = new RealScheduler();
  const config = rigConfig(o);
  const behaviour: BehaviourOverrides = { ...(o.auth ? { auth: o.auth } : {}), ...(o.behaviour ?? {}) };
  const modem = createInProcessModem({ scheduler: modemScheduler, scenarios: o.scenarios ?? ["healthy"], timeScale: RIG_TIME_SCALE, behaviour });
  const control = (o.controlPort ?? true) ? createInProcessModem({ scheduler: modemScheduler, scenarios: ["healthy"], timeScale: RIG_TIME_SCALE, booted: true, behaviour }) : null;
  const logSink = new MemorySink();
  const log = createLogger({ level: o.logLevel ?? "debug", format: "text", sink: logSink });

  let agent: Agent;
  try {
    agent = await startAgent(config, {
      log,
      scheduler,
      openPort: async () => modem.reopen(),
      ...(control ? { openControlPort: async () => control.reopen() } : {}),
      timing: RIG_TIMING,
      ...(o.overrides ?? {}),
    });
  } catch (err) {
    await modem.stop();
    await control?.stop();
    throw err;
  }
  const recorder = new EventRecorder(agent.events);
  const events = recorder.all;

  return {
    agent,
    scheduler,
    modem,
    control,
    config,
    logSink,
    log,
    events,
    waitFor<T extends EventBase = EventBase>(pred: (e: EventBase) => boolean, timeoutMs = 10_000, since = recorder.length): Promise<T> {
      return recorder.waitFor(pred, timeoutMs, since) as Promise<T>;
    },
    async stop() {
      await agent.stop("test done");
      recorder.stop();
      await modem.stop();
      await control?.stop();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

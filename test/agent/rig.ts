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
import { EventRecorder, parseConfig as parseTestConfig, SCALED_TIMING } from "../support/agent-rig.ts";

/** Agent timings that match a modem time scale of a few hundredths; signal polling runs on the control port. */
export const RIG_TIMING: Partial<SupervisorTiming> = { ...SCALED_TIMING, signalPollMs: 500 };

export const RIG_TIME_SCALE = 0.05;

export interface RigOptions {
  /** TOML text of the whole config except [modem] (the rig writes that). */
  toml: string;
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

export async function startRig(o: RigOptions): Promise<Rig> {
  const scheduler = new RealScheduler();
  const modemToml = `[modem]\nport = "/dev/null"\ncontrol_port = "none"\nprofile = "auto"\n`;
  const config = parseConfig(modemToml + o.toml);
  const behaviour: BehaviourOverrides = { ...(o.auth ? { auth: o.auth } : {}), ...(o.behaviour ?? {}) };
  const modem = createInProcessModem({ scheduler, scenarios: ["healthy"], timeScale: RIG_TIME_SCALE, behaviour });
  const control = (o.controlPort ?? true) ? createInProcessModem({ scheduler, scenarios: ["healthy"], timeScale: RIG_TIME_SCALE, booted: true, behaviour }) : null;
  const logSink = new MemorySink();
  const log = createLogger({ level: o.logLevel ?? "debug", format: "text", sink: logSink });

  const agent = await startAgent(config, {
    log,
    scheduler,
    openPort: async () => modem.reopen(),
    ...(control ? { openControlPort: async () => control.reopen() } : {}),
    timing: RIG_TIMING,
    ...(o.overrides ?? {}),
  });
  const recorder = new EventRecorder(agent.events);
  const events = recorder.all;

  return {
    agent,
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

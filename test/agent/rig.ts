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
import { loadConfigText, formatIssue } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { startAgent, type Agent, type AgentOverrides } from "../../src/agent.ts";
import type { SupervisorTiming } from "../../src/modem/supervisor.ts";
import { createInProcessModem, type InProcessModem } from "../../src/sim/in-process.ts";
import type { BehaviourOverrides } from "../../src/sim/scenario.ts";

/** Agent timings that match a modem time scale of a few hundredths. */
export const RIG_TIMING: Partial<SupervisorTiming> = {
  syncIntervalMs: 50,
  syncEscapeAfterMs: 1_000,
  simReadyTimeoutMs: 2_000,
  simPollMs: 100,
  registrationTimeoutMs: 4_000,
  registrationPollMs: 100,
  attachTimeoutMs: 4_000,
  attachPollMs: 100,
  negotiateTimeoutMs: 5_000,
  pppStopTimeoutMs: 500,
  escapeGuardMs: 50,
  portReturnTimeoutMs: 4_000,
  portRetryMs: 100,
  signalPollMs: 500,
};

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
  /** Every event the agent emitted since start (not bounded by the bus ring). */
  events: EventBase[];
  /** Resolves with the first event (after `since`, an index into `events`) matching `pred`; rejects after `timeoutMs`. */
  waitFor<T extends EventBase = EventBase>(pred: (e: EventBase) => boolean, timeoutMs?: number, since?: number): Promise<T>;
  stop(): Promise<void>;
}

export function tempDir(prefix = "cellkeep-agent-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function parseConfig(toml: string): Config {
  const r = loadConfigText(toml, "agent-test.toml");
  if (!r.ok) throw new Error(`test config invalid:\n${r.issues.map((i) => formatIssue("agent-test.toml", i)).join("\n")}\n${toml}`);
  return r.config;
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
  const events: EventBase[] = [];
  const waiters = new Set<{ pred: (e: EventBase) => boolean; resolve: (e: EventBase) => void }>();

  const agent = await startAgent(config, {
    log,
    scheduler,
    openPort: async () => modem.reopen(),
    ...(control ? { openControlPort: async () => control.reopen() } : {}),
    timing: RIG_TIMING,
    ...(o.overrides ?? {}),
  });
  agent.events.on((e) => {
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.delete(w);
        w.resolve(e);
      }
    }
  });

  return {
    agent,
    modem,
    control,
    config,
    logSink,
    log,
    events,
    waitFor<T extends EventBase = EventBase>(pred: (e: EventBase) => boolean, timeoutMs = 10_000, since = events.length): Promise<T> {
      const seen = events.slice(since).find(pred);
      if (seen) return Promise.resolve(seen as T);
      return new Promise<T>((resolve, reject) => {
        const w = {
          pred,
          resolve: (e: EventBase) => {
            clearTimeout(timer);
            resolve(e as T);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching event within ${timeoutMs} ms; agent state ${agent.state()}; last events: ${events.slice(-8).map((e) => e.type).join(", ")}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async stop() {
      await agent.stop("test done");
      await modem.stop();
      await control?.stop();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

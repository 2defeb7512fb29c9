/**
 * End-to-end harness: the whole agent (src/agent.ts, real serial binding,
 * real PPP stack, health, recovery ladder with its state file) against the
 * virtual modem on a real pseudo-terminal. Time is real but scaled: the sim
 * runs at a small time scale and the agent gets small timings, so a scenario
 * takes a few seconds. Tests wait on the typed event stream, never on sleeps.
 */
import { existsSync, mkdtempSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/schema.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import type { EventBase, EventBus } from "../../src/core/events.ts";
import type { AgentEvent, ModemStateEvent, RecoveryActionEvent, HealthProbeEvent, PppUpEvent, LinkState, ProbeKind } from "../../src/core/agent-events.ts";
import type { SupervisorTiming } from "../../src/modem/supervisor.ts";
import { startAgent, type Agent, type AgentOverrides } from "../../src/agent.ts";
import { startSimulatorOnPty, type SimulatorHandle, type SimulatorOnPtyOptions } from "../../src/sim/simulate.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { configToml, EventRecorder, parseConfig, SCALED_TIMING, type ConfigParts } from "../support/agent-rig.ts";

/** Agent timings scaled down to match a sim time scale of a few hundredths; no signal polling (one AT port). */
export const FAST_TIMING: Partial<SupervisorTiming> = { ...SCALED_TIMING, signalPollMs: 0 };

const dirs = new Set<string>();

/** A fresh directory under the system temp dir; stopAllRigs() removes it even if the test timed out. */
export function tempDir(prefix = "cellkeep-e2e-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export { configToml, EventRecorder, parseConfig, type ConfigParts } from "../support/agent-rig.ts";

/** Convenience predicates on the agent's events. */
export const is = {
  state:
    (state: LinkState, causeCode?: string) =>
    (e: EventBase): e is ModemStateEvent =>
      e.type === "modem.state" && (e as ModemStateEvent).state === state && (causeCode === undefined || (e as ModemStateEvent).cause?.code === causeCode),
  /** Any state change that carries this cause code. */
  cause:
    (causeCode: string) =>
    (e: EventBase): e is ModemStateEvent =>
      e.type === "modem.state" && (e as ModemStateEvent).cause?.code === causeCode,
  action:
    (rung?: RecoveryActionEvent["rung"]) =>
    (e: EventBase): e is RecoveryActionEvent =>
      e.type === "recovery.action" && (rung === undefined || (e as RecoveryActionEvent).rung === rung),
  /** A successful health probe (of this kind). */
  probeOk:
    (kind?: ProbeKind) =>
    (e: EventBase): e is HealthProbeEvent =>
      e.type === "health.probe" && (e as HealthProbeEvent).ok && (kind === undefined || (e as HealthProbeEvent).probe === kind),
  pppUp: (e: EventBase): e is PppUpEvent => e.type === "ppp.up",
};

export interface RigOptions {
  scenarios: string[];
  timeScale?: number;
  /** Sim behaviour overrides (scaled ms), e.g. expected credentials. */
  behaviour?: SimulatorOnPtyOptions["behaviour"];
  tables?: ConfigParts["tables"];
  /** TOML after every table (tables the rig has no defaults for, e.g. [radio], [usage] or [sms]). */
  tail?: string;
  timing?: Partial<SupervisorTiming>;
  overrides?: AgentOverrides;
  /** Reuse a directory (and so the state file) of an earlier rig. */
  dir?: string;
  /** Do not start the simulator (a test that reuses an existing one). */
  sim?: SimulatorHandle;
}

export interface Rig {
  dir: string;
  port: string;
  stateFile: string;
  config: Config;
  toml: string;
  sim: SimulatorHandle;
  simEvents: EventRecorder<SimEvent>;
  agent: Agent;
  /** The agent's events. Typed as the cross-module union; finer module events are recorded too. */
  events: EventRecorder<AgentEvent>;
  logs: MemorySink;
  /** Stop the agent (and the simulator and the directory, unless kept). Idempotent. */
  stop(opts?: { keepSim?: boolean; keepDir?: boolean }): Promise<void>;
}

const live = new Set<Rig>();

/** Start the simulator on a pty in a fresh temp dir and the agent on it. */
export async function startRig(o: RigOptions): Promise<Rig> {
  const dir = o.dir ?? tempDir();
  const port = join(dir, "ttySIM");
  const stateFile = join(dir, "recovery.json");
  const sim =
    o.sim ??
    startSimulatorOnPty({
      link: port,
      scenarios: o.scenarios,
      timeScale: o.timeScale ?? 0.02,
      // The network checks the configured login, except where a scenario says it rejects every login.
      behaviour: { ...(o.scenarios.some((s) => s.startsWith("wrong-credentials")) ? {} : { auth: { username: "e2e", password: "e2e-secret" } }), ...o.behaviour },
    });
  const simEvents = new EventRecorder<SimEvent>(sim.modem.events);
  const toml = configToml({ port: sim.path, stateFile, ...(o.tables ? { tables: o.tables } : {}), ...(o.tail ? { tail: o.tail } : {}) });
  let config: Config;
  try {
    config = parseConfig(toml);
  } catch (err) {
    simEvents.stop();
    if (!o.sim) await sim.stop();
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const logs = new MemorySink();
  const log = createLogger({ level: "debug", format: "text", sink: logs });
  let agent: Agent;
  try {
    agent = await startAgent(config, { log, noHttp: true, timing: { ...FAST_TIMING, ...o.timing }, ...o.overrides });
  } catch (err) {
    simEvents.stop();
    if (!o.sim) await sim.stop();
    if (!o.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const events = new EventRecorder<AgentEvent>(agent.events as unknown as EventBus<AgentEvent>);
  let stopping: Promise<void> | null = null;
  const rig: Rig = {
    dir,
    port,
    stateFile,
    config,
    toml,
    sim,
    simEvents,
    agent,
    events,
    logs,
    stop(opts = {}) {
      stopping ??= (async () => {
        try {
          await agent.stop("test done");
        } finally {
          events.stop();
          simEvents.stop();
          if (!opts.keepSim) await sim.stop();
          if (!opts.keepDir && !o.dir) rmSync(dir, { recursive: true, force: true });
          live.delete(rig);
        }
      })();
      return stopping;
    },
  };
  live.add(rig);
  return rig;
}

/** afterEach: stop whatever a failed test left running. */
const closers = new Set<() => void>();

/**
 * recovery.power_cycle for a simulator in this process: the config's command
 * is a shell `touch FLAG`; when the flag appears the test removes it and
 * power-cycles the sim, as a GPIO relay would. Returns the count so far.
 */
export function powerCycleOnFlag(r: { dir: string; sim: SimulatorHandle }, flag: string): { count: () => number; close: () => void } {
  let n = 0;
  const w = watch(r.dir, () => {
    if (!existsSync(flag)) return;
    try {
      rmSync(flag);
    } catch {
      return; // an earlier callback of the same change took it
    }
    n++;
    r.sim.powerCycle();
  });
  const close = () => {
    closers.delete(close);
    w.close();
  };
  closers.add(close);
  return { count: () => n, close };
}

export interface HangRig {
  rig: Rig;
  /** Power cycles the relay flag has done so far. */
  powerCycles: () => number;
  /** Close the flag watcher, stop the rig, remove its directory. */
  stop(): Promise<void>;
}

/**
 * The hang scenario with a power-cycle relay: the ladder's first reset comes
 * at once (backoff 0 s), and recovery.power_cycle touches a flag that
 * powerCycleOnFlag turns into a sim power cycle. The vendor's 60 s hung
 * limit, 15 s CFUN limit and 30 s boot wait are scaled down.
 */
export async function startHangRig(): Promise<HangRig> {
  const dir = tempDir();
  const flag = join(dir, "power-cycled");
  const rig = await startRig({
    dir,
    scenarios: ["hang"],
    tables: { recovery: `backoff = ["0s"]\npower_cycle = "touch '${flag}'"` },
    timing: { profileLimits: { hungAfter: 1_000, cfun: 500 }, bootTimeoutMs: 800 },
  });
  const pc = powerCycleOnFlag(rig, flag);
  return {
    rig,
    powerCycles: pc.count,
    async stop() {
      pc.close();
      try {
        await rig.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export async function stopAllRigs(): Promise<void> {
  for (const c of [...closers]) c();
  for (const r of [...live]) await r.stop().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Sim commands the modem received (AT lines), in order. */
export function simCommands(r: Rig): string[] {
  return r.simEvents.of("sim.command").map((e) => e.line);
}

// ───────────────────────────── child processes (demo, run, simulate) ─────────────────────────────

/** The repository root and the CLI entry point the built binary is compiled from. */
export const REPO = join(import.meta.dir, "..", "..");
export const MAIN = join(REPO, "src", "main.ts");

/** A TCP port on 127.0.0.1 that was free a moment ago (for child processes that need a fixed --listen). */
export function freePort(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port;
  void s.stop(true);
  if (port === undefined) throw new Error("no free port");
  return port;
}

/** A cellkeep child process with its stdout/stderr collected as text. */
export class Child {
  readonly proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  stdout = "";
  stderr = "";
  private waiters = new Set<() => void>();
  readonly exited: Promise<number>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = Bun.spawn([process.execPath, MAIN, ...args], {
      cwd: REPO,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NOTIFY_SOCKET: "", WATCHDOG_USEC: "", ...env },
    });
    const pump = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const dec = new TextDecoder();
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this[into] += dec.decode(value, { stream: true });
        for (const w of [...this.waiters]) w();
      }
    };
    const drained = Promise.all([pump(this.proc.stdout, "stdout"), pump(this.proc.stderr, "stderr")]);
    this.exited = this.proc.exited.then(async (code) => {
      await drained.catch(() => {});
      for (const w of [...this.waiters]) w();
      return code;
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Resolves once stdout+stderr match; rejects with the output after `timeoutMs` or if the process exits first. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        const m = (this.stdout + this.stderr).match(re);
        if (m) {
          done();
          resolve(m);
        } else if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          done();
          reject(new Error(`process exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${re}:\n${this.stderr.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${re} within ${timeoutMs} ms; output:\n${this.stdout.slice(-2000)}\n${this.stderr.slice(-4000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
  }

  /** finally: make sure it is gone (SIGKILL after a grace period). */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 3_000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Is a process with this pid still there? */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** GET /status until `pred` holds (the server may not be listening yet). */
export async function pollStatus(
  url: string,
  pred: (s: { state?: string; cause?: { code?: string } | null } & Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) {
        last = await res.json();
        if (pred(last as Record<string, unknown>)) return last as Record<string, unknown>;
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`status never matched within ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await Bun.sleep(100); // polling an HTTP endpoint of another process: no event stream to wait on
  }
}

/**
 * afterEach of the tun-mode tests: stop every rig (bounded: a stuck agent must
 * not keep namespaces alive), remove the namespaces, the TUN links left in the
 * root namespace (a TUN still open when its namespace is deleted moves back
 * there), and the test's temp dirs.
 */
export async function cleanupNetnsRigs(
  label: string,
  h: { cleanup(): Promise<void> },
  links: Set<string>,
  runCmd: (argv: string[]) => Promise<unknown>,
  dirsToRemove: Set<string> = new Set(),
): Promise<void> {
  let timer: Timer | undefined;
  try {
    await Promise.race([
      stopAllRigs(),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          console.error(`${label}: the agent did not stop within 10 s; removing everything anyway`);
          resolve();
        }, 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await h.cleanup();
    for (const l of links) await runCmd(["ip", "link", "del", "dev", l]);
    links.clear();
    for (const d of dirsToRemove) rmSync(d, { recursive: true, force: true });
    dirsToRemove.clear();
  }
}

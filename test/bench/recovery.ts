/**
 * Recovery benchmark: `bun test/bench/recovery.ts [--scale X] [--rows a,b] [--trace]`
 * (or `RECOVERY_SCALE=0.1 npm run bench recovery`). Not part of `bun test`.
 *
 * The whole agent (src/agent.ts with its default timings and a config of
 * realistic defaults) against the virtual BG96 on a real pseudo-terminal, one
 * fault scenario per row, timed in modem time, and a table:
 *
 *   detect     fault injected → the agent leaves `connected` or names a cause
 *   up again   fault injected → `connected` again
 *   after fix  the fault's end (registration back, the fixing reload, T3396
 *              expiry, the power cycle) → `connected` again
 *   dials      modem.dial events after the fault; resets: recovery.action
 *              module-reset; pcycles: recovery.action power-cycle
 *   goal       whether the row's goal is met (see ROWS); the goals are fixed,
 *              the agent is what is measured, so "no" is a finding, not a bug here
 *
 * Time: agent and modem share one scheduler. At --scale 1 (the default) it is
 * the real clock: real BG96 delays (the sim at time scale 1) and the agent's
 * real timeouts. --scale X runs that clock X times as fast (0.1: ten times
 * faster): every timer of the agent and of the modem, whether it comes from
 * the config, a SupervisorTiming default or a constant inside a module, fires
 * after X × its delay in real time, and every timestamp reads modem time. So
 * the figures are already converted back to modem time. What the scheduler
 * does not own (pty and event-loop latency, the `touch` of the power-cycle
 * command) is stretched by 1/X in those figures, so a small X adds a little;
 * the "within T" goals allow SLACK_REAL_MS of real time for it (20 ms, i.e.
 * 0.2 s of modem time at --scale 0.1), and the figures show it unhidden.
 *
 * Each row has a limit in modem time; a row that does not reach its milestone
 * prints "timeout" and the bench goes on. Every agent, simulator, pty,
 * watcher and temp directory a row makes is removed when the row ends,
 * whatever happened.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/schema.ts";
import type { Scheduler, CancelTimer } from "../../src/core/clock.ts";
import type { EventBase, EventBus } from "../../src/core/events.ts";
import type { ModemDialEvent, ModemStateEvent, RecoveryActionEvent, RecoveryStateEvent } from "../../src/core/agent-events.ts";
import { createLogger, type LogSink } from "../../src/core/log.ts";
import { startAgent, type Agent } from "../../src/agent.ts";
import { RESET_RUNGS, RecoveryLadder, ladderOptionsFromConfig, type LadderSnapshot } from "../../src/health/ladder.ts";
import { cause } from "../../src/core/cause.ts";
import { nullNotifier } from "../../src/systemd/notify.ts";
import { startSimulatorOnPty, type SimulatorHandle } from "../../src/sim/simulate.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import type { BehaviourOverrides } from "../../src/sim/scenario.ts";
import { EventRecorder, parseConfig } from "../support/agent-rig.ts";
import { powerCycleOnFlag } from "../e2e/harness.ts";

// ───────────────────────────── options ─────────────────────────────

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  return a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[i + 1];
}
const SCALE = Number(option("scale") ?? process.env.RECOVERY_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 10)) {
  console.error(`recovery bench: --scale must be a number in (0, 10], got ${option("scale") ?? process.env.RECOVERY_SCALE}`);
  process.exit(2);
}
const ONLY = (option("rows") ?? "").split(",").filter((s) => s !== "");
const TRACE = argv.includes("--trace");

// ───────────────────────────── a clock X times as fast ─────────────────────────────

/** setTimeout's delay is a signed 32-bit count of ms; longer waits are taken in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The real clock, run `scale` times as fast: now() is modem time, a timer for
 * modem time T fires after (T - now) × scale real ms. At scale 1 it is the
 * RealScheduler.
 */
class WarpScheduler implements Scheduler {
  private readonly t0 = Date.now();
  private readonly live = new Set<() => void>();
  constructor(readonly scale: number) {}
  now(): number {
    return this.t0 + Math.floor((Date.now() - this.t0) / this.scale);
  }
  setTimer(at: number, fn: () => void): CancelTimer {
    let handle: ReturnType<typeof setTimeout> | undefined;
    const cancel = () => {
      if (handle !== undefined) clearTimeout(handle);
      this.live.delete(cancel);
    };
    const arm = () => {
      const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil((at - this.now()) * this.scale)));
      handle = setTimeout(() => {
        if (!this.live.has(cancel)) return;
        // Early by a rounding step or a long wait taken in pieces: wait the rest.
        if (this.now() < at) return arm();
        this.live.delete(cancel);
        fn();
      }, delay);
    };
    this.live.add(cancel);
    arm();
    return cancel;
  }
  /** Real ms for `ms` of modem time. */
  real(ms: number): number {
    return ms * this.scale;
  }
  pendingCount(): number {
    return this.live.size;
  }
}

const clock = new WarpScheduler(SCALE);

/** Real-time latency (pty, event loop) a "within T" goal allows, in modem ms. */
const SLACK_REAL_MS = 20;
const SLACK = SLACK_REAL_MS / SCALE;
/** `ms` is within `limit` (modem ms), allowing the latency the clock cannot scale. */
const within = (ms: number, limit: number) => ms <= limit + SLACK;

// ───────────────────────────── one row's rig ─────────────────────────────

/** The credentials the virtual network accepts in every row. */
const USER = "bench";
const PASSWORD = "bench-secret";
const APN = "internet";

interface ConfigOptions {
  port: string;
  stateFile: string;
  apn?: string;
  password?: string;
  /** Extra TOML lines per table (realistic defaults otherwise: the schema's). */
  ppp?: string;
  recovery?: string;
}

/** A config with the schema's defaults except the port, one AT port, no TUN, no HTTP. */
function benchConfig(o: ConfigOptions): Config {
  const toml = `
[modem]
port = ${JSON.stringify(o.port)}
control_port = "none"
profile = "auto"

[network]
apn = ${JSON.stringify(o.apn ?? APN)}

[auth]
method = "auto"
username = "${USER}"
password = ${JSON.stringify(o.password ?? PASSWORD)}

[ppp]
${o.ppp ?? ""}

[link]
mode = "none"

[health]
targets = ["8.8.8.8"]

[recovery]
state_file = ${JSON.stringify(o.stateFile)}
${o.recovery ?? ""}

[log]
level = "info"
`;
  return parseConfig(toml, "recovery-bench.toml");
}

/** Keeps the last log lines (for a failed row's story). */
class TailSink implements LogSink {
  lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 40) this.lines.shift();
  }
}

interface RowContext {
  sim: SimulatorHandle;
  agent: Agent;
  config: Config;
  events: EventRecorder<EventBase>;
  simEvents: EventRecorder<SimEvent>;
  /** Modem time the row started (the simulator's power-on). */
  start: number;
  /** Modem time the row must be done by. */
  deadline: number;
  /** Power cycles done by the relay flag, when the row has one. */
  powerCycles: () => number;
  log: TailSink;
  options: ConfigOptions;
  /** Stop everything the row started and remove its directory. Idempotent. */
  close: () => Promise<void>;
}

interface RowSetup {
  scenarios: string[];
  behaviour?: BehaviourOverrides;
  config?: Omit<ConfigOptions, "port" | "stateFile">;
  /** A relay for recovery.power_cycle: `touch FLAG`, turned into a sim power cycle. */
  powerCycle?: boolean;
  /** Before the agent starts: e.g. write a state file. */
  prepare?: (c: { dir: string; stateFile: string; now: number; config: Config }) => void;
}

const live = new Set<() => Promise<void>>();

async function openRow(setup: RowSetup, limitMs: number): Promise<RowContext> {
  const dir = mkdtempSync(join(tmpdir(), "cellkeep-bench-recovery-"));
  const port = join(dir, "ttySIM");
  const stateFile = join(dir, "recovery.json");
  const flag = join(dir, "power-cycled");
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    live.delete(close);
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // best effort: the rest still goes
      }
    }
  };
  live.add(close);
  try {
    const options: ConfigOptions = {
      port,
      stateFile,
      ...setup.config,
      ...(setup.powerCycle ? { recovery: `${setup.config?.recovery ?? ""}\npower_cycle = "touch '${flag}'"` } : {}),
    };
    const config = benchConfig(options);
    setup.prepare?.({ dir, stateFile, now: clock.now(), config });
    const sim = startSimulatorOnPty({
      link: port,
      scenarios: setup.scenarios,
      timeScale: 1,
      scheduler: clock,
      behaviour: { auth: { username: USER, password: PASSWORD }, ...setup.behaviour },
    });
    cleanups.push(() => sim.stop());
    const simEvents = new EventRecorder<SimEvent>(sim.modem.events);
    cleanups.push(() => simEvents.stop());
    const start = simEvents.all.find((e) => e.type === "sim.power" && e.reason === "power-on")?.at ?? clock.now();
    let powerCycles = () => 0;
    if (setup.powerCycle) {
      const pc = powerCycleOnFlag({ dir, sim }, flag);
      cleanups.push(() => pc.close());
      powerCycles = pc.count;
    }
    const log = new TailSink();
    const agent = await startAgent(config, {
      log: createLogger({ level: "info", format: "text", sink: log, clock: () => clock.now() }),
      scheduler: clock,
      noHttp: true,
      notifier: nullNotifier,
    });
    cleanups.push(async () => {
      // A wedged stop must not hold the bench: give it 10 s of real time.
      await Promise.race([agent.stop("row done"), Bun.sleep(10_000)]);
    });
    const events = new EventRecorder<EventBase>(agent.events as EventBus<EventBase>);
    cleanups.push(() => events.stop());
    if (TRACE) cleanups.push(trace(events, simEvents, start));
    return { sim, agent, config, events, simEvents, start, deadline: start + limitMs, powerCycles, log, options, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** --trace: print state changes, actions and modem events as they happen (modem time from the row's start); returns its stop. */
function trace(events: EventRecorder<EventBase>, simEvents: EventRecorder<SimEvent>, t0: number): () => void {
  const at = (t: number) => `${((t - t0) / 1000).toFixed(1).padStart(8)} s`;
  const show = (e: EventBase, line: string) => console.log(`${at(e.at)} ${line}`);
  let seenA = 0;
  let seenS = 0;
  const timer = setInterval(() => {
    for (; seenA < events.all.length; seenA++) {
      const e = events.all[seenA]!;
      if (e.type === "modem.state") {
        const m = e as ModemStateEvent;
        show(e, `state ${m.previous} → ${m.state}${m.cause ? ` (${m.cause.code}${m.cause.detail ? `: ${m.cause.detail}` : ""})` : ""}`);
      } else if (e.type === "recovery.action") show(e, `action ${(e as RecoveryActionEvent).rung}: ${(e as RecoveryActionEvent).reason}`);
      else if (e.type === "recovery.state") show(e, `ladder ${JSON.stringify({ ...e, type: undefined, at: undefined })}`);
      else if (e.type === "modem.dial") show(e, `dial ${(e as ModemDialEvent).result}${(e as ModemDialEvent).cause ? ` ${(e as ModemDialEvent).cause!.code}` : ""}`);
      else if (e.type === "agent.reloaded") show(e, `reloaded ${JSON.stringify(e)}`);
    }
    for (; seenS < simEvents.all.length; seenS++) {
      const e = simEvents.all[seenS]!;
      if (e.type === "sim.command" && !/^AT(\+CSQ|\+QCSQ|\+QNWINFO|\+COPS\?)?$/i.test(e.line)) show(e, `    sim ${e.line} → ${e.result}`);
      else if (e.type === "sim.unheard" && e.line !== "AT") show(e, `    sim (unheard, ${e.state}) ${e.line}`);
      else if (e.type !== "sim.command" && e.type !== "sim.unheard") show(e, `    ${JSON.stringify({ ...e, at: undefined })}`);
    }
  }, 50);
  timer.unref();
  return () => clearInterval(timer);
}

// ───────────────────────────── waiting in modem time ─────────────────────────────

type Pred<E> = (e: E) => boolean;

/** The first event matching `pred`, or null once `until` (modem time) has passed. */
async function waitEvent<E extends EventBase>(rec: EventRecorder<E>, pred: Pred<E>, until: number): Promise<E | null> {
  const left = until - clock.now();
  const found = rec.all.find(pred);
  if (found) return found;
  if (left <= 0) return null;
  try {
    return await rec.waitFor(pred, Math.max(1, Math.ceil(clock.real(left))));
  } catch {
    return null;
  }
}

/** Let `ms` of modem time pass. */
function pass(ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(clock.now() + ms, resolve));
}

const state = (s: string) => (e: EventBase) => e.type === "modem.state" && (e as ModemStateEvent).state === s;
const after = (t: number, p: Pred<EventBase>) => (e: EventBase) => e.at >= t && p(e);
/** The agent leaves `connected` or names a cause. */
const detection = (e: EventBase) => e.type === "modem.state" && ((e as ModemStateEvent).previous === "connected" || (e as ModemStateEvent).cause !== null);
/** A dial the network refused (NO CARRIER instead of CONNECT). */
const refusedDial = (e: SimEvent) => e.type === "sim.command" && /^ATD/i.test(e.line) && e.result === "NO CARRIER";
const registered = (e: SimEvent) => e.type === "sim.registration" && (e.stat === 1 || e.stat === 5);

// ───────────────────────────── results ─────────────────────────────

interface RowResult {
  detectMs: number | null;
  /** null: never; "timeout": the row's limit passed first. */
  upMs: number | null | "timeout";
  afterFixMs: number | null | "timeout";
  dials: number;
  resets: number;
  powerCycles: number;
  goal: boolean | null;
  notes: string[];
}

/** The counters every row reports, from `from` (the fault) on. */
function counts(c: RowContext, from: number): Pick<RowResult, "dials" | "resets" | "powerCycles"> {
  const actions = c.events.all.filter((e): e is RecoveryActionEvent => e.type === "recovery.action" && e.at >= from);
  return {
    dials: c.events.all.filter((e) => e.type === "modem.dial" && e.at >= from).length,
    resets: actions.filter((a) => a.rung === "module-reset").length,
    powerCycles: actions.filter((a) => a.rung === "power-cycle").length,
  };
}

function causeOf(e: EventBase | null): string {
  const m = e as ModemStateEvent | null;
  if (!m) return "nothing detected";
  return m.cause ? `${m.previous} → ${m.state} (${m.cause.code})` : `${m.previous} → ${m.state}`;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : ms < 100_000 ? 1 : 0)} s`;

function actionsOf(c: RowContext, from: number): string {
  const rungs = c.events.all.filter((e): e is RecoveryActionEvent => e.type === "recovery.action" && e.at >= from).map((a) => a.rung);
  if (rungs.length === 0) return "no recovery action";
  const out: string[] = [];
  for (const r of rungs) {
    const last = out.at(-1);
    const m = last ? /^(.*?)(?: ×(\d+))?$/.exec(last) : null;
    if (m && m[1] === r) out[out.length - 1] = `${r} ×${Number(m[2] ?? 1) + 1}`;
    else out.push(r);
  }
  return `actions: ${out.join(", ")}`;
}

/** Resets the modem actually took (the AT reset answered, power cycles), from the sim's side. */
function simResets(c: RowContext, from: number): number {
  return c.simEvents.all.filter((e) => e.type === "sim.power" && e.at >= from && e.state === "booting" && (e.reason === "cfun-reset" || e.reason === "power-cycle")).length;
}

// ───────────────────────────── the rows ─────────────────────────────

interface Row {
  id: string;
  title: string;
  /** Limit in modem time. */
  limitMs: number;
  setup: RowSetup;
  run(c: RowContext): Promise<RowResult>;
}

const MIN = 60_000;

/** Wait for the first `connected`; null if the row's limit passes first. */
async function firstUp(c: RowContext): Promise<EventBase | null> {
  return waitEvent(c.events, state("connected"), c.deadline);
}

function neverUp(c: RowContext, what = "never connected before the fault"): RowResult {
  return { detectMs: null, upMs: "timeout", afterFixMs: null, ...counts(c, c.start), goal: false, notes: [what, actionsOf(c, c.start)] };
}

/**
 * A fault that ends by itself (registration back, a reboot over): detect it,
 * wait for registration and for `connected`, goal "connected within 15 s of
 * registration returning".
 */
async function untilRegisteredAndUp(c: RowContext, faultAt: number, notes: string[], countFrom = faultAt): Promise<RowResult> {
  const detect = await waitEvent(c.events, after(faultAt, detection), c.deadline);
  const back = await waitEvent(c.simEvents, (e) => e.at > faultAt && registered(e), c.deadline);
  const up = await waitEvent(c.events, after(Math.max(faultAt, detect?.at ?? faultAt), state("connected")), c.deadline);
  const afterFix = up && back ? up.at - back.at : back ? "timeout" : null;
  notes.unshift(causeOf(detect));
  if (back) notes.push(`registered again at +${secs(back.at - faultAt)}`);
  notes.push(actionsOf(c, countFrom));
  return {
    detectMs: detect ? detect.at - faultAt : null,
    upMs: up ? up.at - faultAt : "timeout",
    afterFixMs: afterFix,
    ...counts(c, countFrom),
    goal: typeof afterFix === "number" && within(afterFix, 15_000),
    notes,
  };
}

/** Connected first, then the sim's fault event, then detection and recovery as untilRegisteredAndUp measures them. */
async function upThenFault(c: RowContext, fault: Pred<SimEvent>, never: string): Promise<RowResult> {
  if (!(await firstUp(c))) return neverUp(c);
  const at = await waitEvent(c.simEvents, fault, c.deadline);
  if (!at) return { ...neverUp(c, never), upMs: null };
  return untilRegisteredAndUp(c, at.at, []);
}

/**
 * A fault that waits for a person (wrong password, unknown APN): watch the
 * retries for `watchMs`, then reload the config that fixes it.
 * Goal: no module reset, power cycle or reboot; retries ≥ 1 min apart after
 * the first three dials; connected < 15 s after the reload.
 */
async function fixedByReload(c: RowContext, watchMs: number, fixed: Config, fault: Pred<SimEvent>): Promise<RowResult> {
  await pass(Math.max(0, c.start + watchMs - clock.now()));
  // The fault is there from the start; it is injected when the network first refuses.
  const faultAt = c.simEvents.all.find(fault)?.at ?? c.start;
  const detect = c.events.all.find(after(faultAt, detection)) ?? null;
  const early = c.events.all.find(state("connected")) ?? null;
  const reloadAt = clock.now();
  await c.agent.reload(fixed);
  const up = await waitEvent(c.events, after(reloadAt, state("connected")), c.deadline);
  const dialTimes = c.events.all.filter((e) => e.type === "modem.dial" && e.at < reloadAt).map((e) => e.at);
  const refusals = c.simEvents.all.filter((e) => e.at < reloadAt && fault(e)).length;
  const gaps = dialTimes.slice(1).map((t, i) => t - dialTimes[i]!);
  const lateGaps = gaps.slice(2); // between dials 3→4, 4→5, ...
  const spaced = lateGaps.every((g) => g >= MIN);
  const resetRungs = c.events.all.filter((e) => e.type === "recovery.action" && ["module-reset", "power-cycle", "reboot"].includes((e as RecoveryActionEvent).rung)).length;
  const modemResets = simResets(c, c.start);
  const afterFix = up ? up.at - reloadAt : "timeout";
  const notes = [
    causeOf(detect),
    `${dialTimes.length} dials (${refusals} refused) in ${secs(watchMs)} before the reload, gaps ${gaps.length ? gaps.map(secs).join(", ") : "none"}`,
    actionsOf(c, c.start),
  ];
  if (modemResets) notes.push(`${modemResets} module reset(s) reached the modem`);
  if (early) notes.push(`connected before the fix at +${secs(early.at - faultAt)}?`);
  return {
    detectMs: detect ? detect.at - faultAt : null,
    upMs: up ? up.at - faultAt : "timeout",
    afterFixMs: afterFix,
    ...counts(c, c.start),
    goal: resetRungs === 0 && modemResets === 0 && spaced && typeof afterFix === "number" && within(afterFix, 15_000),
    notes,
  };
}

/**
 * The ladder mid-escalation, written by the ladder itself: driven like the
 * supervisor drives it (each decided action started when due, then failing
 * with no-carrier) until reset #1 is done and a later reset-class action is
 * decided and waiting for its backoff. The history is placed so that the
 * decision was taken 30 s before `now`. Driving the real ladder keeps the
 * snapshot's shape and policy whatever they become.
 */
function midEscalation(config: Config, now: number): LadderSnapshot {
  const drive = (base: number): { ladder: RecoveryLadder; decidedAt: number } => {
    const ladder = new RecoveryLadder(ladderOptionsFromConfig(config.recovery), null, base);
    const failed = cause("no-carrier", "recovery bench: synthetic history");
    let t = base;
    let resetsStarted = 0;
    for (let i = 0; i < 40; i++) {
      t += 5_000; // the attempt fails
      const d = ladder.onBringUpFailure(failed, t);
      const isReset = RESET_RUNGS.has(d.action);
      // Enough failures for the next reset, which the vendor's spacing holds back (decided and pending, or not yet allowed).
      const due = ladder.resetAllowedAt(t);
      const waiting = (isReset && d.notBefore - t >= 60_000) || (due !== null && due - t >= 60_000);
      if (resetsStarted >= 1 && waiting && ladder.snapshot().failuresSinceReset >= config.recovery.dial_failures) return { ladder, decidedAt: t };
      t = Math.max(t, d.notBefore);
      ladder.onActionStarted(d.action, t, false);
      if (isReset) resetsStarted++;
    }
    throw new Error("the ladder never decided a second reset with a backoff");
  };
  const probe = drive(0);
  return drive(now - 30_000 - probe.decidedAt).ladder.snapshot();
}

const ROWS: Row[] = [
  {
    id: "dead-peer",
    title: "dead peer (echo 2s×3)",
    limitMs: 4 * MIN,
    setup: { scenarios: ["dead-peer:10"], config: { ppp: 'echo_interval = "2s"\necho_failures = 3' } },
    async run(c) {
      if (!(await firstUp(c))) return neverUp(c);
      const dead = await waitEvent(c.simEvents, (e) => e.type === "sim.ppp" && e.what === "dead", c.deadline);
      if (!dead) return { ...neverUp(c, "the peer never went dead"), upMs: null };
      const detect = await waitEvent(c.events, after(dead.at, detection), c.deadline);
      const up = await waitEvent(c.events, after(detect?.at ?? dead.at, state("connected")), c.deadline);
      const limit = 2_000 * 3 + 1_000;
      const leftConnected = (detect as ModemStateEvent | null)?.previous === "connected";
      return {
        detectMs: detect ? detect.at - dead.at : null,
        upMs: up ? up.at - dead.at : "timeout",
        afterFixMs: null,
        ...counts(c, dead.at),
        goal: detect !== null && within(detect.at - dead.at, limit) && leftConnected,
        notes: [causeOf(detect), `limit ${secs(limit)}`, actionsOf(c, dead.at)],
      };
    },
  },
  {
    id: "network-drop",
    title: "network drop (20 s, back 10 s)",
    limitMs: 4 * MIN,
    setup: { scenarios: ["network-drop:20,back=10,times=1"] },
    run: (c) => upThenFault(c, (e) => e.type === "sim.mode" && e.reason === "network-drop", "the network never dropped"),
  },
  {
    id: "denied",
    title: "registration denied 20 s",
    limitMs: 4 * MIN,
    setup: { scenarios: ["registration-denied:for=20"] },
    async run(c) {
      const denied = await waitEvent(c.simEvents, (e) => e.type === "sim.registration" && e.stat === 3, c.deadline);
      if (!denied) return { ...neverUp(c, "the network never denied"), upMs: null };
      return untilRegisteredAndUp(c, denied.at, [], c.start);
    },
  },
  {
    id: "denied-in-backoff",
    title: "denied 30 s, ladder in reset backoff",
    limitMs: 4 * MIN,
    setup: {
      scenarios: ["registration-denied:for=30"],
      prepare: ({ stateFile, now, config }) => writeFileSync(stateFile, JSON.stringify(midEscalation(config, now))),
    },
    async run(c) {
      const saved = c.events.all.find((e): e is RecoveryStateEvent => e.type === "recovery.state");
      const notes = [
        saved ? `restored ladder: ${saved.consecutiveFailures} failures, last reset ${saved.lastResetAt !== null ? `${secs(c.start - saved.lastResetAt)} ago` : "never"}, next ${saved.rung ?? "action"}${saved.nextActionAt !== null ? ` at +${secs(saved.nextActionAt - c.start)}` : ""}` : "ladder state not restored?",
      ];
      const denied = await waitEvent(c.simEvents, (e) => e.type === "sim.registration" && e.stat === 3, c.deadline);
      if (!denied) return { ...neverUp(c, "the network never denied"), upMs: null };
      return untilRegisteredAndUp(c, denied.at, notes, c.start);
    },
  },
  {
    id: "wrong-password",
    title: "wrong password, fixed by reload",
    limitMs: 10 * MIN,
    setup: { scenarios: ["healthy"], config: { password: "wrong-password" } },
    async run(c) {
      return fixedByReload(c, 8 * MIN, benchConfig({ ...c.options, password: PASSWORD }), (e) => e.type === "sim.ppp" && e.what === "auth-failed");
    },
  },
  {
    id: "apn-rejected",
    title: "APN rejected, fixed by reload",
    limitMs: 10 * MIN,
    setup: { scenarios: [`apn-rejected:${APN}`], config: { apn: "internet.wrong" } },
    async run(c) {
      return fixedByReload(c, 8 * MIN, benchConfig({ ...c.options, apn: APN }), refusedDial);
    },
  },
  {
    id: "hang-power-cycle",
    title: "hung module, power-cycle command",
    limitMs: 5 * MIN,
    setup: { scenarios: ["hang"], powerCycle: true },
    async run(c) {
      const hang = await waitEvent(c.simEvents, (e) => e.type === "sim.hang" && e.hung, c.deadline);
      if (!hang) return { ...neverUp(c, "the module never hung"), upMs: null };
      const detect = await waitEvent(c.events, after(hang.at, detection), c.deadline);
      const cycled = await waitEvent(c.simEvents, (e) => e.type === "sim.power" && e.reason === "power-cycle", c.deadline);
      const up = await waitEvent(c.events, after(hang.at, state("connected")), c.deadline);
      return {
        detectMs: detect ? detect.at - hang.at : null,
        upMs: up ? up.at - hang.at : "timeout",
        afterFixMs: up && cycled ? up.at - cycled.at : cycled ? "timeout" : null,
        ...counts(c, hang.at),
        goal: up !== null && within(up.at - hang.at, 100_000),
        notes: [causeOf(detect), cycled ? `relay ×${c.powerCycles()}, first at +${secs(cycled.at - hang.at)}` : "relay never used", actionsOf(c, hang.at)],
      };
    },
  },
  {
    id: "hang-in-call-power-cycle",
    title: "hung in data mode, power-cycle (echo 2s×3)",
    limitMs: 5 * MIN,
    setup: { scenarios: ["hang:call=20"], powerCycle: true, config: { ppp: 'echo_interval = "2s"\necho_failures = 3' } },
    async run(c) {
      if (!(await firstUp(c))) return neverUp(c);
      const hang = await waitEvent(c.simEvents, (e) => e.type === "sim.hang" && e.hung, c.deadline);
      if (!hang) return { ...neverUp(c, "the module never hung"), upMs: null };
      const detect = await waitEvent(c.events, after(hang.at, detection), c.deadline);
      const hung = await waitEvent(c.events, after(hang.at, (e) => e.type === "modem.state" && (e as ModemStateEvent).cause?.code === "modem-hung"), c.deadline);
      const cycled = await waitEvent(c.simEvents, (e) => e.type === "sim.power" && e.reason === "power-cycle", c.deadline);
      const up = await waitEvent(c.events, after(hang.at, state("connected")), c.deadline);
      return {
        detectMs: detect ? detect.at - hang.at : null,
        upMs: up ? up.at - hang.at : "timeout",
        afterFixMs: up && cycled ? up.at - cycled.at : cycled ? "timeout" : null,
        ...counts(c, hang.at),
        goal: up !== null && within(up.at - hang.at, 100_000),
        notes: [
          causeOf(detect),
          hung ? `modem-hung at +${secs(hung.at - hang.at)}` : "never modem-hung",
          cycled ? `relay ×${c.powerCycles()}, first at +${secs(cycled.at - hang.at)}` : "relay never used",
          actionsOf(c, hang.at),
        ],
      };
    },
  },
  {
    id: "hang-no-power-cycle",
    title: "hung module, no power-cycle command",
    limitMs: 15 * MIN,
    setup: { scenarios: ["hang"] },
    async run(c) {
      const hang = await waitEvent(c.simEvents, (e) => e.type === "sim.hang" && e.hung, c.deadline);
      if (!hang) return { ...neverUp(c, "the module never hung"), upMs: null };
      const detect = await waitEvent(c.events, after(hang.at, detection), c.deadline);
      // The module stays hung: watch the whole window.
      await pass(Math.max(0, c.deadline - clock.now()));
      const intoSilence = c.simEvents.all.filter((e) => e.type === "sim.unheard" && e.state === "hung" && /^AT\+(CFUN=\d,1|QPOWD)/i.test(e.line));
      const up = c.events.all.find(after(hang.at, state("connected"))) ?? null;
      return {
        detectMs: detect ? detect.at - hang.at : null,
        upMs: up ? up.at - hang.at : null,
        afterFixMs: null,
        ...counts(c, hang.at),
        goal: intoSilence.length <= 1,
        notes: [
          causeOf(detect),
          `${intoSilence.length} AT reset(s) sent into silence in ${secs(c.deadline - hang.at)}${intoSilence.length ? ` (at ${intoSilence.map((e) => `+${secs(e.at - hang.at)}`).join(", ")})` : ""}`,
          actionsOf(c, hang.at),
        ],
      };
    },
  },
  {
    id: "reboot-mid-call",
    title: "module reboot mid-call (20 s)",
    limitMs: 4 * MIN,
    setup: { scenarios: ["reboot-mid-call:20"] },
    run: (c) => upThenFault(c, (e) => e.type === "sim.power" && e.reason === "reboot-mid-call", "the module never rebooted"),
  },
  {
    id: "nocarrier-payload",
    title: "\"NO CARRIER\" payloads, 30 s",
    limitMs: 3 * MIN,
    setup: { scenarios: ["nocarrier-payload:1"] },
    async run(c) {
      if (!(await firstUp(c))) return neverUp(c);
      const first = await waitEvent(c.simEvents, (e) => e.type === "sim.ppp" && e.what === "nocarrier-payload", c.deadline);
      if (!first) return { ...neverUp(c, "no payload was sent"), upMs: null };
      const sentBefore = c.sim.modem.network.counters.noCarrierPayloads;
      const holdMs = 30_000;
      await pass(Math.max(0, first.at + holdMs - clock.now()));
      const end = first.at + holdMs;
      const drops = c.events.all.filter((e) => e.at >= first.at && e.at <= end && e.type === "modem.state" && (e as ModemStateEvent).previous === "connected");
      const pppDown = c.events.all.filter((e) => e.at >= first.at && e.at <= end && e.type === "ppp.down").length;
      const sent = c.sim.modem.network.counters.noCarrierPayloads;
      const detect = drops[0] ?? null;
      const up = detect ? c.events.all.find(after(detect.at, state("connected"))) ?? null : null;
      return {
        detectMs: detect ? detect.at - first.at : null,
        upMs: detect ? (up ? up.at - first.at : "timeout") : null,
        afterFixMs: null,
        ...counts(c, first.at),
        goal: drops.length === 0 && pppDown === 0,
        notes: [`${sent - sentBefore + 1} datagrams of 100 bytes in ${secs(holdMs)}, ${drops.length} link drops, ${pppDown} ppp.down${detect ? `; ${causeOf(detect)}` : ""}`],
      };
    },
  },
  {
    id: "t3396",
    title: "T3396 back-off 60 s",
    limitMs: 5 * MIN,
    setup: { scenarios: ["t3396:60"] },
    async run(c) {
      const t3396Ms = 60_000;
      const first = await waitEvent(c.simEvents, refusedDial, c.deadline);
      if (!first) return { ...neverUp(c, "no dial was refused"), upMs: null };
      const expiry = first.at + t3396Ms;
      const detect = await waitEvent(c.events, after(first.at, detection), c.deadline);
      const up = await waitEvent(c.events, after(first.at, state("connected")), c.deadline);
      const during = c.simEvents.all.filter((e) => e.type === "sim.command" && /^ATD/i.test(e.line) && e.at > first.at && e.at < expiry);
      const resets = c.events.all.filter((e) => e.type === "recovery.action" && ["module-reset", "power-cycle", "reboot"].includes((e as RecoveryActionEvent).rung)).length + simResets(c, first.at);
      return {
        detectMs: detect ? detect.at - first.at : null,
        upMs: up ? up.at - first.at : "timeout",
        afterFixMs: up ? up.at - expiry : "timeout",
        ...counts(c, c.start),
        goal: during.length === 0 && resets === 0 && up !== null && up.at >= expiry,
        notes: [causeOf(detect), `${during.length} dial(s) during T3396`, actionsOf(c, first.at)],
      };
    },
  },
];

// ───────────────────────────── the table ─────────────────────────────

function cell(v: number | null | "timeout"): string {
  if (v === "timeout") return "timeout";
  if (v === null) return "-";
  return secs(v);
}

function printTable(rows: Array<{ row: Row; result: RowResult | null; error?: string; wallMs: number }>): void {
  const header = ["row", "detect", "up again", "after fix", "dials", "resets", "pcycles", "goal", "notes"];
  const body = rows.map(({ row, result, error }) =>
    result
      ? [row.title, cell(result.detectMs), cell(result.upMs), cell(result.afterFixMs), String(result.dials), String(result.resets), String(result.powerCycles), result.goal === null ? "-" : result.goal ? "yes" : "no", result.notes.join("; ")]
      : [row.title, "-", "timeout", "-", "-", "-", "-", "no", error ?? "row did not finish"],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (i === header.length - 1 ? 0 : r[i]!.length))));
  const line = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(header));
  console.log(line(header.map((_, i) => "-".repeat(i === header.length - 1 ? 5 : widths[i]!))));
  for (const r of body) console.log(line(r));
}

const GOALS = `goals (a "within" allows ${SLACK_REAL_MS} ms of real-time latency, ${secs(SLACK)} of modem time here): dead peer detected within echo_interval × echo_failures + 1 s, leaving "connected" at that moment; network drop, denial and reboot rows connected within 15 s of registration returning (after fix); wrong password / APN rejected: no module reset, power cycle or reboot, dials ≥ 1 min apart after the first three, connected < 15 s after the fixing reload (after fix); hung module with a power-cycle command: connected within 100 s of the hang; without one: at most one AT reset sent into silence; payloads: no link drop; T3396: no dial during the back-off, no reset, connected after it (after fix = from the expiry).`;

// ───────────────────────────── main ─────────────────────────────

async function cleanupAll(): Promise<void> {
  for (const close of [...live]) await close();
}
process.on("SIGINT", () => {
  void cleanupAll().then(() => process.exit(130));
});
process.on("SIGTERM", () => {
  void cleanupAll().then(() => process.exit(143));
});

const selected = ONLY.length ? ROWS.filter((r) => ONLY.includes(r.id)) : ROWS;
if (ONLY.length && selected.length !== ONLY.length) {
  console.error(`recovery bench: unknown row(s) ${ONLY.filter((o) => !ROWS.some((r) => r.id === o)).join(", ")}; known: ${ROWS.map((r) => r.id).join(", ")}`);
  process.exit(2);
}
const budget = selected.reduce((s, r) => s + r.limitMs, 0);
console.log(
  `recovery bench: the whole agent (default timings) against the virtual BG96 over a pty, ${selected.length} rows; ` +
    `all figures in modem time${SCALE === 1 ? " (real time, --scale 1)" : ` (run at --scale ${SCALE}: the shared clock ran ${(1 / SCALE).toFixed(SCALE < 1 ? 0 : 2)}× as fast, figures read from it are modem time)`}; ` +
    `at most ${secs(budget)} of modem time, ${secs(clock.real(budget))} real`,
);
const results: Array<{ row: Row; result: RowResult | null; error?: string; wallMs: number }> = [];
for (const row of selected) {
  const wall = performance.now();
  let ctx: RowContext | null = null;
  let result: RowResult | null = null;
  let error: string | undefined;
  try {
    ctx = await openRow(row.setup, row.limitMs);
    const c = ctx;
    // A hard stop in real time, in case a wait never resolves.
    const guard = Bun.sleep(clock.real(row.limitMs) + 30_000).then(() => null);
    result = await Promise.race([row.run(c), guard]);
    if (result === null) error = "row did not finish within its limit";
  } catch (err) {
    error = `error: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
  } finally {
    if (ctx) {
      if ((result === null || result.goal === false) && TRACE) console.log(ctx.log.lines.slice(-15).join("\n"));
      await ctx.close();
    }
  }
  const wallMs = performance.now() - wall;
  results.push({ row, result, ...(error ? { error } : {}), wallMs });
  console.log(`  ${row.id}: ${result ? (result.goal ? "goal met" : "goal not met") : error} (${(wallMs / 1000).toFixed(1)} s real)`);
}
console.log("");
printTable(results);
console.log("");
console.log(GOALS);
await cleanupAll();
const leftovers = existsSync(tmpdir()) ? Bun.spawnSync(["sh", "-c", `ls -d ${tmpdir()}/cellkeep-bench-recovery-* 2>/dev/null | wc -l`]).stdout.toString().trim() : "0";
if (leftovers !== "0") console.log(`warning: ${leftovers} temp dir(s) left behind`);
process.exit(0);

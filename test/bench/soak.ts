/**
 * Soak benchmark: `bun test/bench/soak.ts [cycles] [--real]` (default 1000, virtual time).
 *
 * The whole agent (src/agent.ts: supervisor, PPP, health, recovery ladder with
 * its state file, data plane in link.mode "none") against the in-process
 * virtual modem, through N link drops of three kinds, mixed:
 *
 *   drop-after  the network ends the call (NO CARRIER) after HOLD s;
 *   dead-peer   HOLD s after IPCP opens the network stops answering (LCP echo
 *               included); the agent must notice and redial;
 *   hang        the call drops, and the AT interpreter hangs at the first
 *               command of the redial; the agent must see the hang, escalate,
 *               and come back when the module reboots (hang recover=S).
 *
 * Time is virtual: agent and modem share one ManualScheduler, and the driver
 * jumps from one timer deadline to the next after letting every promise chain
 * settle. The modem runs at real BG96 durations (time scale 1) and the agent
 * with its real timeouts (60 s hang limit, vendor backoff), yet 1,000 cycles
 * take seconds of CPU, not days. Time-dependent leaks (timers, listeners,
 * buffers per call) still show, because each cycle runs the same code as a
 * real one; only the waiting is skipped.
 *
 * RSS: compressed time makes garbage far faster than a real agent does, so
 * the allocator's high-water mark rises during warm-up; the JS heap after a
 * full GC is the leak signal. SOAK_GC_EVERY=N runs a full GC every N cycles
 * so RSS tracks the live heap; SOAK_TRACE=1 prints every state change (use a
 * short run).
 *
 * --real: RealScheduler timers, modem time scale 0.02, short agent timings
 * (1 s echo and probes); drop-after and dead-peer only, about 2 s a cycle.
 *
 * A cycle counts as failed when the agent is not "connected" again within
 * CYCLE_LIMIT after the fault fired, or when the armed fault never fired.
 * Prints the figures; asserts nothing (test/bench rule).
 */
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler, RealScheduler, type Scheduler } from "../../src/core/clock.ts";
import { createLogger, type LogSink } from "../../src/core/log.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent, RecoveryActionEvent } from "../../src/core/agent-events.ts";
import { loadConfigText, formatIssue } from "../../src/config/load.ts";
import { startAgent } from "../../src/agent.ts";
import { nullNotifier } from "../../src/systemd/notify.ts";
import { RIG_TIMING } from "../agent/rig.ts";
import { runUntil as runFakeTimeUntil } from "../modem/harness.ts";
import { createInProcessModem } from "../../src/sim/in-process.ts";
import type { SimEvent } from "../../src/sim/events.ts";

const argv = process.argv.slice(2);
/** --real: real timers (RealScheduler), time-scaled modem and agent; see the header. */
const REAL = argv.includes("--real");
const CYCLES = Number(argv.find((a) => /^\d+$/.test(a)) ?? 1000);
/** How long a call stays up before its fault (longer than stable_after, so the ladder resets between cycles). */
const HOLD_MS = REAL ? 400 : 60_000;
/** A hung module reboots by itself after this long (the sim's hang recover=S). */
const HANG_RECOVER_MS = 120_000;
/** Time from the fault to "connected" again before the cycle counts as failed. */
const CYCLE_LIMIT_MS = REAL ? 20_000 : 30 * 60_000;

type FaultKind = "drop-after" | "dead-peer" | "hang";
// Real time has no hang cycles: the supervisor declares a module hung after the
// vendor's 60 s without an answer (a profile constant, not a timing knob), so
// one hang cycle would take over a minute of wall time.
const KINDS: readonly FaultKind[] = REAL ? ["drop-after", "dead-peer"] : ["drop-after", "dead-peer", "hang"];

/** xorshift32: a reproducible mix of fault kinds. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

// State files go to tmpfs when there is one: the ladder fsyncs on every change,
// and a disk's fsync latency would measure the disk, not cellkeep.
const baseDir = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(baseDir, "cellkeep-soak-"));

const toml = `
[modem]
port = "/dev/null"   # replaced by the in-process modem (openPort override)
control_port = "none"
profile = "auto"

[network]
apn = "internet.soak"

[auth]
method = "pap"
username = "soak"
password = "soak-secret"

[ppp]
echo_interval = ${REAL ? '"1s"' : '"5s"'}
echo_failures = ${REAL ? 2 : 3}

[link]
mode = "none"

[health]
every = ${REAL ? '"1s"' : '"10s"'}
targets = ["8.8.8.8"]
timeout = ${REAL ? '"300ms"' : '"2s"'}
failures = ${REAL ? 2 : 3}

[recovery]
state_file = ${JSON.stringify(join(dir, "recovery.json"))}
stable_after = ${REAL ? '"300ms"' : '"30s"'}

[log]
level = "info"
`;
const loaded = loadConfigText(toml, "soak.toml");
if (!loaded.ok) {
  for (const i of loaded.issues) console.error(formatIssue("soak.toml", i));
  process.exit(2);
}

/** Keeps the last lines only (for a failed cycle's story) and counts the rest. */
class TailSink implements LogSink {
  lines: string[] = [];
  count = 0;
  write(line: string): void {
    this.count++;
    this.lines.push(line);
    if (this.lines.length > 60) this.lines.shift();
  }
}

const manual = REAL ? null : new ManualScheduler(Date.now());
const real = REAL ? new RealScheduler() : null;
const sched: Scheduler & { pendingCount(): number } = manual ?? real!;
const sink = new TailSink();
const log = createLogger({ level: "info", format: "text", sink, clock: () => sched.now() });

const im = createInProcessModem({
  scheduler: sched,
  scenarios: ["healthy"],
  timeScale: REAL ? 0.02 : 1,
  behaviour: { auth: { username: "soak", password: "soak-secret" } },
});
const behaviour = im.modem.behaviour;

// ---------------------------------------------------------------- fault arming
//
// Faults are behaviour knobs the modem core reads when a call starts (drop) or
// when IPCP opens (dead); they stay set for every call until changed. So the
// fault of cycle k is armed the moment cycle k-1's fault fires: whatever calls
// the recovery makes then carry fault k, and the one that stays up ends cycle k-1.
const pick = rng(0xc0ffee);
const plan: FaultKind[] = Array.from({ length: CYCLES }, () => KINDS[Math.floor(pick() * KINDS.length)]!);
let armedIndex = 0;
let hangOnNextDrop = false;
let faultFiredAt: number | null = null;
let faultCount = 0;

function armFault(index: number): void {
  armedIndex = index;
  const kind = plan[index];
  behaviour.dropAfterMs = kind === "dead-peer" || kind === undefined ? null : HOLD_MS;
  behaviour.deadPeerAfterMs = kind === "dead-peer" ? HOLD_MS : null;
  hangOnNextDrop = kind === "hang";
  if (kind === undefined) behaviour.dropAfterMs = null; // after the last cycle: stay up
}

/** The sim's hang is one incident per run; each hang cycle re-arms it. */
function armHangNow(): void {
  behaviour.hang = { afterCommands: 0, recoverMs: HANG_RECOVER_MS, afterConnectMs: null };
  im.modem.core.rearmHang();
}

const hangs = { armed: 0, hung: 0 };
im.modem.events.on((e: SimEvent) => {
  const fired =
    (e.type === "sim.mode" && e.mode === "command" && e.reason === "drop-after") || (e.type === "sim.ppp" && e.what === "dead");
  if (fired) {
    faultFiredAt = sched.now();
    faultCount++;
    if (hangOnNextDrop) {
      hangs.armed++;
      armHangNow();
    }
    armFault(armedIndex + 1);
  }
  if (e.type === "sim.hang" && e.hung) {
    hangs.hung++;
    behaviour.hang = null;
  }
});

// ---------------------------------------------------------------- the driver

/**
 * Jump from deadline to deadline until `done()` or `limitMs` of virtual time
 * passed (the modem tests' fake-time driver); on real time, look often and let
 * the agent's own timers do the work.
 */
async function runUntil(done: () => boolean, limitMs: number): Promise<boolean> {
  if (manual) return runFakeTimeUntil(manual, done, limitMs);
  const end = sched.now() + limitMs;
  while (!done()) {
    if (sched.now() >= end) return false;
    await Bun.sleep(2);
  }
  return true;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}
function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}
function heapMiB(): number {
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const agent = await startAgent(loaded.config, {
  log,
  scheduler: sched,
  noHttp: true,
  openPort: async () => im.reopen(),
  notifier: nullNotifier,
  ...(REAL ? { timing: RIG_TIMING } : {}),
});

const rungs = new Map<string, number>();
let connects = 0;
let disconnects = 0;
const stateVisits = new Map<string, number>();
agent.events.on((e: EventBase) => {
  if (e.type === "recovery.action") {
    const r = (e as RecoveryActionEvent).rung;
    rungs.set(r, (rungs.get(r) ?? 0) + 1);
  }
  if (e.type === "modem.state") {
    const m = e as ModemStateEvent;
    stateVisits.set(m.state, (stateVisits.get(m.state) ?? 0) + 1);
    // Counted from events, not sampled: a redial can leave "connected" and come
    // back within one virtual instant, between two looks at agent.state().
    if (m.state === "connected") connects++;
    if (m.previous === "connected") disconnects++;
  }
});

// SOAK_TRACE=1 prints every state change, action and fault with its virtual time (for a short run).
if (process.env.SOAK_TRACE) {
  const t0 = sched.now();
  const at = () => ((sched.now() - t0) / 1000).toFixed(1).padStart(8);
  agent.events.on((e: EventBase) => {
    if (e.type === "modem.state") {
      const m = e as ModemStateEvent;
      console.log(`${at()} state ${m.previous} → ${m.state}${m.cause ? ` (${m.cause.code}${m.cause.detail ? `: ${m.cause.detail}` : ""})` : ""}`);
    } else if (e.type === "recovery.action") console.log(`${at()} action ${(e as RecoveryActionEvent).rung}: ${(e as RecoveryActionEvent).reason}`);
    else if (e.type.startsWith("ppp.") || e.type === "modem.dial" || (e.type === "health.probe" && !(e as { ok?: boolean }).ok)) console.log(`${at()} ${e.type} ${JSON.stringify(e)}`);
  });
  im.modem.events.on((e: SimEvent) => {
    if (e.type === "sim.mode" || e.type === "sim.ppp" || e.type === "sim.hang" || e.type === "sim.power") console.log(`${at()}   ${JSON.stringify(e)}`);
  });
}

const wallStart = performance.now();
armFault(0);
const firstUp = await runUntil(() => agent.state() === "connected", 10 * 60_000);
if (!firstUp) {
  console.error(`soak: the agent never connected (state ${agent.state()}); last log lines:\n${sink.lines.join("\n")}`);
  process.exit(1);
}
Bun.gc(true);
const start = { rss: rssMiB(), heap: heapMiB(), fds: openFds(), timers: sched.pendingCount(), virtual: sched.now() };
console.log(`soak: ${CYCLES} cycles (${KINDS.map((k) => `${k} ${plan.filter((p) => p === k).length}`).join(", ")}), hold ${HOLD_MS / 1000} s, ${REAL ? "real time (modem time scale 0.02)" : "virtual time"}`);
console.log(`start: RSS ${start.rss.toFixed(1)} MiB, heap ${start.heap.toFixed(1)} MiB, open fds ${start.fds}, pending timers ${start.timers} (connected)`);

/**
 * A second baseline once the allocator, the JIT and the two 2,000-event rings
 * (agent bus and sim bus) have reached their working size: growth after this
 * point is what a leak would look like; growth before it is warm-up.
 */
const WARM_CYCLES = Math.min(100, Math.floor(CYCLES / 5));
let warm: typeof start | null = null;
const failures: Array<{ cycle: number; kind: FaultKind; why: string; state: string }> = [];
const recoverMs: Record<FaultKind, number[]> = { "drop-after": [], "dead-peer": [], hang: [] };

for (let cycle = 0; cycle < CYCLES; cycle++) {
  const kind = plan[cycle]!;
  if (process.env.SOAK_TRACE) console.log(`---- cycle ${cycle} (${kind})`);
  faultFiredAt = null;
  const before = faultCount;
  // Taken before the fault: drop → redial → connected can all happen at one virtual instant.
  const downBefore = disconnects;
  const upBefore = connects;
  // The fault fires HOLD_MS after the call started (or after IPCP for dead-peer).
  const fired = await runUntil(() => faultCount > before, HOLD_MS + 10 * 60_000);
  if (!fired) {
    failures.push({ cycle, kind, why: "fault never fired", state: agent.state() });
    continue;
  }
  const firedAt = faultFiredAt ?? sched.now();
  // The agent must notice the link down (leave "connected") and come back to "connected".
  const back = await runUntil(() => disconnects > downBefore && connects > upBefore && agent.state() === "connected", CYCLE_LIMIT_MS);
  if (!back) {
    failures.push({ cycle, kind, why: `not connected ${CYCLE_LIMIT_MS / 1000} s after the fault`, state: agent.state() });
    if (failures.length <= 3) console.error(`cycle ${cycle} (${kind}) failed in state ${agent.state()}; last log lines:\n${sink.lines.slice(-25).join("\n")}`);
    continue;
  }
  recoverMs[kind].push(sched.now() - firedAt);
  if (cycle + 1 === WARM_CYCLES) {
    Bun.gc(true);
    warm = { rss: rssMiB(), heap: heapMiB(), fds: openFds(), timers: sched.pendingCount(), virtual: sched.now() };
    console.log(`warm (after ${WARM_CYCLES} cycles): RSS ${warm.rss.toFixed(1)} MiB, heap ${warm.heap.toFixed(1)} MiB, open fds ${warm.fds}, pending timers ${warm.timers}`);
  }
  if (process.env.SOAK_GC_EVERY && (cycle + 1) % Number(process.env.SOAK_GC_EVERY) === 0) Bun.gc(true);
  if ((cycle + 1) % 100 === 0) {
    console.log(
      `  ${String(cycle + 1).padStart(5)} cycles: RSS ${rssMiB().toFixed(1)} MiB, heap ${heapMiB().toFixed(1)} MiB, fds ${openFds()}, timers ${sched.pendingCount()}, failures ${failures.length}, wall ${((performance.now() - wallStart) / 1000).toFixed(1)} s`,
    );
  }
}

// Let the last connection settle (the ladder's stable timer, a probe round) like at the start.
await runUntil(() => false, REAL ? 2_000 : 20_000);
Bun.gc(true);
const end = { rss: rssMiB(), heap: heapMiB(), fds: openFds(), timers: sched.pendingCount(), virtual: sched.now() };
const wallS = (performance.now() - wallStart) / 1000;

function median(xs: number[]): string {
  if (xs.length === 0) return "-";
  const s = [...xs].sort((a, b) => a - b);
  const fmt = (ms: number) => (ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
  return `${fmt(s[Math.floor(s.length / 2)]!)} (max ${fmt(s[s.length - 1]!)})`;
}

console.log(`end:   RSS ${end.rss.toFixed(1)} MiB, heap ${end.heap.toFixed(1)} MiB, open fds ${end.fds}, pending timers ${end.timers} (state ${agent.state()})`);
console.log(`cycles ${CYCLES}, failures ${failures.length}, faults fired ${faultCount}, hangs armed ${hangs.armed} / hung ${hangs.hung}`);
console.log(`RSS growth ${(end.rss - start.rss).toFixed(2)} MiB (goal < 5 MB), heap growth ${(end.heap - start.heap).toFixed(2)} MiB, fd growth ${end.fds - start.fds}, timer growth ${end.timers - start.timers}`);
if (warm) console.log(`growth since warm: RSS ${(end.rss - warm.rss).toFixed(2)} MiB, heap ${(end.heap - warm.heap).toFixed(2)} MiB, fds ${end.fds - warm.fds}, timers ${end.timers - warm.timers}`);
console.log(`fault → connected again (${REAL ? "real" : "virtual"} time): ${KINDS.map((k) => `${k} ${median(recoverMs[k])}`).join("; ")}`);
console.log(`recovery actions: ${[...rungs].map(([r, n]) => `${r} ${n}`).join(", ") || "none"}; modem calls ${im.modem.core.counters.calls}, boots ${im.modem.core.counters.boots}; log lines ${sink.count}`);
console.log(`${REAL ? "real" : "virtual"} time ${((end.virtual - start.virtual) / 3_600_000).toFixed(1)} h in ${wallS.toFixed(1)} s wall (${((wallS * 1000) / CYCLES).toFixed(1)} ms per cycle)`);
for (const f of failures.slice(0, 10)) console.log(`  failed cycle ${f.cycle} (${f.kind}): ${f.why}, state ${f.state}`);

const stopping = agent.stop("soak done");
await runUntil(() => false, REAL ? 2_000 : 10_000);
await stopping;
await im.stop();
console.log(`after stop: pending timers ${sched.pendingCount()}, open fds ${openFds()}`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);

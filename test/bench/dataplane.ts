/**
 * Data-plane benchmark (root; run: `bun test/bench/dataplane.ts [seconds]`).
 * In one run:
 *   1. raw byte rate of a pty pair, each direction (the limit). Measured as the
 *      data path runs: two processes (this one on the slave like cellkeep on its
 *      port, a child on the master like the modem), the same fd reader/writer
 *      as the agent's port, 1500-byte writes (one PPP frame each) and the
 *      backlog held at the pump's high-water mark. (It used to be measured
 *      with both ends in this process, 16-64 KiB writes and a spinning writer:
 *      not the arrangement PPP runs in.)
 *   2. raw pty echo RTT (10-byte ping-pong, the child echoes);
 *   3. TCP goodput through TUN ↔ PPP ↔ pty ↔ PPP ↔ TUN with iperf3 (A→B and B→A);
 *   4. the agent's CPU share during the transfer: this process holds cellkeep's
 *      side only (its SerialPipe on the pty slave, PPP client, TUN, pump); the
 *      far PPP end runs in a child process on the master, as the modem would;
 *      and how busy the whole machine was (iperf3 and the kernel count too);
 *   5. ping RTT through the stack, and what it adds over the raw pty echo.
 * Goal: goodput ≥ 70 % of the raw pty byte rate of the same direction.
 * Prints figures, never asserts. Env: CK_HW (pump high water, both sides),
 * CK_LOW (writer low water), CK_AGENT_PIPE=metered (MeteredFdPipe instead of SerialPipe).
 */
import type { Subprocess } from "bun";
import * as fs from "node:fs";
import { MeteredFdPipe } from "../../src/net/metered-pipe.ts";
import { openPtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";
import { buildSplitStack, iperf, SERVER_IP } from "../net/stack.ts";
import { canUseNetns, NetnsHarness } from "../support/netns.ts";

const seconds = Number(process.argv[2] ?? 3);

const RAW_PEER = `${import.meta.dir}/../net/fixtures/pty-raw-peer.ts`;
/** Bytes per write on the raw path: one PPP frame at MTU 1500, as the link writes them. */
const RAW_CHUNK = 1500;
/** The packet pump's default high-water mark (what the agent runs with); CK_HW overrides it on both sides. */
const HIGH_WATER = Number(process.env.CK_HW ?? 32 * 1024);

/** Read JSON lines from a child's stdout until `n` lines arrived; returns the last one parsed. */
async function readLines(proc: Subprocess<number, "pipe", "inherit">, n: number): Promise<Record<string, unknown>> {
  const reader = proc.stdout.getReader();
  let text = "";
  try {
    while (text.split("\n").length <= n) {
      const r = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => null)]);
      if (r === null || r.done) throw new Error(`raw pty peer gave no answer: ${text}`);
      text += new TextDecoder().decode(r.value);
    }
  } finally {
    reader.releaseLock();
  }
  return JSON.parse(text.trim().split("\n").pop()!) as Record<string, unknown>;
}

/**
 * The same arrangement as the data path (buildSplitStack, serial mode): this
 * process holds the pty slave, as cellkeep holds its serial port, and the far
 * end (fixtures/pty-raw-peer.ts) is its own process holding the master (its
 * stdin), as the PPP peer does. Both sides use MeteredFdPipe, whose reads
 * (FdReader) and writes (FdWriter) are the ones under the agent's SerialPipe.
 */
async function withRawPeer<T>(mode: string, fn: (pipe: MeteredFdPipe) => Promise<T>): Promise<{ result: T; peer: Record<string, unknown> }> {
  const pair = openPtyPair({ holdSlave: false });
  const slave = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open", pair.slavePath);
  const child = Bun.spawn([process.execPath, RAW_PEER, "-", mode, String(RAW_CHUNK)], { stdin: pair.masterFd, stdout: "pipe", stderr: "inherit", env: { ...process.env, CK_HW: String(HIGH_WATER) } });
  const pipe = new MeteredFdPipe(slave, "pty slave");
  try {
    await readLines(child, 1);
    const result = await fn(pipe);
    child.kill("SIGTERM");
    const peer = await readLines(child, 1);
    return { result, peer };
  } finally {
    child.kill("SIGKILL");
    await child.exited;
    await pipe.close();
    libc.close(slave);
    pair.close();
  }
}

/**
 * A bulk writer paced like the pump: per event-loop turn at most HIGH_WATER
 * bytes (the pump hands over at most one TUN read per turn), and only while
 * the backlog is under HIGH_WATER; it goes on at the next turn, on drain, or
 * on the 1 ms timer. (Writes that the tty takes at once leave no backlog, so
 * a loop bounded only by the backlog would never yield to the event loop.)
 */
function makeFiller(pipe: { write(d: Uint8Array): void; backlogBytes(): number }, chunk: Uint8Array, running: () => boolean, highWater = HIGH_WATER): () => void {
  let scheduled = false;
  const fill = (): void => {
    let budget = highWater;
    while (running() && budget > 0 && pipe.backlogBytes() <= highWater) {
      pipe.write(chunk);
      budget -= chunk.byteLength;
    }
    if (running() && budget <= 0 && !scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        fill();
      });
    }
  };
  return fill;
}

/**
 * Bulk bytes for `ms` in one direction: "out" = this process writes (as
 * cellkeep sends), "in" = the far end writes. Writes are RAW_CHUNK bytes and
 * the writer keeps its backlog at the pump's high-water mark, refilling on
 * drain, so the raw figure is what the PPP path could get at best.
 */
async function rawRate(ms: number, dir: "out" | "in"): Promise<number> {
  const { result: local, peer } = await withRawPeer(dir === "out" ? "sink" : "source", async (pipe) => {
    let received = 0;
    pipe.onData((d) => {
      received += d.byteLength;
    });
    const chunk = crypto.getRandomValues(new Uint8Array(RAW_CHUNK));
    let running = dir === "out";
    const fill = makeFiller(pipe, chunk, () => running);
    const offDrain = pipe.onDrain(fill);
    const timer = setInterval(fill, 1);
    fill();
    const t0 = performance.now();
    await Bun.sleep(ms);
    running = false;
    clearInterval(timer);
    offDrain();
    return { received, seconds: (performance.now() - t0) / 1000 };
  });
  const bytes = dir === "out" ? Number(peer.bytes) : local.received;
  return bytes / local.seconds;
}

/** 10-byte ping-pong over the pty, the far-end process echoing; returns RTTs in ms. */
async function rawEcho(n: number): Promise<number[]> {
  const { result } = await withRawPeer("echo", async (a) => {
    const rtts: number[] = [];
    const msg = new Uint8Array(10).fill(0x55);
    for (let i = 0; i < n; i++) {
      let got = 0;
      const done = new Promise<void>((resolve) => {
        const off = a.onData((d) => {
          got += d.byteLength;
          if (got >= msg.byteLength) {
            off();
            resolve();
          }
        });
      });
      const t0 = performance.now();
      a.write(msg);
      await done;
      rtts.push(performance.now() - t0);
    }
    return rtts;
  });
  return result;
}

/** utime + stime of a process in seconds (from /proc/<pid>/stat, clock ticks of 100 Hz). */
function procCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Busy and total jiffies of the whole machine (all cores) from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const mb = (bytesPerSec: number) => `${(bytesPerSec / 1e6).toFixed(2)} MB/s`;

if (!canUseNetns() || Bun.which("iperf3") === null) {
  console.log("dataplane bench: needs root, /dev/net/tun, ip and iperf3; skipped");
  process.exit(0);
}

console.log(`load before: ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`);
const rawOut = await rawRate(seconds * 1000, "out");
const rawIn = await rawRate(seconds * 1000, "in");
const echo = await rawEcho(500);
console.log(`raw pty byte rate, cellkeep side → far end (${RAW_CHUNK} B writes, two processes): ${mb(rawOut)}`);
console.log(`raw pty byte rate, far end → cellkeep side (${RAW_CHUNK} B writes, two processes): ${mb(rawIn)}`);
console.log(`raw pty echo RTT (10 B, far end echoes): mean ${mean(echo).toFixed(3)} ms, p50 ${pct(echo, 50).toFixed(3)} ms, p99 ${pct(echo, 99).toFixed(3)} ms`);

const h = new NetnsHarness();
try {
  // The agent's own port code (SerialPipe) on cellkeep's side; CK_AGENT_PIPE=metered for MeteredFdPipe.
  const s = await buildSplitStack(h, { agentPipe: process.env.CK_AGENT_PIPE === "metered" ? "metered" : "serial" });
  const cpu0 = process.cpuUsage();
  const peer0 = procCpuSeconds(s.peerPid);
  const m0 = machineJiffies();
  const t0 = performance.now();
  const up = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const peerShare = (procCpuSeconds(s.peerPid) - peer0) / wall;
  const m1 = machineJiffies();
  const machineBusy = (m1.busy - m0.busy) / (m1.total - m0.total);
  const down = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds, reverse: true });
  const upRate = up.bytes / up.seconds;
  const downRate = down.bytes / down.seconds;
  const cpuShare = (cpu.user + cpu.system) / 1e6 / wall;
  console.log(`TCP goodput A→B (iperf3 -t ${seconds}): ${mb(upRate)} (${(up.bitsPerSecond / 1e6).toFixed(1)} Mbit/s)`);
  console.log(`TCP goodput B→A (iperf3 -R):            ${mb(downRate)} (${(down.bitsPerSecond / 1e6).toFixed(1)} Mbit/s)`);
  console.log(`cellkeep process CPU during A→B: ${(cpuShare * 100).toFixed(0)} % of one core (user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s over ${wall.toFixed(2)} s; this process = cellkeep\'s side: one PPP end, one TUN, one pump; the far end runs in its own process like a modem)`);
  console.log(`far-end PPP process CPU during A→B: ${(peerShare * 100).toFixed(0)} % of one core`);
  console.log(`whole machine during A→B: ${(machineBusy * 100).toFixed(0)} % busy over ${navigator.hardwareConcurrency} cores (iperf3, kernel TCP/TUN and anything else running count too)`);
  const ping = await h.exec(s.nsA, ["ping", "-c", "200", "-i", "0.005", "-q", "-s", "56", SERVER_IP], { timeoutMs: 20_000 });
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(ping.stdout);
  if (m) {
    const avg = Number(m[2]);
    console.log(`ping through the stack (84 B IP): min ${m[1]} / avg ${m[2]} / max ${m[3]} ms; added vs raw pty echo: ${(avg - mean(echo)).toFixed(3)} ms`);
  } else console.log(`ping failed: ${ping.stdout} ${ping.stderr}`);
  // A→B: cellkeep's side sends (rawOut is that direction's limit); B→A: the far end sends (rawIn).
  const ratioUp = upRate / rawOut;
  const ratioDown = downRate / rawIn;
  const ok = Math.min(ratioUp, ratioDown) >= 0.7;
  console.log(`goodput / raw pty rate of the same direction: A→B ${(ratioUp * 100).toFixed(0)} %, B→A ${(ratioDown * 100).toFixed(0)} % → ${ok ? "meets" : "MISSES"} the 70 % goal`);
  console.log(`pump A: ${JSON.stringify(s.pumpA.counters)}`);
  console.log(`cellkeep side pipe (${s.clientPipe.constructor.name}): backlog now ${s.clientPipe.backlogBytes()} B`);
  console.log(`load after: ${fs.readFileSync("/proc/loadavg", "utf8").trim()}`);
} finally {
  await h.cleanup();
}

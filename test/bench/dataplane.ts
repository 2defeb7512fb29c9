/**
 * Data-plane benchmark (root; run: `bun test/bench/dataplane.ts [seconds]`).
 * In one run:
 *   1. raw byte rate of a pty pair through the same fd I/O the link uses (the limit);
 *   2. raw pty echo RTT (10-byte ping-pong);
 *   3. TCP goodput through TUN ↔ PPP ↔ pty ↔ PPP ↔ TUN with iperf3 (A→B and B→A);
 *   4. the agent's CPU share during the transfer: this process holds cellkeep's
 *      side only (PPP client, TUN, pump); the far PPP end runs in a child
 *      process, as the modem would;
 *   5. ping RTT through the stack, and what it adds over the raw pty echo.
 * Goal: goodput ≥ 70 % of the raw pty byte rate. Prints figures, never asserts.
 */
import * as fs from "node:fs";
import { MeteredFdPipe } from "../../src/net/metered-pipe.ts";
import { openPtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";
import { buildSplitStack, iperf, SERVER_IP } from "../net/stack.ts";
import { canUseNetns, NetnsHarness } from "../support/netns.ts";

const seconds = Number(process.argv[2] ?? 3);

function openPipes(): { a: MeteredFdPipe; b: MeteredFdPipe; close: () => Promise<void> } {
  const pair = openPtyPair();
  const fd = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open");
  const a = new MeteredFdPipe(fd, "slave");
  const b = new MeteredFdPipe(pair.masterFd, "master");
  return {
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
      libc.close(fd);
      pair.close();
    },
  };
}

/** Bulk bytes slave → master for `ms`, keeping the writer's backlog bounded like the pump does. */
async function rawRate(ms: number): Promise<number> {
  const { a, b, close } = openPipes();
  let received = 0;
  b.onData((d) => {
    received += d.byteLength;
  });
  const chunk = crypto.getRandomValues(new Uint8Array(16 * 1024));
  await Bun.sleep(10);
  const start = performance.now();
  const startBytes = received;
  while (performance.now() - start < ms) {
    while (a.backlogBytes() < 64 * 1024) a.write(chunk);
    await Bun.sleep(0);
  }
  const rate = ((received - startBytes) * 1000) / (performance.now() - start);
  await close();
  return rate;
}

/** 10-byte ping-pong over the pty, master echoing; returns RTTs in ms. */
async function rawEcho(n: number): Promise<number[]> {
  const { a, b, close } = openPipes();
  b.onData((d) => b.write(d));
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
  await close();
  return rtts;
}

/** The pty's own limit: a writer that retries EAGAIN on every event-loop turn (burns a core; bench only). */
async function ptyLimit(ms: number): Promise<number> {
  const pair = openPtyPair();
  const fd = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open");
  const reader = new MeteredFdPipe(pair.masterFd, "master");
  let received = 0;
  reader.onData((d) => {
    received += d.byteLength;
  });
  const buf = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    try {
      fs.writeSync(fd, buf);
    } catch {
      await new Promise<void>((r) => setImmediate(r));
    }
  }
  const rate = (received * 1000) / (performance.now() - t0);
  await reader.close();
  libc.close(fd);
  pair.close();
  return rate;
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

const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const mb = (bytesPerSec: number) => `${(bytesPerSec / 1e6).toFixed(2)} MB/s`;

if (!canUseNetns() || Bun.which("iperf3") === null) {
  console.log("dataplane bench: needs root, /dev/net/tun, ip and iperf3; skipped");
  process.exit(0);
}

const limitSpin = await ptyLimit(seconds * 1000);
const viaPipe = await rawRate(seconds * 1000);
// The limit is the best any writer got out of this pty.
const raw = Math.max(limitSpin, viaPipe);
const echo = await rawEcho(500);
console.log(`raw pty byte rate, spinning writer (one direction): ${mb(limitSpin)}`);
console.log(`raw pty byte rate through MeteredFdPipe (what the PPP link uses): ${mb(viaPipe)}`);
console.log(`raw pty byte rate, the limit (best of both): ${mb(raw)}`);
console.log(`raw pty echo RTT (10 B): mean ${mean(echo).toFixed(3)} ms, p50 ${pct(echo, 50).toFixed(3)} ms, p99 ${pct(echo, 99).toFixed(3)} ms`);

const h = new NetnsHarness();
try {
  const s = await buildSplitStack(h);
  const cpu0 = process.cpuUsage();
  const peer0 = procCpuSeconds(s.peerPid);
  const t0 = performance.now();
  const up = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const peerShare = (procCpuSeconds(s.peerPid) - peer0) / wall;
  const down = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds, reverse: true });
  const upRate = up.bytes / up.seconds;
  const downRate = down.bytes / down.seconds;
  const cpuShare = (cpu.user + cpu.system) / 1e6 / wall;
  console.log(`TCP goodput A→B (iperf3 -t ${seconds}): ${mb(upRate)} (${(up.bitsPerSecond / 1e6).toFixed(1)} Mbit/s)`);
  console.log(`TCP goodput B→A (iperf3 -R):            ${mb(downRate)} (${(down.bitsPerSecond / 1e6).toFixed(1)} Mbit/s)`);
  console.log(`cellkeep process CPU during A→B: ${(cpuShare * 100).toFixed(0)} % of one core (user ${(cpu.user / 1e6).toFixed(2)} s, sys ${(cpu.system / 1e6).toFixed(2)} s over ${wall.toFixed(2)} s; this process = cellkeep\'s side: one PPP end, one TUN, one pump; the far end runs in its own process like a modem)`);
  console.log(`far-end PPP process CPU during A→B: ${(peerShare * 100).toFixed(0)} % of one core`);
  const ping = await h.exec(s.nsA, ["ping", "-c", "200", "-i", "0.005", "-q", "-s", "56", SERVER_IP], { timeoutMs: 20_000 });
  const m = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(ping.stdout);
  if (m) {
    const avg = Number(m[2]);
    console.log(`ping through the stack (84 B IP): min ${m[1]} / avg ${m[2]} / max ${m[3]} ms; added vs raw pty echo: ${(avg - mean(echo)).toFixed(3)} ms`);
  } else console.log(`ping failed: ${ping.stdout} ${ping.stderr}`);
  const ratio = Math.min(upRate, downRate) / raw;
  console.log(`goodput / raw pty rate: A→B ${((upRate / raw) * 100).toFixed(0)} %, B→A ${((downRate / raw) * 100).toFixed(0)} % → ${ratio >= 0.7 ? "meets" : "MISSES"} the 70 % goal`);
  console.log(`pump A: ${JSON.stringify(s.pumpA.counters)}`);
} finally {
  await h.cleanup();
}

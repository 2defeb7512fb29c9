/**
 * HTTP endpoint load while the link flaps: `bun test/bench/http.ts [requests] [concurrency]`.
 * Serves the app on 127.0.0.1 (ephemeral port), keeps a synthetic event
 * source flapping the link (down → recovering → redial → connected, plus
 * signal and probe reports) as fast as the event loop allows, and fires a
 * bounded number of concurrent /status and /metrics requests (loopback only).
 * One SSE client follows the stream throughout. Prints requests/s and
 * p50/p99 latency per endpoint; never asserts. The server and the flapping
 * source run in a child process (this file with --serve) so the load
 * generator does not share its event loop; both still share the machine.
 */
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { FakeLinkSource } from "../support/fake-source.ts";

if (process.argv[2] === "--serve") {
  await serve();
} else {
  await load();
}

async function serve(): Promise<void> {
  const bus = new EventBus<EventBase>(1000);
  const src = new FakeLinkSource(bus, () => Date.now());
  src.backfill(24 * 3_600_000, 30_000); // a full day of plot history
  src.bringUp();
  let bytes = 0;
  const app = createHttpApp({
    events: bus,
    clock: { now: () => Date.now() },
    version: "bench",
    startedAt: Date.now(),
    token: null,
    counters: () => ((bytes += 1500), { bytesIn: bytes, bytesOut: bytes / 2, packetsIn: bytes / 1500, packetsOut: bytes / 3000, errors: { badFcs: 0, runts: 0 } }),
  });
  const server = startHttpServer(app, "127.0.0.1:0");
  // The flapping link: one flap (~15 events) + signal + probe per macrotask turn, started on "go".
  let flapping = false;
  let flaps = 0;
  let events0 = 0;
  const flapLoop = () => {
    if (!flapping) return;
    src.flap();
    src.signal();
    src.probe(flaps % 5 !== 0);
    flaps++;
    setTimeout(flapLoop, 0);
  };
  process.stdout.write(server.url + "\n");
  const stdin = Bun.stdin.stream().getReader();
  for (;;) {
    const { done, value } = await stdin.read();
    if (done) break;
    const cmd = new TextDecoder().decode(value);
    if (cmd.includes("go") && !flapping) {
      flapping = process.env.NOFLAP !== "1";
      events0 = bus.count();
      flapLoop();
    }
    if (cmd.includes("stop")) {
      flapping = false;
      process.stdout.write(JSON.stringify({ flaps, events: bus.count() - events0 }) + "\n");
      await server.stop();
      process.exit(0);
    }
  }
  await server.stop();
}

async function load(): Promise<void> {
  const TOTAL = Math.min(Number(process.argv[2] ?? 4000), 50_000);
  const CONCURRENCY = Math.min(Number(process.argv[3] ?? 16), 256);
  const child = Bun.spawn([process.execPath, import.meta.path, "--serve"], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: process.env });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const readLine = async (): Promise<string> => {
    for (;;) {
      const i = buf.indexOf("\n");
      if (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        return line;
      }
      const { done, value } = await lines.read();
      if (done) throw new Error("server process ended");
      buf += value;
    }
  };
  try {
    const url = await readLine();
    if (!url.startsWith("http://127.0.0.1:")) throw new Error(`unexpected server line: ${url}`);

    // One live SSE follower, counting bytes received.
    const sseAbort = new AbortController();
    let sseBytes = 0;
    const sseDone = fetch(url + "/events/stream", { signal: sseAbort.signal })
      .then(async (res) => {
        const reader = res.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          sseBytes += value.length;
        }
      })
      .catch(() => {});

    const lat: Record<string, number[]> = { "/status": [], "/metrics": [] };
    let errors = 0;
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < TOTAL) {
        const path = issued++ % 2 === 0 ? "/status" : "/metrics";
        const t0 = performance.now();
        try {
          const res = await fetch(url + path);
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
        } catch {
          errors++;
        }
        lat[path]!.push(performance.now() - t0);
      }
    };

    for (let i = 0; i < 50; i++) await (await fetch(url + (i % 2 ? "/status" : "/metrics"))).arrayBuffer(); // warm-up
    child.stdin.write("go\n");
    child.stdin.flush();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const secs = (performance.now() - t0) / 1000;
    child.stdin.write("stop\n");
    child.stdin.flush();
    const { flaps, events } = JSON.parse(await readLine()) as { flaps: number; events: number };
    sseAbort.abort();
    await sseDone;

    console.log(`http bench: ${TOTAL} requests, concurrency ${CONCURRENCY}, ${secs.toFixed(2)} s, errors ${errors}`);
    console.log(`  link flaps during run: ${flaps} (${Math.round(events / secs)} events/s), SSE client received ${(sseBytes / 1024).toFixed(0)} KiB`);
    console.log(`  overall: ${Math.round(TOTAL / secs)} req/s`);
    for (const [path, xs] of Object.entries(lat)) {
      console.log(`  ${path.padEnd(9)} n=${xs.length}  p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  max ${Math.max(...xs).toFixed(2)} ms`);
    }
  } finally {
    child.kill();
    await child.exited;
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

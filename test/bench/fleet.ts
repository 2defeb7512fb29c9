#!/usr/bin/env bun
/**
 * Fleet benchmark: 1,000 simulated gateways (the real MqttPublisher with its
 * on-disk queue, in 4 processes) against one local Mosquitto, watched by
 * `cellkeep fleet --json --follow` in its own process. Prints messages/s
 * published, the broker's CPU, event → fleet-view latency p50/p99, and the
 * time until the view shows all gateways. Loopback only; bounded in time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startBroker } from "../support/mosquitto.ts";

const GATEWAYS = Number(process.env.FLEET_GATEWAYS ?? 1000);
const PROCESSES = 4;
const SECONDS = Number(process.env.FLEET_SECONDS ?? 30);
const EVENT_EVERY_MS = 5_000;
const ROOT = resolve(import.meta.dir, "../..");

const dir = mkdtempSync(join(tmpdir(), "ck-fleet-bench-"));
const broker = await startBroker({ maxFds: 8192 });
try {
  const viewer = Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), "fleet", "--broker", broker.url, "--json", "--follow"], { stdout: "pipe", stderr: "inherit" });
  await Bun.sleep(500); // the viewer subscribes first: it must see every gateway arrive
  const seen = new Set<string>();
  const latencies: number[] = [];
  let viewerMessages = 0;
  let allSeenAt: number | null = null;
  const t0 = Date.now();
  void (async () => {
    const reader = viewer.stdout.getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += new TextDecoder().decode(value);
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        viewerMessages++;
        if (line.kind === "status" && !seen.has(line.device)) {
          seen.add(line.device);
          if (seen.size === GATEWAYS && allSeenAt === null) allSeenAt = line.receivedAt;
        }
        if (line.kind === "event" && line.event.type === "modem.state") latencies.push(line.receivedAt - line.event.at);
      }
    }
  })();
  const cpu0 = broker.cpuMs();
  const per = Math.ceil(GATEWAYS / PROCESSES);
  const workers = Array.from({ length: PROCESSES }, (_, p) =>
    Bun.spawn([process.execPath, join(ROOT, "test/support/fleet-gateways.ts"), broker.url, join(dir, `w${p}`), String(p * per), String(Math.min(per, GATEWAYS - p * per)), String(SECONDS), String(EVENT_EVERY_MS)], { stdout: "pipe", stderr: "inherit" }),
  );
  const results = await Promise.all(workers.map(async (w) => JSON.parse((await new Response(w.stdout).text()).trim().split("\n").at(-1)!)));
  const wall = Date.now() - t0;
  const cpu = broker.cpuMs() - cpu0;
  await Bun.sleep(500);
  viewer.kill("SIGTERM");
  await viewer.exited;
  const sum = (k: string) => results.reduce((a, r) => a + r[k], 0);
  // Presence "online" and "offline" per gateway come on top of the counted kinds.
  const published = sum("events") + sum("status") + sum("metrics") + 2 * GATEWAYS;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : NaN);
  console.log(`gateways: ${GATEWAYS} in ${PROCESSES} processes, ${SECONDS} s, one link-state event per gateway every ${EVENT_EVERY_MS / 1000} s`);
  console.log(`published: ${published} messages (${sum("events")} events, ${sum("status")} status, ${sum("metrics")} metrics, presence) = ${(published / (wall / 1000)).toFixed(0)} messages/s over ${(wall / 1000).toFixed(1)} s`);
  console.log(`events left queued at the end: ${sum("pending")}; connections made: ${sum("connects")}`);
  console.log(`fleet view: ${viewerMessages} messages received; all ${GATEWAYS} gateways shown after ${allSeenAt === null ? `never (saw ${seen.size})` : `${allSeenAt - t0} ms`}`);
  console.log(`event → fleet view latency: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1)} ms (${latencies.length} events)`);
  console.log(`broker CPU: ${cpu.toFixed(0)} ms over ${(wall / 1000).toFixed(1)} s = ${((100 * cpu) / wall).toFixed(1)} % of one core`);
} finally {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}

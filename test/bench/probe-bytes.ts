#!/usr/bin/env bun
/**
 * What health probing costs on a metered link, per day, at the default
 * settings: the real probes (ICMP through the in-link prober, from the
 * config's defaults) run for one simulated day under a manual clock against a
 * peer that answers every echo, and every IP byte that crosses the link is
 * counted on the link itself. Then the same day with quiet liveness and
 * traffic every 30 s, and with the quiet cap. LCP echo is shown apart: it ends
 * in the modem (PPP is between host and modem), so it costs no cellular data,
 * only serial-line octets. Prints figures; asserts nothing.
 */
import { loadConfigText } from "../../src/config/load.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { HealthMonitor } from "../../src/health/monitor.ts";
import { InLinkIcmpProber } from "../../src/health/icmp-prober.ts";
import { QuietLiveness } from "../../src/health/quiet.ts";
import { probeScheduleFromConfig } from "../../src/health/schedule.ts";
import { buildProbes } from "../../src/health/setup.ts";
import { buildEchoReply, ICMP_ECHO_REQUEST, InLinkPinger, parseEcho } from "../../src/net/icmp.ts";
import { createIpLinkPair } from "../../src/net/ip-link.ts";
import { parseIpv4 } from "../../src/net/packet.ts";
import { encodeFrame } from "../../src/ppp/hdlc.ts";
import { DEFAULT_FRAMING, PROTO } from "../../src/ppp/types.ts";

const DAY_MS = 86_400_000;
const loaded = loadConfigText('[network]\napn = "internet"\n', "defaults.toml");
if (!loaded.ok) throw new Error("the default config does not load");
const config = loaded.config;

interface DayResult {
  ipBytes: number;
  rounds: number;
  skipped: number;
  reportedBytes: number;
  estimate: number | null;
}

/** One simulated day of the default probe schedule; `traffic`: other data arrives every this many ms (0: none). */
async function day(o: { quietLiveness: boolean; capQuiet: boolean; trafficEveryMs: number }): Promise<DayResult> {
  const sched = new ManualScheduler(Date.parse("2026-03-01T00:00:00Z"));
  const [ours, network] = createIpLinkPair();
  let ipBytes = 0;
  let received = 0;
  const pinger = new InLinkPinger({ identifier: 0x1234, source: "10.64.0.2" });
  const prober = new InLinkIcmpProber(
    pinger,
    (p) => {
      ipBytes += p.length;
      return ours.sendIp(4, p);
    },
    sched,
  );
  ours.onIp((_v, p) => {
    ipBytes += p.length;
    if (!prober.offer(p)) received++;
  });
  // The network answers every echo at once, the way 8.8.8.8 and 1.1.1.1 do.
  network.onIp((_v, p) => {
    const e = parseEcho(p);
    if (!e || e.type !== ICMP_ECHO_REQUEST) return;
    network.sendIp(4, buildEchoReply({ source: parseIpv4(e.destination)!, destination: parseIpv4(e.source)!, identifier: e.identifier, sequence: e.sequence, payload: e.payload }));
  });
  const schedule = probeScheduleFromConfig(config.health);
  const quiet = new QuietLiveness({ enabled: o.quietLiveness, received: () => received, capQuiet: () => o.capQuiet, schedule });
  // The default probe set: ICMP to each default target (LCP echo and the modem check cost no cellular data).
  const probes = buildProbes(config, { icmp: prober });
  const monitor = new HealthMonitor({ scheduler: sched, schedule, probes, timeoutMs: config.health.timeout, failures: config.health.failures, onUnhealthy: () => {}, quiet });
  monitor.start();
  monitor.setLinkUp(true);
  const end = sched.now() + DAY_MS;
  let nextTraffic = o.trafficEveryMs > 0 ? sched.now() + o.trafficEveryMs : Infinity;
  for (;;) {
    const due = Math.min(sched.nextDeadline() ?? Infinity, nextTraffic);
    if (due > end) break;
    if (due === nextTraffic) {
      // Someone's data (an MQTT ack, say): only its arrival matters here.
      received++;
      nextTraffic += o.trafficEveryMs;
      if ((sched.nextDeadline() ?? Infinity) > due) {
        sched.advanceTo(due);
        continue;
      }
    }
    sched.advanceTo(due);
    await monitor.settled();
    for (let i = 0; i < 4; i++) await Promise.resolve();
  }
  monitor.stop();
  const v = quiet.view(sched.now());
  return { ipBytes, rounds: v.roundsActive + v.roundsSkipped, skipped: v.roundsSkipped, reportedBytes: v.bytesTotal, estimate: v.bytesPerDayEstimate };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

// The packets themselves.
const pinger = new InLinkPinger({ identifier: 1, source: "10.64.0.2" });
const request = pinger.request(config.health.targets[0]!, 0)!;
const echo = parseEcho(request)!;
const reply = buildEchoReply({ source: parseIpv4(echo.destination)!, destination: parseIpv4(echo.source)!, identifier: echo.identifier, sequence: echo.sequence, payload: echo.payload });
console.log(`defaults: probes every ${config.health.every ?? 60_000} ms (health.every unset → 60 s), targets ${config.health.targets.join(", ")}, modem_check ${config.health.modem_check}`);
console.log(`ICMP echo request ${request.length} B + reply ${reply.length} B IP per target per round (20 IPv4 + 8 ICMP + ${echo.payload.length} payload)`);

const plain = await day({ quietLiveness: false, capQuiet: false, trafficEveryMs: 0 });
console.log(
  `default settings, one day: ${fmt(plain.rounds)} rounds, ${fmt(plain.ipBytes)} IP bytes on the link (${mb(plain.ipBytes)}/day, ${mb(plain.ipBytes * 30)} per 30-day month); the monitor counted ${fmt(plain.reportedBytes)}, /status estimate ${plain.estimate === null ? "n/a" : fmt(plain.estimate)} B/day`,
);
const quietIdle = await day({ quietLiveness: true, capQuiet: false, trafficEveryMs: 0 });
console.log(`quiet_liveness = true, no other traffic: ${fmt(quietIdle.skipped)} of ${fmt(quietIdle.rounds)} rounds skipped, ${fmt(quietIdle.ipBytes)} B/day (an idle link still has to prove itself)`);
const quietBusy = await day({ quietLiveness: true, capQuiet: false, trafficEveryMs: 30_000 });
console.log(`quiet_liveness = true, data arriving every 30 s: ${fmt(quietBusy.skipped)} of ${fmt(quietBusy.rounds)} rounds skipped, ${fmt(quietBusy.ipBytes)} B/day`);
const capped = await day({ quietLiveness: false, capQuiet: true, trafficEveryMs: 0 });
console.log(`usage.quiet_at reached: ${fmt(capped.skipped)} of ${fmt(capped.rounds)} rounds skipped, ${fmt(capped.ipBytes)} B/day`);

// LCP echo: host ↔ modem only. Echo-Request/Reply = code, id, length, magic (8 octets), HDLC-framed with the LCP default framing.
const lcp = encodeFrame(PROTO.LCP, new Uint8Array([9, 1, 0, 8, 0x12, 0x34, 0x56, 0x78]), DEFAULT_FRAMING);
const echoes = DAY_MS / config.ppp.echo_interval;
console.log(
  `LCP echo (ppp.echo_interval ${config.ppp.echo_interval / 1000} s, echo_only_when_idle ${config.ppp.echo_only_when_idle}): ${fmt(echoes)} requests/day, ~${lcp.length} serial octets each way per echo = ~${fmt(echoes * lcp.length * 2)} serial octets/day, 0 cellular bytes (PPP ends in the modem)`,
);

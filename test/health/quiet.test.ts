import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { HealthQuietEvent, ProbeKind } from "../../src/core/agent-events.ts";
import { HealthMonitor } from "../../src/health/monitor.ts";
import { cronSchedule, everySchedule } from "../../src/health/schedule.ts";
import { QuietLiveness, roundsPerDay } from "../../src/health/quiet.ts";
import type { Probe, ProbeOutcome } from "../../src/health/probes.ts";
import { runMonitorUntil } from "./fake-time.ts";

/** A probe that records its runs and reports `bytes` (null: it cannot tell, like HTTP). */
class CountingProbe implements Probe {
  runs: number[] = [];
  constructor(
    readonly kind: ProbeKind,
    readonly counts: boolean,
    private readonly sched: ManualScheduler,
    private readonly bytes: number | null,
    readonly target: string | null = null,
  ) {}
  async run(): Promise<ProbeOutcome> {
    this.runs.push(this.sched.now());
    return { ok: true, rttMs: 40, loss: 0, ...(this.bytes !== null ? { bytes: this.bytes } : {}) };
  }
}

const EVERY = 60_000;

function harness(o: { enabled?: boolean; capQuiet?: boolean; httpToo?: boolean } = {}) {
  const sched = new ManualScheduler(Date.parse("2026-03-01T00:00:00Z"));
  let received = 0;
  let capQuiet = o.capQuiet ?? false;
  const quietEvents: HealthQuietEvent[] = [];
  const icmp = new CountingProbe("icmp", true, sched, 120, "8.8.8.8");
  const http = new CountingProbe("http", true, sched, null, "http://example.com/");
  const lcp = new CountingProbe("lcp-echo", false, sched, null);
  const modem = new CountingProbe("modem", true, sched, null);
  const schedule = everySchedule(EVERY);
  const quiet = new QuietLiveness({
    enabled: o.enabled ?? true,
    received: () => received,
    capQuiet: () => capQuiet,
    schedule,
    emit: (e) => quietEvents.push(e),
  });
  const monitor = new HealthMonitor({
    scheduler: sched,
    schedule,
    probes: o.httpToo ? [icmp, http, lcp, modem] : [icmp, lcp, modem],
    timeoutMs: 5000,
    failures: 3,
    onUnhealthy: () => {},
    quiet,
  });
  monitor.start();
  monitor.setLinkUp(true);
  const t0 = sched.now();
  return {
    sched,
    icmp,
    lcp,
    modem,
    monitor,
    quiet,
    quietEvents,
    t0,
    /** Data (not a probe answer) arrives through the link. */
    receive: (n = 1) => (received += n),
    setCapQuiet: (v: boolean) => (capQuiet = v),
    /** Run the rounds due up to `k` intervals after the start. */
    untilRound: (k: number) => runMonitorUntil(sched, monitor, t0 + k * EVERY),
  };
}

describe("quiet liveness", () => {
  test("data received during the interval skips the active probes; LCP echo and the modem check still run", async () => {
    const h = harness();
    await h.untilRound(1); // the first round on a new link always probes
    expect(h.icmp.runs).toHaveLength(1);
    h.receive();
    await h.untilRound(2);
    expect(h.icmp.runs).toHaveLength(1);
    expect(h.lcp.runs).toHaveLength(2);
    expect(h.modem.runs).toHaveLength(2);
    expect(h.monitor.lastRound?.skippedActive).toBe("traffic");
    expect(h.monitor.lastRound?.ok).toBe(true);
    // Traffic keeps flowing: still skipped.
    h.receive();
    await h.untilRound(3);
    expect(h.icmp.runs).toHaveLength(1);
    // Silence for a whole interval: the link must prove itself again.
    await h.untilRound(4);
    expect(h.icmp.runs).toHaveLength(2);
    expect(h.monitor.lastRound?.skippedActive).toBeNull();
    // One event per change, not one per round.
    expect(h.quietEvents.map((e) => [e.quiet, e.reason])).toEqual([
      [true, "traffic"],
      [false, null],
    ]);
    const v = h.quiet.view(h.sched.now());
    expect([v.roundsActive, v.roundsSkipped]).toEqual([2, 2]);
    h.monitor.stop();
  });

  test("without quiet_liveness every round probes, whatever arrives", async () => {
    const h = harness({ enabled: false });
    await h.untilRound(1);
    for (let k = 2; k <= 4; k++) {
      h.receive(10);
      await h.untilRound(k);
    }
    expect(h.icmp.runs).toHaveLength(4);
    expect(h.quietEvents).toEqual([]);
    h.monitor.stop();
  });

  test("a new link probes at once even if data arrived just before it went down", async () => {
    const h = harness();
    await h.untilRound(1);
    h.receive();
    h.monitor.setLinkUp(false);
    h.monitor.setLinkUp(true);
    await h.untilRound(2);
    expect(h.icmp.runs).toHaveLength(2);
    h.monitor.stop();
  });

  test("the quiet cap skips the active probes in every round, also with quiet_liveness off and no traffic", async () => {
    const h = harness({ enabled: false, capQuiet: true });
    await h.untilRound(3);
    expect(h.icmp.runs).toHaveLength(0);
    expect(h.modem.runs).toHaveLength(3);
    expect(h.quietEvents.map((e) => e.reason)).toEqual(["cap"]);
    h.setCapQuiet(false); // resumed, or a new cycle
    await h.untilRound(4);
    expect(h.icmp.runs).toHaveLength(1);
    h.monitor.stop();
  });

  test("probe bytes: counted per round, summed over 24 h, and the per-day estimate is the schedule's rounds × the last active round", async () => {
    const h = harness({ enabled: false });
    await h.untilRound(10);
    const v = h.quiet.view(h.sched.now());
    expect(v.bytesTotal).toBe(10 * 120);
    expect(v.bytesLast24h).toBe(10 * 120);
    expect(v.bytesPerDayEstimate).toBe(1440 * 120);
    expect(v.bytesComplete).toBe(true);
    // A day later those rounds have left the 24 h window (the link went down: no rounds since).
    h.monitor.setLinkUp(false);
    h.sched.advance(26 * 3_600_000);
    const later = h.quiet.view(h.sched.now());
    expect(later.bytesLast24h).toBe(0);
    expect(later.bytesTotal).toBe(10 * 120);
    h.monitor.stop();
  });

  test("an HTTP probe cannot count its bytes: the figures are marked as a lower bound", async () => {
    const h = harness({ enabled: false, httpToo: true });
    await h.untilRound(1);
    expect(h.quiet.view(h.sched.now()).bytesComplete).toBe(false);
    h.monitor.stop();
  });

  test("rounds per day of a schedule: every 60 s → 1440, a cron every 5 minutes → 288", () => {
    const from = Date.parse("2026-03-01T00:00:30Z");
    expect(roundsPerDay(everySchedule(60_000), from)).toBe(1440);
    expect(roundsPerDay(cronSchedule("*/5 * * * *", { timezone: "UTC" }), from)).toBe(288);
  });
});

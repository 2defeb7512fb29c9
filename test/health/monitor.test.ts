import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { Cause } from "../../src/core/cause.ts";
import type { HealthProbeEvent, ProbeKind } from "../../src/core/agent-events.ts";
import { HealthMonitor, roundPasses, type ProbeReport } from "../../src/health/monitor.ts";
import { cronSchedule, everySchedule, probeScheduleFromConfig } from "../../src/health/schedule.ts";
import { IcmpProbe, LcpEchoProbe, ModemCheckProbe, type Probe, type ProbeOutcome } from "../../src/health/probes.ts";
import type { HealthUnhealthyEvent } from "../../src/health/events.ts";
import { runMonitorUntil } from "./fake-time.ts";

const iso = (s: string) => Date.parse(s);

/** A probe whose answer the test sets; optionally answers only after `delayMs` of fake time, or never. */
class ScriptedProbe implements Probe {
  ok = true;
  runs: number[] = [];
  delayMs: number | "never" = 0;
  constructor(
    readonly kind: ProbeKind,
    readonly target: string | null,
    readonly counts: boolean,
    private readonly sched: ManualScheduler,
  ) {}
  run(): Promise<ProbeOutcome | null> {
    this.runs.push(this.sched.now());
    const out: ProbeOutcome = { ok: this.ok, rttMs: this.ok ? 42 : null, loss: this.ok ? 0 : 1, ...(this.ok ? {} : { detail: "timeout" }) };
    if (this.delayMs === "never") return new Promise(() => {});
    if (this.delayMs === 0) return Promise.resolve(out);
    const d = this.delayMs;
    return new Promise((r) => this.sched.setTimer(this.sched.now() + d, () => r(out)));
  }
}

function harness(opts: { every?: number; cron?: string; failures?: number; start?: number; timeoutMs?: number } = {}) {
  const sched = new ManualScheduler(opts.start ?? iso("2026-03-01T00:02:10Z"));
  const a = new ScriptedProbe("icmp", "8.8.8.8", true, sched);
  const b = new ScriptedProbe("icmp", "1.1.1.1", true, sched);
  const events: (HealthProbeEvent | HealthUnhealthyEvent)[] = [];
  const unhealthy: { cause: Cause; n: number; at: number }[] = [];
  const monitor = new HealthMonitor({
    scheduler: sched,
    schedule: opts.cron ? cronSchedule(opts.cron, { timezone: "UTC" }) : everySchedule(opts.every ?? 30_000),
    probes: [a, b],
    timeoutMs: opts.timeoutMs ?? 5000,
    failures: opts.failures ?? 3,
    onUnhealthy: (cause, n) => unhealthy.push({ cause, n, at: sched.now() }),
    emit: (e) => events.push(e),
  });
  const runUntil = (t: number) => runMonitorUntil(sched, monitor, t);
  return { sched, a, b, events, unhealthy, monitor, runUntil };
}

describe("schedules", () => {
  test("cron pattern: next fire strictly after, in the given zone", () => {
    const s = cronSchedule("*/5 * * * *", { timezone: "UTC" });
    expect(s.next(iso("2026-03-01T00:02:10Z"))).toBe(iso("2026-03-01T00:05:00Z"));
    expect(s.next(iso("2026-03-01T00:05:00Z"))).toBe(iso("2026-03-01T00:10:00Z"));
    expect(cronSchedule("*/20 * * * * *", { timezone: "UTC" }).next(iso("2026-03-01T00:00:00Z"))).toBe(iso("2026-03-01T00:00:20Z"));
    expect(cronSchedule("0 4 * * *", { timezone: "Europe/Berlin" }).next(iso("2026-03-01T00:00:00Z"))).toBe(iso("2026-03-01T03:00:00Z"));
  });
  test("every: from the previous fire time", () => {
    expect(everySchedule(30_000).next(1000)).toBe(31_000);
    expect(() => everySchedule(0)).toThrow();
  });
  test("from config: schedule wins over every; neither → every 60 s", () => {
    const base = { targets: [], timeout: 5000, failures: 3, modem_check: true };
    expect(probeScheduleFromConfig({ ...base, schedule: "*/5 * * * *", every: 1000 }).description).toBe("cron */5 * * * *");
    expect(probeScheduleFromConfig({ ...base, every: 90_000 }).description).toBe("every 1m30s");
    expect(probeScheduleFromConfig(base).next(0)).toBe(60_000);
  });
});

describe("round verdict (pure)", () => {
  const r = (kind: ProbeKind, ok: boolean, counts = true): ProbeReport => ({ kind, target: null, ok, counts, rttMs: null, loss: null });
  test.each([
    [[r("icmp", false), r("icmp", true)], true], // one target answering is enough
    [[r("icmp", false), r("icmp", false)], false],
    [[r("icmp", true), r("dns", false)], false], // every counted kind must pass
    [[r("icmp", true), r("lcp-echo", false, false)], true], // LCP echo is informational
    [[], true],
  ] as const)("%#", (reports, want) => {
    expect(roundPasses(reports as unknown as ProbeReport[])).toBe(want);
  });
});

describe("health monitor under fake time", () => {
  test("every 30 s: 3 failed rounds → onUnhealthy(probe-failed) once, at the third round", async () => {
    const h = harness({ every: 30_000 });
    const t0 = h.sched.now();
    h.monitor.start();
    h.monitor.setLinkUp(true);
    await h.runUntil(t0 + 30_000);
    expect(h.a.runs).toEqual([t0 + 30_000]);
    expect(h.monitor.consecutiveFailures).toBe(0);
    h.a.ok = false;
    h.b.ok = false;
    await h.runUntil(t0 + 89_999);
    expect(h.unhealthy).toHaveLength(0);
    await h.runUntil(t0 + 120_000);
    expect(h.a.runs).toEqual([t0 + 30_000, t0 + 60_000, t0 + 90_000, t0 + 120_000]);
    expect(h.unhealthy).toHaveLength(1);
    expect(h.unhealthy[0]!.at).toBe(t0 + 120_000);
    expect(h.unhealthy[0]!.n).toBe(3);
    expect(h.unhealthy[0]!.cause.code).toBe("probe-failed");
    expect(h.unhealthy[0]!.cause.detail).toContain("icmp 8.8.8.8 (timeout)");
    const probes = h.events.filter((e): e is HealthProbeEvent => e.type === "health.probe");
    expect(probes).toHaveLength(8);
    expect(probes.map((e) => e.consecutiveFailures)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(probes[0]).toMatchObject({ probe: "icmp", target: "8.8.8.8", ok: true, rttMs: 42, loss: 0, at: t0 + 30_000 });
    expect(probes[7]).toMatchObject({ probe: "icmp", target: "1.1.1.1", ok: false, rttMs: null, loss: 1 });
    expect(h.events.some((e) => e.type === "health.unhealthy")).toBe(true);
    h.monitor.stop();
    expect(h.sched.pendingCount()).toBe(0);
  });

  test("cron pattern: rounds at */5 minutes; a good round clears the count; one target is enough", async () => {
    const h = harness({ cron: "*/5 * * * *", failures: 2 });
    h.monitor.start();
    h.monitor.setLinkUp(true);
    expect(h.monitor.nextRoundAt).toBe(iso("2026-03-01T00:05:00Z"));
    h.a.ok = false;
    await h.runUntil(iso("2026-03-01T00:12:00Z"));
    expect(h.a.runs).toEqual([iso("2026-03-01T00:05:00Z"), iso("2026-03-01T00:10:00Z")]);
    expect(h.monitor.consecutiveFailures).toBe(0); // 1.1.1.1 still answers
    h.b.ok = false;
    await h.runUntil(iso("2026-03-01T00:15:00Z"));
    expect(h.monitor.consecutiveFailures).toBe(1);
    h.b.ok = true;
    await h.runUntil(iso("2026-03-01T00:20:00Z"));
    expect(h.monitor.consecutiveFailures).toBe(0);
    h.b.ok = false;
    await h.runUntil(iso("2026-03-01T00:30:00Z"));
    expect(h.unhealthy.map((u) => u.at)).toEqual([iso("2026-03-01T00:30:00Z")]);
    // still failing: reported again after `failures` more rounds, not every round
    await h.runUntil(iso("2026-03-01T00:40:00Z"));
    expect(h.unhealthy.map((u) => u.n)).toEqual([2, 4]);
    h.monitor.stop();
  });

  test("a probe that never answers fails at health.timeout", async () => {
    const h = harness({ every: 60_000, timeoutMs: 5000, failures: 1 });
    const t0 = h.sched.now();
    h.a.delayMs = "never";
    h.b.delayMs = "never";
    h.monitor.start();
    h.monitor.setLinkUp(true);
    h.sched.advanceTo(t0 + 60_000);
    h.sched.advanceTo(t0 + 64_999);
    await Promise.resolve();
    expect(h.monitor.lastRound).toBeNull();
    h.sched.advanceTo(t0 + 65_000);
    await h.monitor.settled();
    expect(h.monitor.lastRound?.ok).toBe(false);
    expect(h.monitor.lastRound?.probes[0]?.detail).toContain("within 5000 ms");
    expect(h.unhealthy).toHaveLength(1);
    h.monitor.stop();
  });

  test("a slow round is not overlapped by the next one", async () => {
    const h = harness({ every: 10_000, timeoutMs: 15_000 });
    const t0 = h.sched.now();
    h.a.delayMs = 12_000;
    h.b.delayMs = 12_000;
    h.monitor.start();
    h.monitor.setLinkUp(true);
    h.sched.advanceTo(t0 + 20_000);
    expect(h.monitor.skippedRounds).toBe(1);
    h.sched.advanceTo(t0 + 22_000);
    await h.monitor.settled();
    expect(h.a.runs).toEqual([t0 + 10_000]);
    expect(h.monitor.lastRound).toMatchObject({ ok: true, at: t0 + 10_000 });
    h.a.delayMs = 0;
    h.b.delayMs = 0;
    await h.runUntil(t0 + 30_000);
    expect(h.a.runs).toEqual([t0 + 10_000, t0 + 30_000]);
    h.monitor.stop();
  });

  test("link down: no timers, count cleared; up again: rounds resume from now", async () => {
    const h = harness({ every: 30_000 });
    const t0 = h.sched.now();
    h.monitor.start();
    expect(h.sched.pendingCount()).toBe(0); // link not up yet: idle
    h.monitor.setLinkUp(true);
    h.a.ok = false;
    h.b.ok = false;
    await h.runUntil(t0 + 60_000);
    expect(h.monitor.consecutiveFailures).toBe(2);
    h.monitor.setLinkUp(false);
    expect(h.monitor.consecutiveFailures).toBe(0);
    expect(h.sched.pendingCount()).toBe(0);
    await h.runUntil(t0 + 600_000);
    expect(h.a.runs).toHaveLength(2);
    h.monitor.setLinkUp(true);
    expect(h.monitor.nextRoundAt).toBe(t0 + 630_000);
    h.monitor.stop();
  });
});

describe("probes", () => {
  test("ICMP probe: loss and mean RTT over `count` echoes", async () => {
    let i = 0;
    const answers = [
      { ok: true, rttMs: 10 },
      { ok: false, rttMs: null, detail: "timeout" },
      { ok: true, rttMs: 30 },
      { ok: false, rttMs: null, detail: "timeout" },
    ];
    const p = new IcmpProbe({ ping: async () => answers[i++]! }, "9.9.9.9", 4);
    // The fake prober reports no byte counts: the probe adds up none.
    expect(await p.run(1000)).toEqual({ ok: true, rttMs: 20, loss: 0.5, bytes: 0 });
    const dead = new IcmpProbe({ ping: async () => ({ ok: false, rttMs: null, detail: "unreachable from 10.0.0.1 (code 1)" }) }, "9.9.9.9", 2);
    expect(await dead.run(1000)).toEqual({ ok: false, rttMs: null, loss: 1, bytes: 0, detail: "unreachable from 10.0.0.1 (code 1)" });
    const throwing = new IcmpProbe({ ping: async () => { throw new Error("boom"); } }, "9.9.9.9");
    expect(await throwing.run(1000)).toMatchObject({ ok: false, detail: "boom" });
  });

  test("LCP echo probe mirrors the PPP session and does not count", async () => {
    let s: { open: boolean; missed: number; rttMs: number | null } | null = { open: true, missed: 0, rttMs: 80 };
    const p = new LcpEchoProbe(() => s);
    expect(p.counts).toBe(false);
    expect(await p.run()).toEqual({ ok: true, rttMs: 80, loss: null });
    s = { open: true, missed: 2, rttMs: 80 };
    expect(await p.run()).toMatchObject({ ok: false, detail: "2 echo request(s) unanswered" });
    s = null;
    expect(await p.run()).toBeNull();
  });

  test("modem check: registered passes, searching fails, unavailable is skipped", async () => {
    let r: { registered: boolean; status: string; signalDbm: number | null } | null = { registered: true, status: "roaming", signalDbm: -71 };
    const p = new ModemCheckProbe(async () => r);
    expect(await p.run()).toEqual({ ok: true, rttMs: null, loss: null, detail: "roaming, -71 dBm" });
    r = { registered: false, status: "searching", signalDbm: null };
    expect(await p.run()).toMatchObject({ ok: false, detail: "searching, no signal report" });
    r = null;
    expect(await p.run()).toBeNull();
  });
});

import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { buildProbes, createHealthMonitor, createMaintenanceWindow } from "../../src/health/setup.ts";
import { ladderOptionsFromConfig } from "../../src/health/ladder.ts";

function config(extra: string): Config {
  const r = loadConfigText(`[network]\napn = "internet"\n${extra}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}
const icmp = { ping: async () => ({ ok: true, rttMs: 5 }) };

describe("health setup from config", () => {
  test("defaults: ICMP to both default targets, modem check, vendor ladder", () => {
    const c = config("");
    const probes = buildProbes(c, { icmp, modemCheck: async () => null, lcpStatus: () => null });
    expect(probes.map((p) => `${p.kind}:${p.target}`)).toEqual(["icmp:8.8.8.8", "icmp:1.1.1.1", "lcp-echo:null", "modem:null"]);
    expect(ladderOptionsFromConfig(c.recovery)).toEqual({ backoffMs: [0, 600_000, 1_800_000, 3_600_000], dialFailures: 3, stableAfterMs: 600_000, powerCycle: false, reboot: false, redialMaxMs: 300_000, operatorRetryMs: 60_000, operatorRetryMaxMs: 3_600_000 });
    expect(createMaintenanceWindow(c, { scheduler: new ManualScheduler(), onMaintenance: () => {} })).toBeNull();
  });

  test("DNS and HTTP probes only in tun mode; modem_check = false drops the modem probe", () => {
    const extra = `[health]\ndns_query = "example.com"\nhttp_url = "http://example.com/"\nmodem_check = false\n`;
    expect(buildProbes(config(extra), { icmp, modemCheck: async () => null }).map((p) => p.kind)).toEqual(["icmp", "icmp"]);
    expect(buildProbes(config(`[link]\nmode = "tun"\n${extra}`), { icmp }).map((p) => p.kind)).toEqual(["icmp", "icmp", "dns", "http"]);
  });

  test("monitor follows health.every and the maintenance window its cron pattern, in fake time", async () => {
    const c = config(`[health]\nevery = "45s"\nfailures = 2\ntargets = ["9.9.9.9"]\n[recovery]\npower_cycle = "gpioset 0 17=0"\n[recovery.maintenance]\nschedule = "0 4 * * *"\naction = "reset-modem"\n`);
    const sched = new ManualScheduler(Date.parse("2026-03-01T03:59:00Z"));
    const m = createHealthMonitor(c, { icmp }, { scheduler: sched, onUnhealthy: () => {} });
    m.start();
    m.setLinkUp(true);
    expect(m.nextRoundAt).toBe(sched.now() + 45_000);
    const fired: string[] = [];
    const w = createMaintenanceWindow(c, { scheduler: sched, onMaintenance: (rung) => fired.push(rung), cron: { timezone: "UTC" } })!;
    w.start();
    expect(w.nextAt).toBe(Date.parse("2026-03-01T04:00:00Z"));
    sched.advance(45_000);
    await m.settled();
    expect(m.lastRound?.probes[0]).toMatchObject({ kind: "icmp", target: "9.9.9.9", ok: true, rttMs: 5 });
    sched.advance(30_000);
    expect(fired).toEqual(["module-reset"]);
    expect(ladderOptionsFromConfig(c.recovery).powerCycle).toBe(true);
    m.stop();
    w.stop();
    expect(sched.pendingCount()).toBe(0);
  });
});

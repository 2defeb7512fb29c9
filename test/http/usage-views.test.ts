/**
 * The usage block as every view shows it: /status, /metrics, the page,
 * `cellkeep status`, and POST /actions/usage-resume under the action rules.
 */
import { describe, expect, test } from "bun:test";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { formatStatus } from "../../src/cli/status.ts";
import { StatusModel } from "../../src/status/model.ts";
import type { UsageStatus } from "../../src/status/usage.ts";
import type { ActionResult, OperatorActions } from "../../src/status/actions.ts";

const now = Date.parse("2025-02-20T12:00:00Z");
const usage: UsageStatus = {
  sim: "89001*************34",
  cycle: { start: "2025-02-01T00:00:00.000Z", end: "2025-03-01T00:00:00.000Z", bytesIn: 700_000_000, bytesOut: 300_000_000, day: 1, timezone: "UTC" },
  bytesTotal: 1_000_000_000,
  caps: { warn: 900_000_000, quiet: null, stop: 1_000_000_000 },
  reached: ["warn", "stop"],
  lifted: [],
  enforcing: { quiet: false, stop: true },
  heldUntil: "2025-03-01T00:00:00.000Z",
  previousCycle: null,
  sims: [{ sim: "89001*************34", cycle: { start: "2025-02-01T00:00:00.000Z", end: "2025-03-01T00:00:00.000Z", bytesIn: 700_000_000, bytesOut: 300_000_000 } }],
  savedAt: "2025-02-20T11:59:00.000Z",
  probes: { quietLiveness: true, quiet: "traffic", roundsActive: 10, roundsSkipped: 30, bytesTotal: 2400, bytesLast24h: 2400, bytesPerDayEstimate: 345_600, bytesComplete: true },
};

function setup(actions?: OperatorActions, token: string | null = "a-token-of-enough-length-1234") {
  const bus = new EventBus<EventBase>(100);
  const status = new StatusModel({ clock: { now: () => now }, version: "9.9.9", startedAt: now - 60_000, usage: () => usage });
  const app = createHttpApp({ events: bus, clock: { now: () => now }, status, token, ...(actions ? { actions } : {}) });
  return { app, status };
}

const redialOnly: OperatorActions = {
  redial: async () => ({ outcome: "started", message: "x" }),
  resetModem: async () => ({ outcome: "started", message: "x" }),
};

describe("usage in the views", () => {
  test("/status carries the block; /metrics has the usage and probe families, ICCIDs masked", async () => {
    const { app } = setup();
    const s = (await (await app.request("/status")).json()) as { usage: UsageStatus };
    expect(s.usage).toEqual(usage);
    const m = await (await app.request("/metrics")).text();
    expect(m).toContain('cellkeep_usage_cycle_bytes{direction="in"} 700000000');
    expect(m).toContain("cellkeep_usage_cycle_end_timestamp_seconds 1740787200");
    expect(m).toContain('cellkeep_usage_cap_bytes{action="stop"} 1000000000');
    expect(m).toContain('cellkeep_usage_cap_reached{action="warn"} 1');
    expect(m).not.toContain('action="quiet"} 1'); // no quiet cap configured, none enforced
    expect(m).toContain('cellkeep_usage_enforced{action="stop"} 1');
    expect(m).toContain('cellkeep_usage_sim_cycle_bytes{sim="89001*************34",direction="out"} 300000000');
    expect(m).toContain("cellkeep_probe_bytes_per_day 345600");
    expect(m).toContain('cellkeep_probe_rounds_total{active="skipped"} 30');
  });

  test("the page has the data-usage card; cellkeep status prints the usage and probe lines", async () => {
    const { app, status } = setup();
    const html = await (await app.request("/")).text();
    expect(html).toContain('id="usage"');
    expect(html).toContain("function renderUsage");
    const text = formatStatus(status.snapshot(), now);
    expect(text).toMatch(/^Usage\s+1 GB of 1 GB \(100 %\) this cycle \(in 700 MB, out 300 MB\), SIM 89001\*+34, cycle ends in 8\.5 d, caps: warn 900 MB REACHED, stop 1 GB REACHED, LINK HELD DOWN until 2025-03-01T00:00:00.000Z/m);
    expect(text).toMatch(/^Probe traffic\s+2\.4 kB in 24 h, 345\.6 kB\/day if every round probes, 10 rounds probed, 30 skipped \(quiet: traffic\)$/m);
  });

  test("POST /actions/usage-resume: the token rules of every action; 503 where usage is not wired; the outcome's status code", async () => {
    const calls: string[] = [];
    const resumeUsage = async (): Promise<ActionResult> => (calls.push("resume"), { outcome: "started", message: "caps lifted; dialling again" });
    const { app } = setup({ ...redialOnly, resumeUsage });
    expect((await app.request("/actions/usage-resume", { method: "POST" })).status).toBe(401);
    const ok = await app.request("/actions/usage-resume", { method: "POST", headers: { authorization: "Bearer a-token-of-enough-length-1234" } });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ action: "usage-resume", outcome: "started" });
    expect(calls).toEqual(["resume"]);
    expect((await app.request("/actions/usage-resume")).status).toBe(405);
    const bare = setup(redialOnly).app;
    expect((await bare.request("/actions/usage-resume", { method: "POST", headers: { authorization: "Bearer a-token-of-enough-length-1234" } })).status).toBe(503);
    const noToken = setup({ ...redialOnly, resumeUsage }, null).app;
    expect((await noToken.request("/actions/usage-resume", { method: "POST" })).status).toBe(403);
    expect(calls).toEqual(["resume"]);
  });
});

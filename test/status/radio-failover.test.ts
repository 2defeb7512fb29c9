/** The status view's radio and failover fields and their metrics, from the events alone. */
import { describe, expect, test } from "bun:test";
import type { AgentEvent } from "../../src/core/agent-events.ts";
import { cause } from "../../src/core/cause.ts";
import { renderMetrics } from "../../src/http/metrics.ts";
import { StatusView } from "../../src/status/status-view.ts";

/** Events typed as the agent emits them. */
const feed = (v: StatusView, ...events: AgentEvent[]) => events.forEach((e) => v.apply(e));
const info = { version: "t", startedAt: 0, counters: null };
const metrics = (v: StatusView) => renderMetrics({ view: v, now: 10_000, startedAt: 0, version: "t", counters: null, probesEnabled: false, eventsTotal: 0, sseClients: 0 });

describe("status: radio policy, roaming deny, APN and SIM failover", () => {
  test("radio policy applied, then refused; writes and refusals counted by setting", () => {
    const v = new StatusView();
    feed(v, {
      type: "modem.radio", at: 1_000, profile: "quectel-bg96", notes: [], written: 1, ok: true,
      settings: [
        { name: "band", result: "written", wanted: "catm1=80084,nb=80084", found: "catm1=400a0e189f,nb=a0e189f" },
        { name: "roamservice", result: "unchanged", wanted: "1", found: "1" },
      ],
    });
    let s = v.snapshot(2_000, info);
    expect(s.radio.policy).toBe("applied");
    expect(s.radio.writes).toBe(1);
    expect(s.radio.settings.map((x) => x.result)).toEqual(["written", "unchanged"]);
    feed(v, {
      type: "modem.radio", at: 3_000, profile: "quectel-bg96", notes: ["gsm left out"], written: 0, ok: false,
      settings: [{ name: "band", result: "refused", wanted: "catm1=80084,nb=80084", found: null, detail: "cme-error 4" }],
    });
    s = v.snapshot(4_000, info);
    expect(s.radio).toMatchObject({ policy: "refused", writes: 1, notes: ["gsm left out"], at: new Date(3_000).toISOString() });
    expect(s.radio.settings[0]).toEqual({ name: "band", result: "refused", wanted: "catm1=80084,nb=80084", found: null, detail: "cme-error 4" });
    const m = metrics(v);
    expect(m).toContain('cellkeep_radio_writes_total{setting="band"} 1');
    expect(m).toContain('cellkeep_radio_refused_total{setting="band"} 1');
  });

  test("roaming denied is a named waiting state until the state changes", () => {
    const v = new StatusView();
    feed(v, { type: "modem.state", at: 1_000, state: "registering", previous: "sim", cause: null });
    feed(v, { type: "modem.state", at: 2_000, state: "waiting", previous: "registering", cause: cause("roaming-denied", "+CEREG stat 5") });
    expect(v.snapshot(3_000, info).radio.roamingDenied).toBe(true);
    expect(metrics(v)).toContain("cellkeep_roaming_denied 1");
    feed(v, { type: "modem.state", at: 4_000, state: "syncing", previous: "waiting", cause: null });
    expect(v.snapshot(5_000, info).radio.roamingDenied).toBe(false);
    expect(metrics(v)).toContain("cellkeep_roaming_denied 0");
  });

  test("APN in use and failovers; SIM slot, switches, one-slot modules", () => {
    const v = new StatusView();
    feed(v, { type: "modem.apn", at: 1_000, apn: "a", index: 0, count: 2, previous: null, cause: null });
    feed(v, { type: "modem.apn", at: 1_100, apn: "b", index: 1, count: 2, previous: "a", cause: cause("apn-rejected") });
    feed(v, { type: "modem.sim-switch", at: 2_000, result: "switched", from: 1, to: 2, reason: "no connected link for 10 min" });
    const s = v.snapshot(3_000, info);
    expect(s.failover).toEqual({
      apn: "b", apnIndex: 1, apnCount: 2, apnFailovers: 1, simSlot: 2, simSwitches: 1, lastSimSwitchAt: new Date(2_000).toISOString(), dualSim: true,
    });
    const m = metrics(v);
    expect(m).toContain("cellkeep_apn_failovers_total 1");
    expect(m).toContain("cellkeep_sim_switches_total 1");
    expect(m).toContain("cellkeep_sim_slot 2");
    const one = new StatusView();
    feed(one, { type: "modem.sim-switch", at: 1, result: "unsupported", from: null, to: null, reason: "x" });
    expect(one.snapshot(2, info).failover).toMatchObject({ dualSim: false, simSwitches: 0, simSlot: null });
    expect(metrics(one)).not.toContain("cellkeep_sim_slot ");
  });

  test("odd fields never throw and leave the picture sane", () => {
    const v = new StatusView();
    v.apply({ type: "modem.radio", at: 1, settings: "nope", notes: 5 } as never);
    v.apply({ type: "modem.apn", at: 2, apn: 7, index: "x" } as never);
    v.apply({ type: "modem.sim-switch", at: 3, result: 1 } as never);
    const s = v.snapshot(4, info);
    expect(s.radio.settings).toEqual([]);
    expect(s.failover.apn).toBeNull();
    expect(s.failover.simSwitches).toBe(0);
  });
});

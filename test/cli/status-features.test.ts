/**
 * `cellkeep status` shows the fields issue 14 and 17 added to /status (CMUX,
 * radio policy, APN and SIM failover, network time, SMS control): as rows
 * after every existing one, only when there is something to say, and without
 * changing a line a script may parse.
 */
import { describe, expect, test } from "bun:test";
import type { EventBase } from "../../src/core/events.ts";
import { formatStatus, statusCommand } from "../../src/cli/status.ts";
import { StatusModel } from "../../src/status/model.ts";
import type { StatusSnapshot } from "../../src/status/status-view.ts";
import { featureEvents, RAW_SENDER } from "../support/feature-events.ts";

const now = Date.parse("2025-02-20T12:00:00Z");

function model(events: EventBase[]): StatusModel {
  const m = new StatusModel({ clock: { now: () => now }, version: "9.9.9", startedAt: now - 3_600_000 });
  for (const e of events) m.view.apply(e);
  return m;
}

/** The snapshot as an agent from before these fields would have sent it. */
function withoutFeatureFields(s: StatusSnapshot): StatusSnapshot {
  const old = structuredClone(s) as Partial<StatusSnapshot>;
  delete old.radio;
  delete old.failover;
  delete old.time;
  delete old.sms;
  return old as StatusSnapshot;
}

const rowOf = (text: string, label: string) => text.split("\n").find((l) => l.startsWith(`${label} `)) ?? null;

describe("cellkeep status: CMUX, radio, failover, time, SMS rows", () => {
  test("each feature has its row, with the facts of its events", () => {
    const text = formatStatus(model(featureEvents(now)).snapshot(), now);
    expect(rowOf(text, "Mux")).toMatch(/^Mux +CMUX open, N1 127, DLCI 1 control open, DLCI 2 data open DCD on, frames in 5120 out 4800, bad FCS 2$/);
    expect(rowOf(text, "Radio")).toMatch(/^Radio +policy applied 50 s ago, technologies written, 2 unchanged, 1 NVRAM writes since start, notes: operator left as the modem has it$/);
    expect(rowOf(text, "Failover")).toMatch(/^Failover +APN iot\.backup \(2 of 3\), 1 APN failovers, SIM slot 2, 1 SIM switches, last 30 s ago$/);
    expect(rowOf(text, "Time")).toMatch(/^Time +network 2025-02-20T11:59:38\.500Z \(nitz, read 20 s ago\), system clock 1\.5 s ahead, system clock set by cellkeep 19 s ago$/);
    expect(rowOf(text, "SMS")).toMatch(/^SMS +2 commands, 3 rejected \(rate-limited 2, unknown-sender 1\), 1 replies sent, 1 failed, last: redial \(forced\) from \+4917\*{6}67: started — redialling \(10 s ago\)$/);
    // The sender an emitter forgot to mask is masked by the view itself.
    expect(text).not.toContain(RAW_SENDER);
  });

  test("a failed clock set and a roaming hold are named", () => {
    const text = formatStatus(model(featureEvents(now, { clockFailed: true, roamingDenied: true })).snapshot(), now);
    expect(rowOf(text, "Time")).toContain("setting the system clock FAILED (clock-set-failed)");
    expect(rowOf(text, "Time")).not.toContain("set by cellkeep");
    expect(rowOf(text, "Radio")).toEndWith("ROAMING DENIED: waiting for the home network, no dialling");
  });

  test("without these features nothing is added: the output is what an older agent's document gives", () => {
    const s = model([{ type: "modem.state", at: now - 1000, state: "registering", previous: "sim", cause: null } as EventBase]).snapshot();
    const text = formatStatus(s, now);
    for (const label of ["Mux", "Radio", "Failover", "Time", "SMS"]) expect(rowOf(text, label)).toBeNull();
    expect(text).toBe(formatStatus(withoutFeatureFields(s), now));
  });

  test("the new rows are appended: every other line stays as it was, in order, with its padding", () => {
    const s = model(featureEvents(now)).snapshot();
    const full = formatStatus(s, now).split("\n");
    const before = formatStatus(withoutFeatureFields(s), now).split("\n");
    const added = full.filter((l) => /^(Radio|Failover|Time|SMS) /.test(l));
    expect(added.length).toBe(4);
    expect(full.filter((l) => !added.includes(l))).toEqual(before);
    // Appended after the last existing row (Recovery here; Usage when usage is wired).
    expect(full.indexOf(added[0]!)).toBe(before.length - 1);
  });

  test("--json carries the features' fields as /status has them", async () => {
    const s = model(featureEvents(now)).snapshot();
    let out = "";
    const fake = (async () => new Response(JSON.stringify(s), { headers: { "content-type": "application/json" } })) as unknown as typeof fetch;
    const code = await statusCommand(["--json"], { out: (t) => (out += t), err: () => {}, fetch: fake, now: () => now });
    expect(code).toBe(1); // not connected
    const j = JSON.parse(out) as StatusSnapshot;
    expect(j.mux.state).toBe("open");
    expect(j.radio.policy).toBe("applied");
    expect(j.failover).toMatchObject({ apn: "iot.backup", apnFailovers: 1, simSlot: 2, simSwitches: 1 });
    expect(j.time).toMatchObject({ source: "nitz", offsetMs: 1500, systemClockResult: "set" });
    expect(j.sms).toMatchObject({ commands: 2, rejected: 3, replies: 1, replyFailures: 1 });
  });
});

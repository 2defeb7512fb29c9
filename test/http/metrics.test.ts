import { describe, expect, test } from "bun:test";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause } from "../../src/core/cause.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { FakeLinkSource } from "../support/fake-source.ts";

const T0 = 1_700_000_000_000;

/** Run `promtool check metrics` on the text; returns exit code and output. */
async function promtool(text: string): Promise<{ code: number; output: string }> {
  const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, output: out + err };
}

function parseSamples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

function busyApp() {
  const bus = new EventBus<EventBase>(2000);
  const clock = { t: T0 };
  const src = new FakeLinkSource(bus, () => clock.t);
  src.backfill(3_600_000, 30_000);
  src.bringUp();
  for (let i = 0; i < 3; i++) {
    clock.t += 60_000;
    src.flap();
    src.probe(true);
    src.probe(false);
  }
  bus.emit({ type: "modem.state", at: clock.t, state: "waiting", previous: "connected", cause: cause("registration-denied") } as EventBase);
  // label values a network could send us: quotes, backslashes, newlines
  bus.emit({ type: "modem.identity", at: clock.t, manufacturer: "Q", model: 'BG"77\\x\nnew', firmware: "fw", imei: null, imsi: null, iccid: null, profile: "generic" } as EventBase);
  const app = createHttpApp({
    events: bus,
    clock: { now: () => clock.t },
    version: "0.1.0",
    startedAt: T0 - 3_600_000,
    token: null,
    counters: () => ({ bytesIn: 123456, bytesOut: 65432, packetsIn: 321, packetsOut: 300, errors: { badFcs: 2, runts: 1, discardedBytes: 77 } }),
  });
  return { app, clock };
}

describe("GET /metrics", () => {
  test("real output passes promtool check metrics", async () => {
    const { app } = busyApp();
    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    const r = await promtool(text);
    if (r.code !== 0) console.error(r.output);
    expect(r.code).toBe(0);
    expect(r.output.trim()).toBe("");
  });

  test("fresh agent with no data also passes promtool", async () => {
    const app = createHttpApp({ events: new EventBus(), clock: { now: () => T0 }, version: "0.1.0", startedAt: T0, token: null });
    const r = await promtool(await (await app.request("/metrics")).text());
    expect(r.code).toBe(0);
  });

  test("exposes the state enum, signal, counters, histogram, resets by rung and causes", async () => {
    const { app } = busyApp();
    const s = parseSamples(await (await app.request("/metrics")).text());
    expect(s.get('cellkeep_state{state="waiting"}')).toBe(1);
    expect(s.get('cellkeep_state{state="connected"}')).toBe(0);
    expect([...s.keys()].filter((k) => k.startsWith("cellkeep_state{")).length).toBe(12);
    expect(s.get("cellkeep_up")).toBe(0);
    expect(s.get("cellkeep_signal_rsrp_dbm")).toBeLessThan(-80);
    expect(s.get('cellkeep_ppp_bytes_total{direction="in"}')).toBe(123456);
    expect(s.get('cellkeep_ppp_packets_total{direction="out"}')).toBe(300);
    expect(s.get('cellkeep_ppp_errors_total{kind="bad_fcs"}')).toBe(2);
    expect(s.get('cellkeep_recovery_actions_total{rung="redial"}')).toBe(3);
    expect(s.get('cellkeep_recovery_actions_total{rung="module-reset"}')).toBe(0);
    expect(s.get('cellkeep_failures_total{cause="peer-dead"}')).toBe(3);
    expect(s.get('cellkeep_failures_total{cause="registration-denied"}')).toBe(1);
    expect(s.get('cellkeep_probes_total{probe="icmp",result="failed"}')).toBe(3);
    const count = s.get('cellkeep_probe_rtt_seconds_count{probe="icmp"}')!;
    expect(count).toBeGreaterThan(100);
    expect(s.get('cellkeep_probe_rtt_seconds_bucket{probe="icmp",le="+Inf"}')).toBe(count);
    expect(s.get('cellkeep_probe_rtt_seconds_bucket{probe="icmp",le="0.025"}')).toBe(0);
    expect(s.get('cellkeep_probe_rtt_seconds_bucket{probe="icmp",le="0.25"}')).toBe(count);
    expect(s.get("cellkeep_uptime_seconds")).toBeGreaterThan(3600);
    expect(s.get('cellkeep_dials_total{result="connect"}')).toBe(4);
    // label escaping per the exposition format
    expect([...s.keys()].some((k) => k.startsWith("cellkeep_info{") && k.includes('model="BG\\"77\\\\x\\nnew"'))).toBe(true);
  });
});

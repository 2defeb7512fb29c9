/**
 * The status model on its own: typed agent events in, on a manual clock, and
 * what the views read out (snapshot, health, history, counters, change
 * notifications). No HTTP, no systemd.
 */
import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause } from "../../src/core/cause.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import type { AgentEvent, LinkState } from "../../src/core/agent-events.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import { StatusModel } from "../../src/status/model.ts";
import type { PppCounters } from "../../src/status/counters.ts";
import { FAKE_IPV4, FakeLinkSource } from "../support/fake-source.ts";

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
const S = 1000;

function model(opts: { counters?: () => PppCounters | null; probesEnabled?: boolean; sink?: MemorySink } = {}) {
  const clock = new ManualScheduler(T0);
  const m = new StatusModel(
    {
      clock,
      version: "1.2.3",
      startedAt: T0,
      ...(opts.counters ? { counters: opts.counters } : {}),
      ...(opts.probesEnabled !== undefined ? { probesEnabled: opts.probesEnabled } : {}),
      ...(opts.sink ? { logger: createLogger({ level: "debug", format: "text", sink: opts.sink }) } : {}),
    },
    { bucketMs: 10 * S, buckets: 6 },
  );
  const apply = (e: AgentEvent) => m.view.apply(e);
  return { clock, m, apply };
}

const state = (at: number, s: LinkState, previous: LinkState, c: ReturnType<typeof cause> | null = null): AgentEvent => ({
  type: "modem.state",
  at,
  state: s,
  previous,
  cause: c,
});

describe("StatusModel", () => {
  test("a snapshot reads the agent's clock, version and start time, and pulls the counters when taken", () => {
    const k: PppCounters = { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2, errors: { badFcs: 0 } };
    const { clock, m, apply } = model({ counters: () => ({ ...k, errors: { ...k.errors } }) });
    expect(m.snapshot()).toMatchObject({ state: "starting", since: null, uptime: 0, version: "1.2.3", now: new Date(T0).toISOString() });

    clock.advance(5 * S);
    apply(state(clock.now(), "dialing", "attaching"));
    clock.advance(2 * S);
    apply(state(clock.now(), "connected", "negotiating"));
    clock.advance(54 * S);
    k.bytesIn = 1500;
    k.errors.badFcs = 3;

    const s = m.snapshot();
    expect(s.state).toBe("connected");
    expect(s.since).toBe(new Date(T0 + 7 * S).toISOString());
    expect(s.uptime).toBe(61);
    expect(s.now).toBe(new Date(T0 + 61 * S).toISOString());
    expect(s.ppp).toMatchObject({ bytesIn: 1500, bytesOut: 20, packetsIn: 1, packetsOut: 2, errors: { badFcs: 3 } });
    // The snapshot is a copy: changing it does not change the model.
    s.ppp.errors!.badFcs = 99;
    expect(m.snapshot().ppp.errors).toEqual({ badFcs: 3 });
  });

  test("without a counters source, or with one that throws, the counters are null; a failure is logged, never thrown", () => {
    expect(model().m.snapshot().ppp.bytesIn).toBeNull();
    const sink = new MemorySink();
    const { m } = model({
      sink,
      counters: () => {
        throw new Error("decoder gone");
      },
    });
    expect(m.counters()).toBeNull();
    expect(m.snapshot().ppp).toMatchObject({ bytesIn: null, packetsOut: null, errors: null });
    expect(sink.lines.some((l) => l.includes("PPP counters callback failed") && l.includes("decoder gone"))).toBe(true);
  });

  test("follow(): folds in what the bus still holds, then live events; the unsubscribe stops it", () => {
    const { clock, m } = model();
    const bus = new EventBus<EventBase>(100);
    const src = new FakeLinkSource(bus, () => clock.now());
    clock.advance(10 * S);
    src.bringUp();
    const unfollow = m.follow(bus);
    // History: the whole bring-up is reflected, including the address and the cell facts.
    let s = m.snapshot();
    expect(s.state).toBe("connected");
    expect(s.ppp.ipv4?.local).toBe(FAKE_IPV4.local);
    expect(s.registration.operator).toBe("Telekom.de");
    expect(s.timeline.lastConnection?.outcome).toBe("connected");
    expect(bus.listenerCount()).toBe(1);

    clock.advance(S);
    src.setState("recovering", cause("peer-dead"));
    s = m.snapshot();
    expect(s.state).toBe("recovering");
    expect(s.cause?.code).toBe("peer-dead");

    unfollow();
    expect(bus.listenerCount()).toBe(0);
    src.setState("dialing");
    expect(m.snapshot().state).toBe("recovering");
  });

  test("health: connected and a probe on this connection; with probes not configured, connected is enough", () => {
    const withProbes = model();
    const noProbes = model({ probesEnabled: false });
    for (const { clock, apply } of [withProbes, noProbes]) {
      apply({ type: "health.probe", at: clock.now(), probe: "icmp", target: "8.8.8.8", ok: true, rttMs: 50, loss: 0, consecutiveFailures: 0 });
      clock.advance(S);
      apply(state(clock.now(), "connected", "negotiating"));
    }
    // A probe from before this connection does not count.
    expect(withProbes.m.health()).toEqual({ healthy: false, reason: "no-probe-yet" });
    expect(noProbes.m.health()).toEqual({ healthy: true, reason: "ok" });

    const { clock, apply, m } = withProbes;
    clock.advance(S);
    apply({ type: "health.probe", at: clock.now(), probe: "icmp", target: "8.8.8.8", ok: true, rttMs: 50, loss: 0, consecutiveFailures: 0 });
    expect(m.health()).toEqual({ healthy: true, reason: "ok" });
    clock.advance(S);
    apply({ type: "health.probe", at: clock.now(), probe: "icmp", target: "8.8.8.8", ok: false, rttMs: null, loss: 1, consecutiveFailures: 1 });
    expect(m.health()).toEqual({ healthy: false, reason: "probe-failed" });
    clock.advance(S);
    apply(state(clock.now(), "waiting", "connected", cause("not-registered")));
    expect(m.health()).toEqual({ healthy: false, reason: "not-registered" });
  });

  test("history: plot buckets in the window before the model's now; older ones fall out as the clock runs", () => {
    const { clock, m, apply } = model(); // 6 buckets of 10 s: a 60 s window
    const signal = (rssi: number) => apply({ type: "modem.signal", at: clock.now(), rssi, rsrp: null, rsrq: null, sinr: null, act: "LTE-M" });
    signal(-70);
    clock.advance(4 * S);
    signal(-80);
    clock.advance(10 * S);
    signal(-60);

    let h = m.history();
    expect(h).toMatchObject({ bucketMs: 10 * S, windowMs: 60 * S });
    expect(h.signal.map((p) => [p.at - T0, p.n, p.avg.rssi, p.min.rssi, p.max.rssi])).toEqual([
      [0, 2, -75, -80, -70],
      [10 * S, 1, -60, -60, -60],
    ]);
    expect(m.history(3 * S).signal.map((p) => p.at - T0)).toEqual([10 * S]);

    clock.advance(57 * S); // now T0 + 71 s: the bucket [T0, T0 + 10 s) has left the 60 s window
    h = m.history();
    expect(h.signal.map((p) => p.at - T0)).toEqual([10 * S]);
    clock.advance(60 * S);
    expect(m.history().signal).toEqual([]);
  });

  test("onApplied: told after each event the view knows, not after unknown ones; a throwing listener does not silence the others", () => {
    const { m, apply } = model();
    const seen: string[] = [];
    const stop = m.view.onApplied((e) => seen.push(`a:${e.type}:${m.view.state}`));
    m.view.onApplied(() => {
      throw new Error("broken view");
    });
    m.view.onApplied((e) => seen.push(`c:${e.type}`));

    expect(() => apply(state(T0, "syncing", "starting"))).toThrow("broken view");
    // Listeners run after the event is folded in: the first one already sees the new state.
    expect(seen).toEqual(["a:modem.state:syncing", "c:modem.state"]);
    expect(m.view.state).toBe("syncing");

    seen.length = 0;
    expect(() => m.view.apply({ type: "something.new", at: T0 })).not.toThrow();
    expect(() => m.view.apply({ type: "modem.state" } as unknown as EventBase)).not.toThrow();
    expect(seen).toEqual([]);

    stop();
    expect(() => apply(state(T0, "sim", "syncing"))).toThrow("broken view");
    expect(seen).toEqual(["c:modem.state"]);
  });

  test("the link's RTT per probe kind: the last good one on this link, kept over a failed round, gone when PPP goes down", () => {
    const { clock, m, apply } = model();
    const probe = (probe: "icmp" | "dns", ok: boolean, rttMs: number | null) =>
      apply({ type: "health.probe", at: clock.now(), probe, target: null, ok, rttMs, loss: ok ? 0 : 1, consecutiveFailures: ok ? 0 : 1 });
    expect(m.view.linkRttMs("icmp")).toBeNull();
    apply({ type: "ppp.up", at: clock.now(), ipv4: { ...FAKE_IPV4, dns: [] }, ipv6: null, mru: 1500 });
    expect(m.view.pppNow).toMatchObject({ phase: "open", ipv4: { local: FAKE_IPV4.local }, mru: 1500 });
    probe("icmp", true, 83.6);
    probe("dns", true, 12);
    probe("icmp", false, null);
    expect(m.view.linkRttMs("icmp")).toBe(83.6);
    expect(m.view.linkRttMs("dns")).toBe(12);
    // /status shows the last probe as it was (failed, no RTT).
    expect(m.snapshot().health).toMatchObject({ ok: false, rttMs: null, probe: "icmp" });

    apply({ type: "ppp.down", at: clock.now(), cause: cause("peer-dead") });
    expect(m.view.linkRttMs("icmp")).toBeNull();
    expect(m.view.linkRttMs("dns")).toBeNull();
    expect(m.view.pppNow).toMatchObject({ phase: "dead", ipv4: null });
  });
});

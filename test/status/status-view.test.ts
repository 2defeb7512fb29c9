import { describe, expect, test } from "bun:test";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause } from "../../src/core/cause.ts";
import { StatusView } from "../../src/status/status-view.ts";
import { maskId, sanitize } from "../../src/core/mask.ts";
import { FakeLinkSource, FAKE_IDENTITY, FAKE_IPV4 } from "../support/fake-source.ts";

const T0 = 1_700_000_000_000;

function fed(setup: (src: FakeLinkSource, clock: { t: number }) => void): { view: StatusView; bus: EventBus<EventBase>; clock: { t: number } } {
  const bus = new EventBus<EventBase>(5000);
  const view = new StatusView();
  bus.on((e) => view.apply(e));
  const clock = { t: T0 };
  setup(new FakeLinkSource(bus, () => clock.t), clock);
  return { view, bus, clock };
}

const info = { version: "1.2.3", startedAt: T0 - 10_000, counters: null };

describe("StatusView", () => {
  test("starts in 'starting' with empty sections", () => {
    const s = new StatusView().snapshot(T0, info);
    expect(s.state).toBe("starting");
    expect(s.since).toBeNull();
    expect(s.cause).toBeNull();
    expect(s.ppp.ipv4).toBeNull();
    expect(s.health.ok).toBeNull();
    expect(s.uptime).toBe(10);
    expect(s.version).toBe("1.2.3");
  });

  test("a stat-only registration poll keeps the known cell facts while registered, and drops them when not", () => {
    const { view } = fed((src) => src.bringUp(4000));
    const poll = (stat: number, status: string) =>
      view.apply({ type: "modem.registration", at: T0 + 1, stat, status, act: null, operator: null, band: null, tac: null, cell: null } as EventBase);
    poll(1, "home");
    expect(view.snapshot(T0, info).registration).toMatchObject({ stat: 1, act: "LTE-M", operator: "Telekom.de", tac: "D5A1", cell: "01A2B3C4" });
    poll(2, "searching");
    expect(view.snapshot(T0, info).registration).toMatchObject({ stat: 2, act: null, operator: null, tac: null, cell: null });
  });

  test("a bring-up yields connected, identity (masked), registration, PPP addresses and a timeline", () => {
    const { view } = fed((src) => src.bringUp(4000));
    const s = view.snapshot(T0, { ...info, counters: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2, errors: { badFcs: 3 } } });
    expect(s.state).toBe("connected");
    expect(s.since).toBe(new Date(T0).toISOString());
    expect(s.modem.model).toBe("BG77");
    expect(s.modem.imei).toBe(FAKE_IDENTITY.imei);
    expect(s.modem.imsi).toBe("26201********10");
    expect(s.modem.iccid).toBe("89492************78");
    expect(JSON.stringify(s)).not.toContain(FAKE_IDENTITY.imsi);
    expect(JSON.stringify(s)).not.toContain(FAKE_IDENTITY.iccid);
    expect(s.registration).toMatchObject({ stat: 1, status: "home", act: "LTE-M", operator: "Telekom.de", tac: "D5A1", cell: "01A2B3C4" });
    expect(s.ppp.ipv4).toEqual(FAKE_IPV4);
    expect(s.ppp.phase).toBe("open");
    expect(s.ppp.mru).toBe(1500);
    expect(s.ppp.bytesIn).toBe(10);
    expect(s.ppp.errors).toEqual({ badFcs: 3 });
    expect(s.link).toMatchObject({ interface: "ppp0", up: true, defaultRoute: true });
    const tl = s.timeline.lastConnection!;
    expect(tl.outcome).toBe("connected");
    expect(tl.connectedAt).toBe(T0);
    expect(tl.steps[0]!.text).toBe("state starting → syncing");
    expect(tl.steps.at(-1)!.text).toBe("state negotiating → connected");
    expect(tl.steps.map((x) => x.type)).toContain("modem.dial");
    expect(tl.steps.some((x) => x.text.includes("10.64.12.34"))).toBe(true);
    expect(tl.steps.every((x, i, a) => i === 0 || x.offsetMs >= a[i - 1]!.offsetMs)).toBe(true);
  });

  test("a failure sets the cause with its hint; connecting again clears it and counts it", () => {
    const { view, clock } = fed((src, clock) => {
      src.bringUp();
      clock.t += 1000;
      src.setState("recovering", cause("peer-dead"));
    });
    let s = view.snapshot(clock.t, info);
    expect(s.state).toBe("recovering");
    expect(s.cause).toEqual({ code: "peer-dead", hint: cause("peer-dead").hint });
    expect(view.causeCounts.get("peer-dead")).toBe(1);
    expect(view.health().healthy).toBe(false);
    expect(view.health().reason).toBe("peer-dead");
    view.apply({ type: "modem.state", at: clock.t + 5, state: "connected", previous: "recovering", cause: null } as EventBase);
    s = view.snapshot(clock.t, info);
    expect(s.cause).toBeNull();
    expect(view.causeCounts.get("peer-dead")).toBe(1);
  });

  test("a failed attempt keeps the last good connection's timeline and records the current one", () => {
    const { view } = fed((src, clock) => {
      src.bringUp();
      clock.t += 60_000;
      src.setState("recovering", cause("carrier-lost"));
      clock.t += 1000;
      src.setState("dialing");
      clock.t += 1000;
      src.setState("waiting", cause("no-carrier"));
    });
    const s = view.snapshot(T0 + 70_000, info);
    expect(s.timeline.lastConnection!.outcome).toBe("connected");
    expect(s.timeline.current!.outcome).toBe("failed");
    expect(s.timeline.current!.cause!.code).toBe("no-carrier");
    expect(s.timeline.current!.startedAt).toBe(T0 + 61_000);
  });

  test("health: connected needs a probe taken since connecting that succeeded", () => {
    const { view, clock } = fed((src) => src.bringUp());
    expect(view.health()).toEqual({ healthy: false, reason: "no-probe-yet" });
    expect(view.health(false)).toEqual({ healthy: true, reason: "ok" });
    view.apply({ type: "health.probe", at: clock.t + 1, probe: "icmp", target: "x", ok: false, rttMs: null, loss: 1, consecutiveFailures: 1 } as EventBase);
    expect(view.health()).toEqual({ healthy: false, reason: "probe-failed" });
    view.apply({ type: "health.probe", at: clock.t + 2, probe: "icmp", target: "x", ok: true, rttMs: 42, loss: 0, consecutiveFailures: 0 } as EventBase);
    expect(view.health()).toEqual({ healthy: true, reason: "ok" });
    const s = view.snapshot(clock.t + 3, info);
    expect(s.health).toMatchObject({ ok: true, rttMs: 42, probe: "icmp" });
  });

  test("probe RTT histogram is cumulative and the plot rings fill", () => {
    const view = new StatusView();
    const rtts = [20, 60, 120, 3000, 20_000];
    rtts.forEach((ms, i) => view.apply({ type: "health.probe", at: T0 + i * 60_000, probe: "icmp", target: null, ok: true, rttMs: ms, loss: 0, consecutiveFailures: 0 } as EventBase));
    const h = view.rtt.get("icmp")!;
    // bounds 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf
    expect(h.buckets).toEqual([1, 1, 2, 3, 3, 3, 3, 4, 4, 5]);
    expect(h.count).toBe(5);
    expect(h.sumSeconds).toBeCloseTo(23.2, 6);
    expect(view.history(T0 + 5 * 60_000).probe).toHaveLength(5);
  });

  test("unknown event types and malformed known ones are ignored without throwing", () => {
    const view = new StatusView();
    const junk: unknown[] = [
      { type: "sim.weird", at: T0, x: 1 },
      { type: "modem.state", at: T0, state: "exploded", previous: "starting", cause: null },
      { type: "modem.state", at: "yesterday", state: "connected" },
      { type: "modem.signal", at: T0, rsrp: "strong" },
      { type: "health.probe", at: T0, ok: "yes" },
      { type: "ppp.up", at: T0, ipv4: 7, mru: "big" },
      { type: "recovery.action", at: T0, rung: "__proto__" },
      { type: "modem.identity", at: T0, imsi: { nested: true } },
      { at: T0 },
      null,
    ];
    for (const e of junk) expect(() => view.apply(e as EventBase)).not.toThrow();
    const s = view.snapshot(T0, info);
    expect(s.state).toBe("starting");
    expect(s.signal.rsrp).toBeNull();
    expect(s.health.ok).toBeNull();
    expect(s.ppp.ipv4).toBeNull();
    expect(view.ignored).toBeGreaterThanOrEqual(3);
    expect(Object.keys(view.actionCounts)).toEqual(["redial", "radio-cycle", "module-reset", "power-cycle", "reboot"]);
  });

  test("accepts the PPP module's own ppp.phase shape ({from, to})", () => {
    const view = new StatusView();
    view.apply({ type: "ppp.phase", at: T0, from: "establish", to: "authenticate" } as EventBase);
    expect(view.snapshot(T0, info).ppp.phase).toBe("authenticate");
  });

  test("recovery actions are counted by rung, forced ones separately", () => {
    const view = new StatusView();
    view.apply({ type: "recovery.action", at: T0, rung: "module-reset", reason: "3 dials failed", forced: false } as EventBase);
    view.apply({ type: "recovery.action", at: T0, rung: "module-reset", reason: "http", forced: true } as EventBase);
    view.apply({ type: "recovery.state", at: T0, rung: "module-reset", consecutiveFailures: 3, lastResetAt: T0, nextActionAt: T0 + 600_000, waitingReason: "vendor backoff" } as EventBase);
    expect(view.actionCounts["module-reset"]).toBe(2);
    expect(view.forcedActions["module-reset"]).toBe(1);
    const s = view.snapshot(T0, info);
    expect(s.recovery).toMatchObject({
      rung: "module-reset",
      consecutiveFailures: 3,
      nextActionAt: new Date(T0 + 600_000).toISOString(),
      waitingReason: "vendor backoff",
    });
  });

  test("timeline steps per attempt are bounded", () => {
    const view = new StatusView({ maxTimelineSteps: 10 });
    view.apply({ type: "modem.state", at: T0, state: "registering", previous: "starting", cause: null } as EventBase);
    for (let i = 0; i < 100; i++) view.apply({ type: "modem.registration", at: T0 + i, stat: 2, status: `searching ${i}`, act: null, operator: null, band: null, tac: null, cell: null } as EventBase);
    const steps = view.snapshot(T0, info).timeline.current!.steps;
    expect(steps).toHaveLength(10);
    expect(steps[0]!.text).toContain("registering");
    expect(steps.at(-1)!.text).toContain("searching 99");
  });
});

describe("masking", () => {
  test("maskId keeps 5 leading and 2 trailing characters and never reveals short values", () => {
    expect(maskId("262019876543210")).toBe("26201********10");
    expect(maskId("12345678")).toBe("********");
    expect(maskId(null)).toBeNull();
  });
  test("sanitize masks imsi/iccid at any depth and drops secret-named fields", () => {
    const out = sanitize({ a: { imsi: "262019876543210", password: "hunter22", list: [{ ICCID: "8949226000012345678" }] } }) as any;
    expect(out.a.imsi).toBe("26201********10");
    expect(out.a.password).toBeUndefined();
    expect(out.a.list[0].ICCID).toBe("89492************78");
  });
});

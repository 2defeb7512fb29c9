/**
 * The data-usage meter as the agent wires it, under fake time: a fake
 * supervisor and data plane, a real usage file in a temp dir. Caps and their
 * actions, the save cadence, a restart and a kill -9, the cycle's end.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause, type Cause } from "../../src/core/cause.ts";
import type { LinkState, UsageCapEvent } from "../../src/core/agent-events.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import { AlwaysRedial } from "../../src/core/recovery-policy.ts";
import { COUNT_POLL_MS, UsageMeter } from "../../src/agent/usage.ts";
import type { IpTraffic } from "../../src/agent/dataplane.ts";
import { configToml, parseConfig } from "../support/agent-rig.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SIM_A = "89001012345678901234";
const SIM_B = "89001098765432109876";
const MARCH = Date.parse("2025-03-01T00:00:00Z");

class FakeSupervisor {
  state: LinkState = "connected";
  identity = { iccid: SIM_A as string | null };
  lost: Cause[] = [];
  redials = 0;
  private up = new Set<() => void>();
  private down = new Set<() => void>();
  linkLost(c: Cause) {
    this.lost.push(c);
  }
  requestRedial() {
    this.redials++;
  }
  onLinkUp(fn: () => void) {
    this.up.add(fn);
    return () => this.up.delete(fn);
  }
  onLinkDown(fn: () => void) {
    this.down.add(fn);
    return () => this.down.delete(fn);
  }
  linkUp() {
    this.state = "connected";
    for (const f of this.up) f();
  }
  linkDown() {
    this.state = "waiting";
    for (const f of this.down) f();
  }
}

function setup(usageToml: string, dir = mkdtempSync(join(tmpdir(), "cellkeep-meter-")), start = Date.parse("2025-02-27T12:00:00Z")) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const config = parseConfig(configToml({ port: "/dev/null", stateFile: join(dir, "recovery.json"), tail: `[usage]\ntimezone = "UTC"\n${usageToml}\n` }));
  const sched = new ManualScheduler(start);
  const events = new EventBus<EventBase>(1000);
  const seen: EventBase[] = [];
  events.on((e) => seen.push(e));
  const sup = new FakeSupervisor();
  const ip: IpTraffic = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, otherPacketsIn: 0 };
  const log = createLogger({ level: "debug", format: "text", sink: new MemorySink() });
  const meter = new UsageMeter(config, { scheduler: sched, emit: (e) => events.emit(e), log, policy: new AlwaysRedial(1000) });
  const detach = meter.attach(sup, { ipCounters: () => ({ ...ip }) }, events);
  sup.linkUp();
  const file = join(dir, "usage.json");
  const saved = () => JSON.parse(readFileSync(file, "utf8")).sims as Record<string, { bytesIn: number; bytesOut: number }>;
  return { dir, config, sched, events, seen, sup, ip, meter, detach, file, saved };
}

describe("usage meter (fake time, real usage file)", () => {
  test("counts the data plane's IP bytes per SIM; saves every save_every; kill -9 loses at most what came since the last save", () => {
    const h = setup('save_every = "1m"');
    h.ip.bytesIn = 5000;
    h.ip.bytesOut = 1000;
    h.sched.advance(COUNT_POLL_MS);
    expect(h.meter.status(h.sched.now())).toMatchObject({ bytesTotal: 6000, cycle: { bytesIn: 5000, bytesOut: 1000 } });
    // The first record was saved at once (a new cycle is an event); the counts wait for save_every.
    expect(h.saved()[SIM_A]).toMatchObject({ bytesIn: 0, bytesOut: 0 });
    h.sched.advance(60_000);
    expect(h.saved()[SIM_A]).toMatchObject({ bytesIn: 5000, bytesOut: 1000 });
    // More traffic, then kill -9 before the next save: a new meter on the same file sees the last save.
    h.ip.bytesIn += 700;
    h.sched.advance(COUNT_POLL_MS);
    const after = setup('save_every = "1m"', h.dir, h.sched.now());
    expect(after.meter.status(after.sched.now()).bytesTotal).toBe(6000); // the 700 bytes of the last 10 s are the bounded loss
    after.detach();
    // A clean stop saves everything.
    h.detach();
    expect(h.saved()[SIM_A]).toMatchObject({ bytesIn: 5700, bytesOut: 1000 });
  });

  test("link down counts and saves at once", () => {
    const h = setup('save_every = "1h"');
    h.ip.bytesOut = 321;
    h.sup.linkDown();
    expect(h.saved()[SIM_A]).toMatchObject({ bytesOut: 321 });
    h.detach();
  });

  test("warn: one usage.cap event, the link stays up", () => {
    const h = setup('warn_at = "1kB"');
    h.ip.bytesIn = 999;
    h.sched.advance(COUNT_POLL_MS);
    expect(h.seen.filter((e) => e.type === "usage.cap")).toEqual([]);
    h.ip.bytesIn = 1500;
    h.sched.advance(COUNT_POLL_MS);
    h.ip.bytesIn = 2500;
    h.sched.advance(COUNT_POLL_MS);
    const caps = h.seen.filter((e): e is UsageCapEvent => e.type === "usage.cap");
    expect(caps.map((e) => [e.action, e.capBytes, e.bytesIn])).toEqual([["warn", 1000, 1500]]);
    expect(h.sup.lost).toEqual([]);
    expect(h.meter.holdDown()).toBeNull();
    h.detach();
  });

  test("quiet: the health monitor's active probes stop for the rest of the cycle", () => {
    const h = setup('quiet_at = "1kB"');
    expect(h.meter.quiet.decide(h.sched.now())).toBeNull();
    h.ip.bytesIn = 1000;
    h.sched.advance(COUNT_POLL_MS);
    expect(h.meter.quiet.decide(h.sched.now())).toBe("cap");
    expect(h.meter.status(h.sched.now()).enforcing).toEqual({ quiet: true, stop: false });
    expect(h.sup.lost).toEqual([]);
    h.sched.advanceTo(MARCH);
    expect(h.meter.quiet.decide(h.sched.now())).toBeNull();
    h.detach();
  });

  test("stop: hang up with data-cap-reached, held until the cycle ends, the bring-up gate refuses meanwhile", () => {
    const h = setup('stop_at = "10kB"');
    h.ip.bytesIn = 10_000;
    h.sched.advance(COUNT_POLL_MS);
    expect(h.sup.lost.map((c) => c.code)).toEqual(["data-cap-reached"]);
    h.sup.linkDown();
    // The supervisor asks the policy what next: wait until the cycle's end, not the ladder's redial.
    const d = h.meter.policy.onLinkLost(h.sup.lost[0]!, h.sched.now());
    expect(d).toMatchObject({ action: "redial", notBefore: MARCH, watchRegistration: false });
    expect(h.meter.heldUntil(h.sched.now())).toBe(MARCH);
    // A bring-up before then stops at the gate after the SIM step.
    expect(h.meter.holdDown()?.code).toBe("data-cap-reached");
    const st = h.meter.status(h.sched.now());
    expect(st).toMatchObject({ enforcing: { stop: true }, heldUntil: "2025-03-01T00:00:00.000Z", reached: ["stop"] });
    // The cycle ends: the cycle timer rolls over even with the link down, and the gate opens.
    h.sched.advanceTo(MARCH);
    expect(h.seen.some((e) => e.type === "usage.cycle" && e.at === MARCH)).toBe(true);
    expect(h.meter.holdDown()).toBeNull();
    expect(h.meter.status(h.sched.now())).toMatchObject({ bytesTotal: 0, previousCycle: { bytesIn: 10_000 } });
    h.detach();
  });

  test("stop survives a restart: the new agent does not dial until resumed", () => {
    const h = setup('stop_at = "1kB"');
    h.ip.bytesOut = 1000;
    h.sched.advance(COUNT_POLL_MS);
    h.sup.linkDown();
    h.detach();
    const again = setup('stop_at = "1kB"', h.dir, h.sched.now());
    expect(again.meter.holdDown()?.code).toBe("data-cap-reached");
    again.detach();
  });

  test("resume (operator action): lifts the cap, dials at once when held; nothing to resume is said so", async () => {
    const h = setup('stop_at = "1kB"');
    expect(await h.meter.resume()).toMatchObject({ outcome: "done", message: expect.stringContaining("nothing to resume") });
    h.ip.bytesIn = 1000;
    h.sched.advance(COUNT_POLL_MS);
    h.sup.linkDown();
    h.meter.policy.onLinkLost(cause("data-cap-reached"), h.sched.now());
    const r = await h.meter.resume();
    expect(r).toMatchObject({ outcome: "started" });
    expect(h.sup.redials).toBe(1);
    expect(h.meter.holdDown()).toBeNull();
    expect(h.seen.filter((e) => e.type === "usage.resumed")).toHaveLength(1);
    // The lift is saved: a restart does not hold the link again this cycle.
    h.detach();
    const again = setup('stop_at = "1kB"', h.dir, h.sched.now());
    expect(again.meter.holdDown()).toBeNull();
    again.detach();
    // A stopped agent refuses, as the other actions do.
    h.sup.state = "stopped";
    expect((await h.meter.resume()).outcome).toBe("unavailable");
  });

  test("resume during a ladder wait (not the cap's) lifts the cap but does not skip the ladder's spacing", async () => {
    const h = setup('quiet_at = "1kB"');
    h.ip.bytesIn = 1000;
    h.sched.advance(COUNT_POLL_MS);
    h.sup.linkDown();
    // The link died of something else: the ladder decides the wait.
    h.meter.policy.onLinkLost(cause("peer-dead"), h.sched.now());
    expect(await h.meter.resume()).toMatchObject({ outcome: "done" });
    expect(h.sup.redials).toBe(0);
    expect(h.meter.quiet.decide(h.sched.now())).toBeNull();
    h.detach();
  });

  test("a SIM switch: the old SIM keeps its bytes, the new one counts from its own record", () => {
    const h = setup("");
    h.ip.bytesIn = 400;
    h.sup.linkDown();
    // The radio side switched slots and re-read the SIM: the modem's facts report the new ICCID.
    h.sup.identity.iccid = SIM_B;
    h.events.emit({ type: "modem.identity", at: h.sched.now(), iccid: SIM_B } as EventBase);
    const switched = h.seen.find((e) => e.type === "usage.sim" && (e as EventBase & { iccid: string }).iccid === SIM_B);
    expect(switched).toMatchObject({ previous: { iccid: SIM_A } });
    h.sup.linkUp();
    h.ip.bytesIn = 450;
    h.sched.advance(COUNT_POLL_MS);
    const st = h.meter.status(h.sched.now());
    expect(st.sim).toBe("89001*************76");
    expect(st.sims.map((s) => [s.sim, s.cycle.bytesIn])).toEqual([
      ["89001*************76", 50],
      ["89001*************34", 400],
    ]);
    h.detach();
  });
});

/**
 * systemd's STATUS= line and GET /status agree on the state because both read
 * the one status model the agent builds, not because each folds the bus its
 * own way: an event put into the model alone (not on the bus) shows in both.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause } from "../../src/core/cause.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createHttpApp, type HttpApp } from "../../src/http/app.ts";
import { StatusModel } from "../../src/status/model.ts";
import type { StatusSnapshot } from "../../src/status/status-view.ts";
import { SystemdStatus } from "../../src/systemd/status.ts";
import { FAKE_IPV4, FakeLinkSource } from "../support/fake-source.ts";

const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);

const apps: HttpApp[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.close();
});

function wire() {
  const clock = new ManualScheduler(T0);
  const bus = new EventBus<EventBase>(500);
  const model = new StatusModel({ clock, version: "1.2.3", startedAt: T0 });
  const unfollow = model.follow(bus);
  const app = createHttpApp({ events: bus, clock, status: model, token: null });
  apps.push(app);
  const sent: string[] = [];
  const systemd = new SystemdStatus({ status: (t) => (sent.push(t), true) }, model.view);
  const status = async (): Promise<StatusSnapshot> => (await app.request("/status")).json() as Promise<StatusSnapshot>;
  /** The state word of the line systemd shows now (the last one sent). */
  const systemdState = () => sent.at(-1)?.split(/[ ;]/)[0];
  return { clock, bus, model, unfollow, app, sent, systemd, status, systemdState, src: new FakeLinkSource(bus, () => clock.now()) };
}

describe("one status model: systemd STATUS= and /status", () => {
  test("agree on the state, the failure cause and the address through a bring-up, a flap and a failure", async () => {
    const w = wire();
    expect(w.app.status).toBe(w.model);
    expect(w.systemd.current).toBe("starting");
    expect((await w.status()).state).toBe("starting");

    const states: string[] = [];
    w.bus.on((e) => {
      if (e.type === "modem.state") states.push((e as EventBase & { state: string }).state);
    });
    const seen: [string | undefined, string][] = [];
    // After every state change on the bus (the model's listener ran first): the two views side by side.
    w.bus.on((e) => {
      if (e.type === "modem.state") seen.push([w.systemdState(), w.model.snapshot().state]);
    });
    w.clock.advance(4000);
    w.src.bringUp();
    w.clock.advance(1000);
    w.src.flap();
    expect(states.length).toBeGreaterThan(8);
    for (const [line, status] of seen) expect(line).toBe(status);

    let s = await w.status();
    expect(s.state).toBe("connected");
    expect(w.sent.at(-1)).toBe(`connected ${FAKE_IPV4.local}`);
    expect(s.ppp.ipv4?.local).toBe(FAKE_IPV4.local);

    w.clock.advance(1000);
    w.src.probe(true);
    s = await w.status();
    expect(w.sent.at(-1)).toBe(`connected ${FAKE_IPV4.local}; rtt ${Math.round(s.health.rttMs!)} ms`);

    w.clock.advance(1000);
    w.bus.emit({ type: "ppp.down", at: w.clock.now(), cause: cause("no-carrier") } as EventBase);
    w.src.setState("waiting", cause("not-registered"));
    w.src.recoveryState(3, w.clock.now() + 600_000, "registration lost");
    s = await w.status();
    expect(s.state).toBe("waiting");
    expect(s.cause?.code).toBe("not-registered");
    expect(w.sent.at(-1)).toBe("waiting (last failure: not-registered); waiting: registration lost");
    expect(s.recovery.waitingReason).toBe("registration lost");
  });

  test("an event put into the model alone, not on the bus, shows in both: there is no second reducer", async () => {
    const w = wire();
    w.unfollow();
    w.src.setState("registering");
    // Nobody follows the bus now: neither view moved.
    expect((await w.status()).state).toBe("starting");
    expect(w.systemd.current).toBe("starting");

    w.model.view.apply({ type: "modem.state", at: w.clock.now(), state: "attaching", previous: "registering", cause: null } as EventBase);
    expect((await w.status()).state).toBe("attaching");
    expect(w.systemdState()).toBe("attaching");
    expect(w.systemd.current).toBe("attaching");
  });

  test("the HTTP app takes the model or the sources for one of its own, never both and never neither", () => {
    const clock = new ManualScheduler(T0);
    const bus = new EventBus<EventBase>(10);
    const model = new StatusModel({ clock, version: "1.2.3", startedAt: T0 });
    expect(() => createHttpApp({ events: bus, clock, status: model, version: "9.9.9", token: null })).toThrow(TypeError);
    expect(() => createHttpApp({ events: bus, clock, status: model, counters: () => null, token: null })).toThrow(/counters/);
    expect(() => createHttpApp({ events: bus, clock, token: null })).toThrow(/version and startedAt/);
    // With its own model the app follows the bus itself, and stops when closed.
    const own = createHttpApp({ events: bus, clock, version: "9.9.9", startedAt: T0, token: null });
    expect(bus.listenerCount()).toBe(1);
    own.close();
    expect(bus.listenerCount()).toBe(0);
    // With the agent's model the app does not follow the bus for status (the model's owner does).
    const shared = createHttpApp({ events: bus, clock, status: model, token: null });
    expect(bus.listenerCount()).toBe(0);
    shared.close();
  });
});

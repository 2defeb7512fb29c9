/**
 * The supervisor's small parts on their own: the state table, interrupts and
 * waiting, the network back-off notice, and the signal poller's timer.
 */
import { describe, expect, test } from "bun:test";
import type { AtChannel } from "../../src/at/channel.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause } from "../../src/core/cause.ts";
import { NetworkBackoff, StepFailure } from "../../src/modem/failures.ts";
import { Interrupts, type Interrupt } from "../../src/modem/interrupts.ts";
import { PendingBackoff } from "../../src/modem/network-backoff.ts";
import { SignalPoller } from "../../src/modem/signal-poller.ts";
import { inDataMode, isAllowedTransition, TRANSITIONS } from "../../src/modem/states.ts";
import { flush } from "./harness.ts";

describe("state table", () => {
  test("the bring-up states follow the vendor order, each can fail into waiting or stop", () => {
    const order = ["starting", "syncing", "sim", "registering", "attaching", "dialing", "negotiating", "connected"] as const;
    for (let i = 0; i + 1 < order.length; i++) expect(isAllowedTransition(order[i]!, order[i + 1]!)).toBe(true);
    for (const s of order) {
      expect(isAllowedTransition(s, "waiting")).toBe(true);
      expect(isAllowedTransition(s, "stopped")).toBe(true);
    }
    // no skipping a step: a dial is never placed before attach
    expect(isAllowedTransition("registering", "dialing")).toBe(false);
    expect(isAllowedTransition("syncing", "connected")).toBe(false);
    expect(TRANSITIONS.stopped).toEqual(["starting"]);
    expect(isAllowedTransition("waiting", "recovering")).toBe(true);
    expect(isAllowedTransition("recovering", "syncing")).toBe(true);
  });

  test("PPP owns the data port while negotiating and connected only", () => {
    expect(inDataMode("negotiating")).toBe(true);
    expect(inDataMode("connected")).toBe(true);
    expect(inDataMode("dialing")).toBe(false);
    expect(inDataMode("waiting")).toBe(false);
  });
});

describe("interrupts", () => {
  function rig() {
    const sched = new ManualScheduler();
    const raised: Interrupt[] = [];
    return { sched, raised, irq: new Interrupts(sched, (i) => raised.push(i)) };
  }

  test("stop wins over later requests and stays after take(); others are taken once", () => {
    const { irq, raised } = rig();
    irq.raise({ kind: "redial" });
    expect(irq.take()?.kind).toBe("redial");
    expect(irq.take()).toBeNull();
    irq.raise({ kind: "stop" });
    irq.raise({ kind: "reset" });
    expect(raised.map((i) => i.kind)).toEqual(["redial", "stop"]);
    expect(irq.take()?.kind).toBe("stop");
    expect(irq.stopping()).toBe(true);
  });

  test("a sleep ends at its time, early on wake(), and throws on a redial but not on a lost link", async () => {
    const { sched, irq } = rig();
    const seen: string[] = [];
    void irq.sleepUntil(sched.now() + 1_000).then((x) => seen.push(x));
    sched.advance(999);
    await flush();
    expect(seen).toEqual([]);
    sched.advance(1);
    await flush();
    expect(seen).toEqual(["timer"]);

    void irq.sleepUntil(null).then((x) => seen.push(x));
    irq.wake();
    await flush();
    expect(seen).toEqual(["timer", "woken"]);
    expect(sched.pendingCount()).toBe(0);

    irq.raise({ kind: "link-lost", cause: cause("peer-dead") });
    await irq.sleep(10); // a lost link is the hold's business, not a step's
    expect(irq.cause().code).toBe("peer-dead");
    irq.take();

    const slept = irq.sleep(60_000);
    irq.raise({ kind: "redial" });
    const err = await slept.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailure);
    expect((err as StepFailure).causeInfo.detail).toBe("redial requested");
  });
});

describe("network back-off notice", () => {
  test("a back-off in modem text ends the next step once, with its seconds", () => {
    const b = new PendingBackoff();
    expect(b.noteText("+CEREG: 2")).toBe(false);
    b.throwIfAny();
    expect(b.noteText("+CME ERROR: T3346 running, back-off 300 s")).toBe(true);
    let caught: unknown = null;
    try {
      b.throwIfAny();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NetworkBackoff);
    expect((caught as NetworkBackoff).seconds).toBe(300);
    b.throwIfAny(); // forgotten once acted on
  });
});

describe("signal poller", () => {
  test("polls every interval; a poll still running at stop() does not re-arm", async () => {
    const sched = new ManualScheduler();
    const ch = {} as AtChannel;
    let polls = 0;
    let finish: () => void = () => {};
    const poller = new SignalPoller({
      scheduler: sched,
      intervalMs: 30_000,
      openControl: async () => {},
      control: () => ch,
      poll: () => {
        polls++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
    });
    poller.start();
    await flush();
    sched.advance(30_000);
    expect(polls).toBe(1);
    finish();
    await flush();
    expect(sched.pendingCount()).toBe(1);
    sched.advance(30_000);
    expect(polls).toBe(2);
    poller.stop();
    finish();
    await flush();
    expect(sched.pendingCount()).toBe(0);
  });

  test("interval 0 is off", async () => {
    const sched = new ManualScheduler();
    let opened = false;
    const poller = new SignalPoller({ scheduler: sched, intervalMs: 0, openControl: async () => void (opened = true), control: () => null, poll: async () => {} });
    poller.start();
    await flush();
    expect(opened).toBe(false);
    expect(sched.pendingCount()).toBe(0);
  });
});

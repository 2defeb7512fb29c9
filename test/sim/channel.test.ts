/**
 * One AT channel alone (channel.ts): the V.250 modes and the data call,
 * with a recording host, a stand-in data session and a fake clock (plain
 * numbers and a TimerTable). The module around it (power, radio, faults) is
 * not there: the host stands in for it.
 */
import { describe, expect, test } from "bun:test";
import { type ChannelHost, type ChannelTimer, ModemChannel, type ModemParts } from "../../src/sim/channel.ts";
import { BASIC_COMMANDS } from "../../src/sim/commands/basic.ts";
import { CALL_COMMANDS } from "../../src/sim/commands/call.ts";
import { commandTable } from "../../src/sim/commands/table.ts";
import type { DataSession } from "../../src/sim/data-session.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import type { CallEndReason } from "../../src/sim/pdn.ts";
import { PdnModel } from "../../src/sim/pdn.ts";
import { PdpContexts } from "../../src/sim/pdp.ts";
import { TimerTable } from "../../src/sim/timers.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (b: Uint8Array) => String.fromCharCode(...b);

class StandInSession implements DataSession {
  received = "";
  pendingOut: Uint8Array[] = [];
  pendingEvents: SimEvent[] = [];
  ended = false;
  ipUp = false;
  dead = false;
  hungUpAt: number | null = null;
  input(data: Uint8Array): void {
    this.received += text(data);
  }
  poll(): void {}
  takeOutput(): Uint8Array[] {
    const o = this.pendingOut;
    this.pendingOut = [];
    return o;
  }
  takeEvents(): SimEvent[] {
    const e = this.pendingEvents;
    this.pendingEvents = [];
    return e;
  }
  nextDeadline(): number | null {
    return null;
  }
  hangUp(now: number): void {
    this.hungUpAt = now;
    this.pendingOut.push(bytes("<bye>"));
    this.pendingEvents.push({ type: "sim.ppp", at: now, what: "down" });
  }
  setDead(dead: boolean): void {
    this.dead = dead;
  }
}

class RecordingHost implements ChannelHost {
  out = "";
  readonly events: SimEvent[] = [];
  readonly timers = new TimerTable<ChannelTimer>();
  poweredOff = false;
  hung = false;
  session: StandInSession | null = null;
  readonly did: string[] = [];
  output(b: Uint8Array): void {
    this.out += text(b);
  }
  emit(e: SimEvent): void {
    this.events.push(e);
  }
  arm(kind: ChannelTimer, at: number): void {
    this.timers.arm(kind, at);
  }
  disarm(kind: ChannelTimer): void {
    this.timers.disarm(kind);
  }
  callStarting(cid: number, now: number): DataSession | null {
    this.did.push(`start ${cid}@${now}`);
    this.session = new StandInSession();
    return this.session;
  }
  callIpUp(now: number): void {
    this.did.push(`ipUp@${now}`);
  }
  callEnded(reason: CallEndReason, now: number): void {
    this.did.push(`ended ${reason}@${now}`);
  }
  sessionEvent(e: SimEvent): void {
    this.events.push(e);
  }
  resetModule(): void {}
  poweredDown(): void {}
  commandLineDone(): void {}
  take(): string {
    const t = this.out;
    this.out = "";
    return t;
  }
  modes(): string[] {
    return this.events.filter((e) => e.type === "sim.mode").map((e) => `${e.mode}:${e.reason}`);
  }
}

const GUARD = 1000;

/** A channel whose radio can always dial, echo off, at t=0. */
function rig() {
  const host = new RecordingHost();
  const parts = {
    radio: { canDial: true, resetUrcModes: () => {} },
    contexts: new PdpContexts(),
    pdn: new PdnModel({ acceptApn: null, t3396Ms: null }),
  } as unknown as ModemParts;
  const ch = new ModemChannel(parts, commandTable(BASIC_COMMANDS, CALL_COMMANDS), GUARD, host);
  const send = (s: string, now: number) => ch.input(bytes(s), now);
  send("ATE0\r", 0);
  host.take();
  /** Run the channel's due timers up to `now`, as the module core does. */
  const advance = (now: number) => {
    for (let due = host.timers.takeDue(now); due !== null; due = host.timers.takeDue(now)) {
      if (due.kind === "escape") ch.escapeDue(due.at);
      else ch.interpreter.pendingTimeout(due.at);
    }
    ch.poll(now);
  };
  const dial = (now = 0) => {
    send("ATD*99#\r", now);
    return host.take();
  };
  return { host, ch, send, advance, dial };
}

describe("ModemChannel: into and out of data mode", () => {
  test("CONNECT: data mode; DTE bytes go to the session, its bytes to the line", () => {
    const { host, ch, send, dial } = rig();
    expect(dial(5)).toBe("\r\nCONNECT 150000000\r\n");
    expect(ch.mode).toBe("data");
    expect(host.did).toEqual(["start 1@5"]);
    send("AT\r~frame~", 6);
    expect(host.session!.received).toBe("AT\r~frame~");
    host.session!.pendingOut.push(bytes("~reply~"));
    ch.poll(7);
    expect(host.take()).toBe("~reply~");
  });

  test("+++ between guard times: online-command mode with OK; commands work; ATO returns to data", () => {
    const { host, ch, send, advance, dial } = rig();
    dial(0);
    send("+++", 1000);
    expect(host.timers.next()).toBe(2000);
    advance(1999);
    expect(ch.mode).toBe("data");
    advance(2000);
    expect([ch.mode, host.take()]).toEqual(["online-command", "\r\nOK\r\n"]);
    send("AT\r", 2100);
    expect(host.take()).toBe("\r\nOK\r\n");
    send("ATO\r", 2200);
    expect([ch.mode, host.take()]).toEqual(["data", "\r\nCONNECT 150000000\r\n"]);
    send("x", 2300);
    expect(host.session!.received).toBe("x");
    expect(host.modes()).toEqual(["data:connect", "online-command:+++", "data:ato"]);
  });

  test("+++ right after data is data (no leading guard time)", () => {
    const { host, ch, send, advance, dial } = rig();
    dial(0);
    send("abc", 500);
    send("+++", 600);
    advance(5000);
    expect(ch.mode).toBe("data");
    expect(host.session!.received).toBe("abc+++");
  });

  test("ATH from online-command mode ends the call: the session hangs up, no NO CARRIER", () => {
    const { host, ch, send, advance, dial } = rig();
    dial(0);
    send("+++", 1000);
    advance(2000);
    host.take();
    const s = host.session!;
    send("ATH\r", 3000);
    expect(host.take()).toBe("\r\nOK\r\n");
    expect([ch.mode, ch.inCall, s.hungUpAt]).toEqual(["command", false, 3000]);
    expect(host.did.at(-1)).toBe("ended ath@3000");
  });
});

describe("ModemChannel: the call ends", () => {
  test("the session ends PPP: its last bytes, then NO CARRIER, command mode", () => {
    const { host, ch, dial } = rig();
    dial(0);
    host.session!.ended = true;
    host.session!.pendingOut.push(bytes("~term-ack~"));
    ch.poll(10);
    expect(host.take()).toBe("~term-ack~<bye>\r\nNO CARRIER\r\n");
    expect(ch.mode).toBe("command");
    expect(host.did.at(-1)).toBe("ended ppp-terminated@10");
  });

  test("DTR drop: &D2 hangs up with NO CARRIER, &D1 goes to online-command with OK, &D0 does nothing", () => {
    const d2 = rig();
    d2.dial();
    d2.ch.dtrDropped(1);
    expect([d2.ch.mode, d2.host.take()]).toEqual(["command", "<bye>\r\nNO CARRIER\r\n"]);

    const d1 = rig();
    d1.send("AT&D1\r", 0);
    d1.dial();
    d1.ch.dtrDropped(1);
    expect([d1.ch.mode, d1.ch.inCall, d1.host.take()]).toEqual(["online-command", true, "\r\nOK\r\n"]);

    const d0 = rig();
    d0.send("AT&D0\r", 0);
    d0.dial();
    d0.ch.dtrDropped(1);
    expect(d0.ch.mode).toBe("data");
  });

  test("the network drops the call: NO CARRIER with its reason", () => {
    const { host, ch, dial } = rig();
    dial(0);
    ch.dropCall(30, "drop-after");
    expect(host.take()).toBe("<bye>\r\nNO CARRIER\r\n");
    expect(host.modes().at(-1)).toBe("command:drop-after");
  });

  test("the module resets under the call: command mode, the session's events kept, no bytes and no NO CARRIER", () => {
    const { host, ch, dial } = rig();
    dial(0);
    ch.abortCall(40);
    expect(host.take()).toBe("");
    expect([ch.mode, ch.inCall]).toEqual(["command", false]);
    expect(host.modes().at(-1)).toBe("command:reset");
    expect(host.events.some((e) => e.type === "sim.ppp" && e.what === "down")).toBe(true);
  });
});

describe("ModemChannel: while a call is up", () => {
  test("IP up is reported once per call", () => {
    const { host, ch, dial } = rig();
    dial(0);
    host.session!.ipUp = true;
    ch.poll(3);
    ch.poll(4);
    expect(ch.ipUp).toBe(true);
    expect(host.did.filter((d) => d.startsWith("ipUp"))).toEqual(["ipUp@3"]);
  });

  test("URCs are dropped in data mode and sent in online-command mode", () => {
    const { host, ch, send, advance, dial } = rig();
    dial(0);
    ch.urc("+CEREG: 2");
    expect(host.take()).toBe("");
    send("+++", 1000);
    advance(2000);
    host.take();
    ch.urc("+CEREG: 1");
    expect(host.take()).toBe("\r\n+CEREG: 1\r\n");
  });

  test("a frozen module puts nothing of the session on the line", () => {
    const { host, ch, dial } = rig();
    dial(0);
    host.hung = true;
    host.session!.pendingOut.push(bytes("~lost~"));
    ch.poll(1);
    expect(host.take()).toBe("");
  });

  test("dead-peer silences the session, only while there is one", () => {
    const { host, ch, dial } = rig();
    expect(ch.silencePeer()).toBe(false);
    dial(0);
    expect(ch.silencePeer()).toBe(true);
    expect(host.session!.dead).toBe(true);
  });

  test("ATD while a call is up in online-command mode is ERROR", () => {
    const { host, ch, send, advance, dial } = rig();
    dial(0);
    send("+++", 1000);
    advance(2000);
    host.take();
    send("ATD*99#\r", 2500);
    expect([ch.mode, host.take()]).toEqual(["online-command", "\r\nERROR\r\n"]);
  });
});

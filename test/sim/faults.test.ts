/**
 * The network-side fault scenarios: a denial that ends, an APN the network
 * does not know, the ESM back-off T3396, a module that reboots mid-call,
 * "NO CARRIER" inside IP payloads, and a network that goes away and comes
 * back. The modem core runs in-process on a fake clock (helpers.ts).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { internetChecksum } from "../../src/net/packet.ts";
import type { PppSessionOptions } from "../../src/ppp/session.ts";
import { SimPppRig, Terminal, flushMicrotasks, lines, type PppClient } from "./helpers.ts";

const rig = new SimPppRig();
afterEach(() => rig.cleanup());

/** A modem in command mode with echo off; `settle` ms after power-on (booted at once). */
const modem = (scenarios: string[], settle = 3000): Promise<Terminal> => rig.ready({ scenarios }, settle);

type Client = PppClient;
const startClient = (t: Terminal, extra: Partial<PppSessionOptions> = {}): Client => rig.startClient(t, { method: "pap", username: "user", password: "pw" }, extra);

const has = (c: Client, type: string) => c.events.some((e) => e.type === type);

async function dial(t: Terminal, cmd = "ATD*99#"): Promise<string[]> {
  t.take();
  await t.write(`${cmd}\r`);
  return lines(t.take());
}

const NO_REPORT = ['+CEER: "No report available"', "OK"];

describe("AT+CEER", () => {
  test("no report after power-on, after a call the DTE hung up, and after a reboot; test form answers OK", async () => {
    const t = await modem(["healthy"]);
    expect(lines(await t.at("AT+CEER"))).toEqual(NO_REPORT);
    expect(lines(await t.at("AT+CEER=?"))).toEqual(["OK"]);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    await t.advance(1000);
    await t.write("+++");
    await t.advance(1000);
    expect(lines(await t.at("ATH"))).toEqual(["OK"]);
    expect(lines(await t.at("AT+CEER"))).toEqual(NO_REPORT);
  });

  test("a login the network refuses reports ESM cause 29", async () => {
    const t = await modem(["wrong-credentials"]);
    await dial(t);
    startClient(t);
    await t.advance(10_000);
    expect(t.sim.modem.core.modeState).toBe("command");
    rig.link?.stop();
    t.take();
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM reject",29,"User authentication or authorization failed"', "OK"]);
  });
});

describe("registration-denied with for= and cause=", () => {
  test("for=20,cause=15: stat 3 with the reject cause, URCs on every enabled command, then home at 20 s with URCs", async () => {
    const t = await modem(["registration-denied:for=20,cause=15"], 0);
    expect(lines(await t.at("AT+CEREG=3;+CGREG=2;+CREG=1"))).toEqual(["OK"]);
    await t.advance(2000);
    expect(lines(t.take())).toEqual(['+CEREG: 3,"1A2B","01A2D001",8,0,15', '+CGREG: 3,"1A2B","01A2D001",8', "+CREG: 3"]);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(['+CEREG: 3,3,"1A2B","01A2D001",8,0,15', "OK"]);
    expect(lines(await t.at("AT+CGATT=1"))).toEqual(["+CME ERROR: 30"]);
    expect(lines(await t.at("ATD*99#"))).toEqual(["NO CARRIER"]);
    await t.advance(17_999);
    expect(t.take()).toBe("");
    expect(t.sim.modem.core.registrationStat).toBe(3);
    await t.advance(1);
    expect(lines(t.take())).toEqual(['+CEREG: 1,"1A2B","01A2D001",8', '+CGREG: 1,"1A2B","01A2D001",8', "+CREG: 1"]);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(['+CEREG: 3,1,"1A2B","01A2D001",8', "OK"]);
    await t.advance(500);
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 1", "OK"]);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    const regs = t.events.filter((e) => e.type === "sim.registration").map((e) => (e as { stat: number; rejectCause?: number }).stat);
    expect(regs).toEqual([3, 1]);
  });

  test("the window counts from power-on: a module reset inside it does not restart it", async () => {
    const t = await modem(["registration-denied:for=20"], 0);
    await t.advance(10_000);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 0,3", "OK"]);
    expect(lines(await t.at("AT+CFUN=1,1"))).toEqual(["OK"]);
    await t.advance(3000); // booted (1 s), searching, denied again at 13 s
    expect(t.sim.modem.core.registrationStat).toBe(3);
    await t.advance(6_999);
    expect(t.sim.modem.core.registrationStat).toBe(3);
    await t.advance(1);
    expect(t.sim.modem.core.registrationStat).toBe(1);
  });

  test("a window that ended before the modem boots: it registers as usual", async () => {
    const t = (rig.term = new Terminal({ scenarios: ["registration-denied:for=0.5"] }));
    await t.boot();
    await t.advance(2000);
    expect(t.sim.modem.core.registrationStat).toBe(1);
    expect(t.events.some((e) => e.type === "sim.registration" && e.stat === 3)).toBe(false);
  });

  test("without for= the denial is for good; cause= alone shows the cause", async () => {
    const t = await modem(["registration-denied:cause=7"], 0);
    await t.at("AT+CEREG=3");
    await t.advance(2000);
    expect(lines(t.take())).toEqual(['+CEREG: 3,"1A2B","01A2D001",8,0,7']);
    await t.advance(3_600_000);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(['+CEREG: 3,3,"1A2B","01A2D001",8,0,7', "OK"]);
  });
});

describe("apn-rejected", () => {
  test("a context with another APN: NO CARRIER at once, AT+CEER names ESM cause 27; the right APN connects", async () => {
    const t = await modem(["apn-rejected"]);
    expect(lines(await t.at('AT+CGDCONT=1,"IP","internet.e2e"'))).toEqual(["OK"]);
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(t.sim.modem.core.counters.calls).toBe(0);
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM reject",27,"Missing or unknown APN"', "OK"]);
    // Registration is untouched: the refusal is session management, not mobility.
    expect(lines(await t.at("AT+CEREG?;+CGATT?"))).toEqual(["+CEREG: 0,1", "+CGATT: 1", "OK"]);
    // The empty default context is not the accepted APN either.
    expect(await dial(t, "ATD*99***1#")).toEqual(["NO CARRIER"]);
    expect(lines(await t.at('AT+CGDCONT=1,"IP","Internet"'))).toEqual(["OK"]);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    const c = startClient(t);
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    expect(lines(await atInCall(t, "AT+CEER"))).toEqual(NO_REPORT);
  });

  test("apn-rejected:corp.example accepts only that APN", async () => {
    const t = await modem(["apn-rejected:corp.example"]);
    await t.at('AT+CGDCONT=1,"IP","internet"');
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    await t.at('AT+CGDCONT=1,"IP","corp.example"');
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
  });
});

describe("t3396", () => {
  test("the first dial starts T3396: dials within it get NO CARRIER and AT+CEER counts down; registration stays home; then dials connect", async () => {
    const t = await modem(["t3396:30"]);
    await t.at("AT+CEREG=2");
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM reject",26,"Insufficient resources, T3396 30 s"', "OK"]);
    await t.advance(10_000);
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM reject",26,"Insufficient resources, T3396 20 s"', "OK"]);
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    await t.advance(19_999);
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM reject",26,"Insufficient resources, T3396 1 s"', "OK"]);
    expect(lines(await t.at("AT+CEREG?;+CGATT?"))).toEqual(['+CEREG: 2,1,"1A2B","01A2D001",8', "+CGATT: 1", "OK"]);
    await t.advance(1);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    // No registration change at any point, and no URC.
    expect(t.events.filter((e) => e.type === "sim.registration").map((e) => (e as { stat: number }).stat)).toEqual([1]);
    expect(t.sim.modem.core.counters.calls).toBe(1);
    // Once per run: later calls are not refused.
    const c = startClient(t);
    await t.advance(100);
    c.link.close("bye");
    await t.advance(3000);
    rig.link?.stop();
    expect(t.sim.modem.core.modeState).toBe("command");
    t.take();
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
  });

  test("a module reset does not end T3396 (it runs in the network's memory of the UE)", async () => {
    const t = await modem(["t3396:60"]);
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    await t.at("AT+CFUN=1,1");
    await t.advance(5000);
    await t.at("ATE0");
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    await t.advance(55_000);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
  });
});

describe("reboot-mid-call", () => {
  test("reboot-mid-call:5: silence 5 s after CONNECT (no NO CARRIER), then RDY in command mode; once by default", async () => {
    const t = await modem(["reboot-mid-call:5"]);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    const c = startClient(t);
    await t.advance(4900);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    expect(t.sim.modem.core.modeState).toBe("data");
    t.take();
    await t.advance(100);
    expect(t.sim.modem.core.powerState).toBe("booting");
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(t.text()).not.toContain("NO CARRIER");
    expect(t.sim.portPresent).toBe(true); // the port stays (add port-vanish for that)
    rig.link?.stop();
    await t.advance(1000);
    expect(lines(t.take())).toEqual(["RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE"]);
    expect(t.events.filter((e) => e.type === "sim.power" && e.reason === "reboot-mid-call")).toHaveLength(1);
    await t.at("ATE0");
    await t.advance(3000);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    await t.advance(60_000);
    expect(t.sim.modem.core.modeState).toBe("data");
    expect(t.events.filter((e) => e.type === "sim.power" && e.reason === "reboot-mid-call")).toHaveLength(1);
  });

  test("times=2 reboots after the first two calls; with port-vanish the port goes too", async () => {
    const t = await modem(["reboot-mid-call:after=2,times=2", "port-vanish"]);
    for (let i = 0; i < 2; i++) {
      expect((await dial(t))[0]).toBe("CONNECT 150000000");
      const closed: { code: string | null } = { code: null };
      t.line.onClose((r) => (closed.code = r?.code ?? "null"));
      await t.advance(2000);
      await flushMicrotasks();
      expect(closed.code).toBe("port-vanished");
      await t.advance(1000);
      t.bind(t.sim.reopen());
      await t.at("ATE0");
      await t.advance(3000);
      t.take();
    }
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    await t.advance(30_000);
    expect(t.sim.modem.core.modeState).toBe("data");
    expect(t.events.filter((e) => e.type === "sim.power" && e.reason === "reboot-mid-call")).toHaveLength(2);
  });
});

describe("nocarrier-payload", () => {
  test("every second a UDP datagram of \"\\r\\nNO CARRIER\\r\\n\" reaches the client, unescaped on the line (ACCM 0); the call stays up", async () => {
    const t = await modem(["nocarrier-payload"]);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    const c = startClient(t);
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    const lcpUp = c.events.find((e) => e.type === "ppp.lcp.up") as { rxAccm: number } | undefined;
    expect(lcpUp?.rxAccm).toBe(0); // what the client receives is sent with ACCM 0
    t.take();
    await t.advance(5000);
    const onLine = t.take();
    // Verbatim inside the frames: the client asked ACCM 0, so CR and LF are not escaped.
    expect(onLine.split("\r\nNO CARRIER\r\n").length - 1).toBeGreaterThanOrEqual(5 * 7);
    expect(t.sim.modem.network.counters.noCarrierPayloads).toBe(5);
    const udp = c.ip.filter((p) => p[9] === 17);
    expect(udp).toHaveLength(5);
    for (const p of udp) {
      expect([...p.subarray(16, 20)]).toEqual([10, 64, 0, 2]);
      expect(internetChecksum(p, 0, 20)).toBe(0);
      const payload = new TextDecoder().decode(p.subarray(28));
      expect(payload).toHaveLength(100);
      expect(payload.startsWith("\r\nNO CARRIER\r\n\r\nNO CARRIER")).toBe(true);
    }
    expect(t.sim.modem.core.modeState).toBe("data");
    expect(t.events.filter((e) => e.type === "sim.ppp" && e.what === "nocarrier-payload")).toHaveLength(1);
    expect(c.link.status().phase).toBe("open");
    expect(has(c, "ppp.dead") || has(c, "ppp.terminate") || has(c, "ppp.link.closed")).toBe(false);
  });

  test("every=3,bytes=28: the period and the size follow the parameters; nothing before IPCP, nothing after hang-up", async () => {
    const t = await modem(["nocarrier-payload:every=3,bytes=28"]);
    await dial(t);
    await t.advance(10_000);
    expect(t.sim.modem.network.counters.noCarrierPayloads).toBe(0); // no PPP yet, no address to send to
    const c = startClient(t);
    await t.advance(9_100);
    expect(t.sim.modem.network.counters.noCarrierPayloads).toBe(3);
    expect(c.ip.filter((p) => p[9] === 17).map((p) => p.length)).toEqual([56, 56, 56]);
    c.link.close("bye");
    await t.advance(3000);
    rig.link?.stop();
    await t.advance(30_000);
    expect(t.sim.modem.network.counters.noCarrierPayloads).toBe(3);
  });
});

describe("network-drop", () => {
  test("network-drop:5,back=3: NO CARRIER, then searching with URCs, detached; home again 3 s later; every call", async () => {
    const t = await modem(["network-drop:5,back=3"]);
    await t.at("AT+CEREG=2;+CREG=1");
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    const c = startClient(t);
    await t.advance(4900);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    t.take();
    await t.advance(100);
    rig.link?.stop();
    const out = t.take();
    expect(out).toContain("\r\nNO CARRIER\r\n");
    expect(out.slice(out.indexOf("NO CARRIER"))).toBe("NO CARRIER\r\n\r\n+CEREG: 2\r\n\r\n+CREG: 2\r\n");
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(lines(await t.at("AT+CGATT?;+CEER"))).toEqual(["+CGATT: 0", '+CEER: "EMM detach",10,"Implicitly detached"', "OK"]);
    expect(await dial(t)).toEqual(["NO CARRIER"]);
    await t.advance(2999);
    expect(t.take()).toBe("");
    await t.advance(1);
    expect(lines(t.take())).toEqual(['+CEREG: 1,"1A2B","01A2D001",8', "+CREG: 1"]);
    await t.advance(500);
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    expect(t.events.filter((e) => e.type === "sim.mode" && e.reason === "network-drop")).toHaveLength(1);
    await t.advance(5000);
    expect(t.events.filter((e) => e.type === "sim.mode" && e.reason === "network-drop")).toHaveLength(2);
  });

  test("times=1: only the first call; a reboot during the outage keeps the modem searching until it ends", async () => {
    const t = await modem(["network-drop:after=2,back=20,times=1"]);
    await dial(t);
    await t.advance(2000);
    expect(t.sim.modem.core.registrationStat).toBe(2);
    expect(lines(await t.at("AT+CFUN=1,1"))).toEqual(["OK"]);
    await t.advance(10_000);
    expect(t.sim.modem.core.registrationStat).toBe(2);
    await t.advance(10_000);
    expect(t.sim.modem.core.registrationStat).toBe(1);
    await t.advance(500);
    await t.at("ATE0");
    expect((await dial(t))[0]).toBe("CONNECT 150000000");
    await t.advance(60_000);
    expect(t.sim.modem.core.modeState).toBe("data");
  });
});

/** A command while a call is up: +++ (with guard times), the command, ATO. */
async function atInCall(t: Terminal, cmd: string): Promise<string> {
  await t.advance(1000);
  await t.write("+++");
  await t.advance(1000);
  const r = await t.at(cmd);
  await t.at("ATO");
  return r;
}

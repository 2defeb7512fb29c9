import { describe, expect, test } from "bun:test";
import { CmuxCore, type CmuxSink } from "../../src/cmux/core.ts";
import { encodeControl, mscValue, SIGNALS_READY } from "../../src/cmux/control.ts";
import { encodeFrame, FrameDecoder, type Frame } from "../../src/cmux/frame.ts";

/** Two cores wired back to back (host initiator, module responder), time moved by hand. */
function pair(hostSink: CmuxSink = {}, modSink: CmuxSink = {}, params = {}) {
  const log: string[] = [];
  const host = new CmuxCore({ role: "initiator", maxFrame: 127, ...params }, hostSink);
  const mod = new CmuxCore({ role: "responder", maxFrame: 127, ...params }, modSink);
  let now = 0;
  const pump = () => {
    for (let i = 0; i < 20; i++) {
      const a = host.takeOutput();
      const b = mod.takeOutput();
      if (a.length === 0 && b.length === 0) return;
      if (a.length) mod.receive(a, now);
      if (b.length) host.receive(b, now);
    }
  };
  return { host, mod, log, pump, at: (t: number) => (now = t), get now() { return now; } };
}

function frames(bytes: Uint8Array): Frame[] {
  const out: Frame[] = [];
  new FrameDecoder({ frame: (f) => out.push({ ...f, info: f.info.slice() }) }).push(bytes);
  return out;
}

describe("channel state machines", () => {
  test("SABM/UA opens DLCI 0 then a data DLCI; the host tells the module it is ready (MSC)", () => {
    const opened: number[] = [];
    const signals: Array<[number, boolean]> = [];
    const p = pair({ opened: (d) => opened.push(d) }, { signals: (d, s) => signals.push([d, s.rtc]) });
    p.host.open(0, 0);
    const sabm = frames(p.host.takeOutput());
    expect(sabm.map((f) => [f.type, f.dlci, f.cr, f.pf])).toEqual([["SABM", 0, true, true]]);
    p.mod.receive(encodeFrame({ ...sabm[0]!, info: new Uint8Array(0) }), 0);
    p.pump();
    expect(p.host.state(0)).toBe("open");
    p.host.open(2, 0);
    p.pump();
    expect(opened).toEqual([0, 2]);
    expect(p.mod.state(2)).toBe("open");
    expect(signals).toEqual([[2, true]]);
  });

  test("no UA: SABM is sent N2 more times T1 apart, then open fails with no-answer", () => {
    const failed: string[] = [];
    const host = new CmuxCore({ role: "initiator", t1Ms: 100, n2: 3 }, { openFailed: (d, why) => failed.push(`${d}:${why}`) });
    host.open(0, 0);
    let sabms = frames(host.takeOutput()).length;
    for (let t = 100; t <= 400; t += 100) {
      expect(host.nextDeadline()).toBe(t);
      host.tick(t);
      sabms += frames(host.takeOutput()).filter((f) => f.type === "SABM").length;
    }
    expect(sabms).toBe(4);
    expect(failed).toEqual(["0:no-answer"]);
    expect(host.nextDeadline()).toBeNull();
    expect(host.counters.retransmissions).toBe(3);
  });

  test("DM to SABM refuses the DLCI", () => {
    const failed: string[] = [];
    const host = new CmuxCore({ role: "initiator" }, { openFailed: (d, why) => failed.push(`${d}:${why}`) });
    host.open(0, 0);
    host.takeOutput();
    host.receive(encodeFrame({ dlci: 0, cr: true, type: "DM", pf: true, info: new Uint8Array(0) }), 10);
    expect(failed).toEqual(["0:refused"]);
    expect(host.state(0)).toBe("closed");
  });

  test("the responder refuses a DLCI before DLCI 0 is open", () => {
    const mod = new CmuxCore({ role: "responder" });
    mod.receive(encodeFrame({ dlci: 2, cr: true, type: "SABM", pf: true, info: new Uint8Array(0) }), 0);
    expect(frames(mod.takeOutput()).map((f) => f.type)).toEqual(["DM"]);
  });

  test("DISC/UA closes one DLCI; the others stay", () => {
    const closed: string[] = [];
    const p = pair({ closed: (d, byPeer) => closed.push(`${d}:${byPeer}`) });
    p.host.open(0, 0);
    p.pump();
    p.host.open(1, 0);
    p.host.open(2, 0);
    p.pump();
    p.host.close(1, 0);
    p.pump();
    expect(closed).toEqual(["1:false"]);
    expect(p.host.dlcis()).toEqual([0, 2]);
    expect(p.mod.state(1)).toBe("closed");
  });

  test("CLD closes the whole mux on both sides; the peer's CLD is answered", () => {
    const hostDown: boolean[] = [];
    const modDown: boolean[] = [];
    const p = pair({ closeDown: (b) => hostDown.push(b) }, { closeDown: (b) => modDown.push(b) });
    p.host.open(0, 0);
    p.pump();
    p.host.open(2, 0);
    p.pump();
    p.host.closeDown(0);
    p.pump();
    expect(hostDown).toEqual([false]);
    expect(modDown).toEqual([true]);
    expect(p.host.isEnded).toBe(true);
    expect(p.mod.state(2)).toBe("closed");
  });

  test("a CLD nobody answers still ends the mux after N2 tries of T2", () => {
    const down: boolean[] = [];
    const timeouts: string[] = [];
    const host = new CmuxCore({ role: "initiator", t2Ms: 300, n2: 3 }, { closeDown: (b) => down.push(b), controlTimeout: (t) => timeouts.push(t) });
    host.open(0, 0);
    host.receive(encodeFrame({ dlci: 0, cr: true, type: "UA", pf: true, info: new Uint8Array(0) }), 0);
    host.takeOutput();
    host.closeDown(0);
    for (let t = 300; t <= 1200; t += 300) host.tick(t);
    expect(timeouts).toEqual(["CLD"]);
    expect(down).toEqual([false]);
  });

  test("MSC from the module reports DCD per DLCI and FC holds that DLCI's data until released", () => {
    const seen: Array<[number, boolean]> = [];
    const got: string[] = [];
    const p = pair({ signals: (d, s) => seen.push([d, s.dv]) }, { data: (_d, b) => got.push(new TextDecoder().decode(b)) });
    p.host.open(0, 0);
    p.pump();
    p.host.open(2, 0);
    p.pump();
    p.mod.sendSignals(2, { ...SIGNALS_READY, fc: true }, 0);
    p.pump();
    p.host.send(2, new TextEncoder().encode("held"));
    expect(p.host.queued(2)).toBe(4);
    p.pump();
    expect(got).toEqual([]);
    p.mod.sendSignals(2, { ...SIGNALS_READY, dv: false }, 0);
    p.pump();
    expect(got).toEqual(["held"]);
    expect(seen).toEqual([[2, true], [2, false]]);
  });

  test("FCoff holds every DLCI, FCon releases them; both are answered", () => {
    const got: string[] = [];
    const p = pair({}, { data: (_d, b) => got.push(new TextDecoder().decode(b)) });
    p.host.open(0, 0);
    p.pump();
    p.host.open(1, 0);
    p.pump();
    p.mod.sendFlow(false, 0);
    p.pump();
    expect(p.host.flowStopped).toBe(true);
    p.host.send(1, new TextEncoder().encode("AT\r"));
    p.pump();
    expect(got).toEqual([]);
    p.mod.sendFlow(true, 0);
    p.pump();
    expect(got).toEqual(["AT\r"]);
    expect(p.mod.nextDeadline()).toBeNull(); // both commands were answered
  });

  test("Test is echoed; an unknown control type gets NSC", () => {
    const results: boolean[] = [];
    const p = pair({ testResult: (ok) => results.push(ok) });
    p.host.open(0, 0);
    p.pump();
    p.host.test(Uint8Array.of(1, 2, 3), 0);
    p.pump();
    expect(results).toEqual([true]);
    p.mod.receive(encodeFrame({ dlci: 0, cr: true, type: "UIH", pf: false, info: encodeControl(0x93, true, Uint8Array.of(0)) }), 0);
    const reply = frames(p.mod.takeOutput());
    expect(reply[0]!.info[0]).toBe(0x11); // NSC response
    expect(reply[0]!.info[2]).toBe(0x93);
  });

  test("data is split into UIH frames of at most N1 octets and arrives whole", () => {
    const got: number[] = [];
    const p = pair({}, { data: (_d, b) => got.push(...b) }, { maxFrame: 31 });
    p.host.open(0, 0);
    p.pump();
    p.host.open(2, 0);
    p.pump();
    const data = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff);
    p.host.send(2, data);
    const out = p.host.takeOutput();
    const fs = frames(out);
    expect(fs.length).toBe(Math.ceil(1000 / 31));
    expect(Math.max(...fs.map((f) => f.info.length))).toBe(31);
    p.mod.receive(out, 0);
    expect(Uint8Array.from(got)).toEqual(data);
    expect(p.host.counters.infoOut).toBe(1000);
  });

  test("data for a DLCI that is not open is refused and counted on the receiving side", () => {
    const p = pair();
    p.host.open(0, 0);
    p.pump();
    expect(p.host.send(3, Uint8Array.of(1))).toBe(false);
    p.host.receive(encodeFrame({ dlci: 3, cr: false, type: "UIH", pf: false, info: Uint8Array.of(1) }), 0);
    expect(p.host.counters.unexpected).toBe(1);
  });

  test("the MSC value the host sends names the DLCI", () => {
    const p = pair();
    p.host.open(0, 0);
    p.pump();
    p.host.open(2, 0);
    p.host.takeOutput();
    p.host.receive(encodeFrame({ dlci: 2, cr: false, type: "UA", pf: true, info: new Uint8Array(0) }), 0);
    const msc = frames(p.host.takeOutput()).find((f) => f.dlci === 0)!;
    expect([...msc.info]).toEqual([0xe3, 0x05, ...mscValue(2, SIGNALS_READY)]);
  });
});

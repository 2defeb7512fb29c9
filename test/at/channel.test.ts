import { describe, expect, test } from "bun:test";
import { AtChannel } from "../../src/at/channel.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createPipePair, type BytePipe } from "../../src/core/pipe.ts";
import type { Cause } from "../../src/core/cause.ts";
import { pppBearerFactory } from "../../src/bearer/ppp.ts";
import type { PppLinkEvent } from "../../src/ppp/link.ts";
import { icmpEcho } from "../support/ip.ts";
import { makeLink, serverOptions, SERVER_V4, settle, advanceUntil } from "../support/ppp-pair.ts";
import { testConfig } from "../modem/harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const flush = () => new Promise((r) => setImmediate(r));

/** A modem end that answers each command line from a table. */
function modemEnd(pipe: BytePipe, answers: Record<string, string | null>, heard: string[] = []): void {
  let buf = "";
  pipe.onData((d) => {
    buf += dec.decode(d);
    let i: number;
    while ((i = buf.indexOf("\r")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      heard.push(line);
      const a = line in answers ? answers[line] : "\r\nOK\r\n";
      if (a !== null && a !== undefined) pipe.write(enc.encode(a));
    }
  });
}

describe("AtChannel adapter", () => {
  test("commands resolve in order over a pipe; time limits fire on the scheduler", async () => {
    const sched = new ManualScheduler();
    const [a, m] = createPipePair();
    modemEnd(m, { "AT+CGMM": "\r\nBG77\r\n\r\nOK\r\n", "AT+SILENT": null });
    const ch = new AtChannel(a, sched);
    const r1 = ch.command("AT+CGMM");
    const r2 = ch.command("AT+SILENT", 5_000);
    await flush();
    expect((await r1).lines).toEqual(["BG77"]);
    sched.advance(4_999);
    await flush();
    let done = false;
    void r2.then(() => (done = true));
    await flush();
    expect(done).toBe(false);
    sched.advance(1);
    expect((await r2).status).toBe("timeout");
    expect(sched.pendingCount()).toBe(0);
  });

  test("data mode: bytes after CONNECT wait for PPP to subscribe; closing the view keeps the port", async () => {
    const sched = new ManualScheduler();
    const [a, m] = createPipePair();
    m.onData(() => m.write(enc.encode("\r\nCONNECT 150000000\r\n~\xff\x03~")));
    const ch = new AtChannel(a, sched);
    const r = await ch.command("ATD*99#", 60_000);
    expect(r.status).toBe("connect");
    const view = ch.dataPipe!;
    expect(view).not.toBeNull();
    const got: number[] = [];
    view.onData((d) => got.push(...d));
    await flush();
    // the LF that ended the CONNECT line is not PPP data; 0xff is two bytes in UTF-8
    expect(got).toEqual([0x7e, 0xc3, 0xbf, 0x03, 0x7e]);
    view.write(enc.encode("to-modem"));
    await view.close();
    expect(a.isOpen).toBe(true);
    m.write(enc.encode("\r\nNO CARRIER\r\n"));
    await flush();
    expect(ch.mode).toBe("command");
  });

  test("the port closing ends pending commands as aborted and the data view with port-vanished", async () => {
    const sched = new ManualScheduler();
    const [a, m] = createPipePair();
    modemEnd(m, { "AT+COPS=0": null });
    const ch = new AtChannel(a, sched);
    const p = ch.command("AT+COPS=0", 180_000);
    await flush();
    await m.close();
    await flush();
    expect((await p).status).toBe("aborted");
    expect(sched.pendingCount()).toBe(0);
  });
});

describe("PPP over the data-mode pipe: payload text vs. the modem's NO CARRIER", () => {
  const TEXT = enc.encode("\r\nNO CARRIER\r\n");

  /** Client PPP (the agent's factory) on the channel's data pipe; our server role on the modem end. */
  async function callUp() {
    const sched = new ManualScheduler();
    const [a, m] = createPipePair();
    let dialled = false;
    m.onData((d) => {
      if (!dialled && dec.decode(d).startsWith("ATD")) {
        dialled = true;
        m.write(enc.encode("\r\nCONNECT 150000000\r\n"));
      }
    });
    const ch = new AtChannel(a, sched);
    expect((await ch.command("ATD*99#", 60_000)).status).toBe("connect");
    const server = makeLink(m, serverOptions("none"), sched);
    const events: PppLinkEvent[] = [];
    const ip: Uint8Array[] = [];
    let up = false;
    let down: Cause | null | undefined;
    const handle = pppBearerFactory({ config: testConfig(), scheduler: sched, onEvent: (e) => events.push(e) })(ch.dataPipe!, {
      up: () => (up = true),
      down: (c) => (down = c),
    });
    handle.link.onIp((_v, p) => ip.push(p));
    server.link.start();
    handle.start();
    expect(await advanceUntil(sched, () => up)).toBe(true);
    // What cellkeep negotiates: ACCM 0 both ways, so CR and LF cross unescaped.
    expect(handle.session.txFraming().accm).toBe(0);
    expect(handle.session.rxFraming().accm).toBe(0);
    return { sched, m, ch, server, handle, events, ip, down: () => down };
  }

  test("IP packets carrying the text cross both ways; then the modem's real NO CARRIER ends the link as carrier-lost", async () => {
    const t = await callUp();
    const wire: Uint8Array[] = [];
    t.m.onData((d) => wire.push(d.slice()));
    const payloads = [TEXT, enc.encode(`ping${dec.decode(TEXT)}pong${dec.decode(TEXT)}`)];
    for (let seq = 0; seq < payloads.length; seq++) {
      const toClient = icmpEcho(SERVER_V4.localIPv4, SERVER_V4.peerIPv4, 1, seq, payloads[seq]!);
      expect(t.server.link.sendIp(4, toClient)).toBe(true);
      const toServer = icmpEcho(SERVER_V4.peerIPv4, SERVER_V4.localIPv4, 2, seq, payloads[seq]!);
      expect(t.handle.link.sendIp(4, toServer)).toBe(true);
    }
    await settle();
    expect(t.ch.mode).toBe("data");
    expect(t.down()).toBeUndefined();
    expect(t.ip.length).toBe(2);
    expect(t.server.ip.length).toBe(2);
    for (const p of [...t.ip, ...t.server.ip.map((x) => x.packet)]) expect(dec.decode(p)).toContain("\r\nNO CARRIER\r\n");
    // The text really went over the line unescaped, inside frames.
    expect(dec.decode(Buffer.concat(wire))).toContain("\r\nNO CARRIER\r\n");

    // The modem hangs up: its text after the last frame's closing flag.
    t.server.link.stop();
    t.m.write(TEXT);
    await settle();
    expect(t.ch.mode).toBe("command");
    expect(t.down()?.code).toBe("carrier-lost");
    const closed = t.events.find((e) => e.type === "ppp.link.closed");
    expect(closed && "cause" in closed ? closed.cause?.code : undefined).toBe("carrier-lost");
    expect(t.handle.link.isStarted).toBe(false);
    await t.handle.stop();
    t.ch.detach();
  });
});

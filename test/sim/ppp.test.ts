import { afterEach, describe, expect, test } from "bun:test";
import { buildEchoRequest, parseEcho } from "../../src/net/icmp.ts";
import type { PppSessionOptions } from "../../src/ppp/session.ts";
import { CODE, parsePacket } from "../../src/ppp/packet.ts";
import { HdlcDecoder } from "../../src/ppp/hdlc.ts";
import { PROTO } from "../../src/ppp/types.ts";
import type { SimPppServer } from "../../src/sim/ppp-server.ts";
import { SimPppRig, Terminal, flushMicrotasks, lines, type PppClient } from "./helpers.ts";

const rig = new SimPppRig();
afterEach(() => rig.cleanup());

/** A registered, attached modem in command mode with echo off. */
const ready = (opts: ConstructorParameters<typeof Terminal>[0] = {}, settle = 3000): Promise<Terminal> => rig.ready(opts, settle);

type Client = PppClient;
const startClient = (t: Terminal, auth: PppSessionOptions["auth"] = { method: "pap", username: "user", password: "s3cret" }, extra: Partial<PppSessionOptions> = {}): Client =>
  rig.startClient(t, auth, extra);

const has = (c: Client, type: string) => c.events.some((e) => e.type === type);
const ip4 = (s: string) => Uint8Array.from(s.split(".").map(Number));

async function dial(t: Terminal, cmd = "ATD*99#"): Promise<string> {
  t.take();
  await t.write(`${cmd}\r`);
  return t.take();
}

describe("data call over the PPP server role", () => {
  test("healthy: CONNECT 150000000, PAP, IPCP assigns 10.64.0.2 with DNS, ping and DNS answered", async () => {
    const t = await ready();
    expect(lines(await dial(t))[0]).toBe("CONNECT 150000000");
    expect(t.sim.modem.core.modeState).toBe("data");
    const c = startClient(t);
    await t.advance(100);
    const up = c.events.find((e) => e.type === "ppp.ipcp.up") as { local: string; remote: string; dns: string[] } | undefined;
    expect(up).toBeDefined();
    expect(up!.local).toBe("10.64.0.2");
    expect(up!.remote).toBe("10.64.0.1");
    expect(up!.dns).toEqual(["10.64.0.53", "10.64.0.54"]);
    expect(t.events.some((e) => e.type === "sim.ppp" && e.what === "auth-ok")).toBe(true);

    // ICMP echo: 8.8.8.8 and the peer answer, 9.9.9.9 does not.
    for (const [dst, seq] of [["8.8.8.8", 1], ["10.64.0.1", 2], ["9.9.9.9", 3]] as const) {
      c.link.sendIp(4, buildEchoRequest({ source: ip4("10.64.0.2"), destination: ip4(dst), identifier: 0x4242, sequence: seq, payload: new Uint8Array(16).fill(seq) }));
    }
    await t.advance(10);
    const replies = c.ip.map((p) => parseEcho(p)).filter((r) => r !== null);
    expect(replies.map((r) => r!.sequence).sort()).toEqual([1, 2]);

    // DNS A query for the probe name, and one for an unknown name.
    c.link.sendIp(4, dnsQuery("probe.cellkeep.test", 0x1111));
    c.link.sendIp(4, dnsQuery("nothing.example", 0x2222));
    await t.advance(10);
    const dns = c.ip.filter((p) => p[9] === 17).map((p) => p.subarray(28));
    expect(dns).toHaveLength(2);
    const hit = dns.find((d) => d[0] === 0x11)!;
    expect(hit[3]! & 0x0f).toBe(0);
    expect([...hit.subarray(hit.length - 4)]).toEqual([10, 64, 0, 80]);
    const miss = dns.find((d) => d[0] === 0x22)!;
    expect(miss[3]! & 0x0f).toBe(3);

    // Client terminates: the server acks, the call ends, the modem says NO CARRIER.
    t.take();
    c.link.close("bye");
    await t.advance(5000);
    expect(t.text()).toContain("\r\nNO CARRIER\r\n");
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(lines(await t.at("AT")).at(-1)).toBe("OK");
  });

  test("ATD*99***1# works; an undefined context gives NO CARRIER", async () => {
    const t = await ready();
    expect(lines(await dial(t, "ATD*99***3#"))).toEqual(["NO CARRIER"]);
    expect(lines(await dial(t, "ATD*99***1#"))[0]).toBe("CONNECT 150000000");
  });

  test("dialling before registration gives NO CARRIER", async () => {
    const t = await ready({}, 0);
    expect(lines(await dial(t))).toEqual(["NO CARRIER"]);
  });

  test("CHAP against configured credentials", async () => {
    const t = await ready({ behaviour: { auth: { username: "acme", password: "pw-123" } } });
    await dial(t);
    const c = startClient(t, { method: "chap", username: "acme", password: "pw-123" });
    await t.advance(100);
    expect(c.events.find((e) => e.type === "ppp.auth")).toMatchObject({ method: "chap", result: "success" });
    expect(has(c, "ppp.ipcp.up")).toBe(true);
  });

  test("configured credentials: a wrong password fails over PAP too", async () => {
    const t = await ready({ behaviour: { auth: { username: "acme", password: "pw-123" } } });
    await dial(t);
    const c = startClient(t, { method: "pap", username: "acme", password: "nope" });
    await t.advance(100);
    expect(c.events.find((e) => e.type === "ppp.auth")).toMatchObject({ method: "pap", result: "failure" });
  });

  test("wrong-credentials: PAP Nak, PPP ends, NO CARRIER", async () => {
    const t = await ready({ scenarios: ["wrong-credentials"] });
    await dial(t);
    const seen = captureFrames(t);
    const c = startClient(t);
    await t.advance(100);
    expect(c.events.find((e) => e.type === "ppp.auth")).toMatchObject({ result: "failure" });
    expect(seen.some((f) => f.protocol === PROTO.PAP && f.info[0] === 3)).toBe(true); // PAP Authenticate-Nak
    expect(has(c, "ppp.ipcp.up")).toBe(false);
    await t.advance(10_000);
    expect(t.text()).toContain("NO CARRIER");
  });

  test("dial-before-attach: CONNECT, PAP success, then LCP Terminate-Request; after CGATT=1 the dial works", async () => {
    const t = await ready({ scenarios: ["dial-before-attach"] });
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 0", "OK"]);
    expect(lines(await dial(t))[0]).toBe("CONNECT 150000000");
    const seen = captureFrames(t);
    const c = startClient(t);
    await t.advance(100);
    const order = c.events.filter((e) => e.type === "ppp.auth" || e.type === "ppp.terminate").map((e) => e.type === "ppp.auth" ? `auth:${e.result}` : `term:${e.by}`);
    expect(order).toEqual(["auth:success", "term:peer"]);
    const authAck = seen.findIndex((f) => f.protocol === PROTO.PAP && f.info[0] === 2);
    const termReq = seen.findIndex((f) => f.protocol === PROTO.LCP && f.info[0] === CODE.TERM_REQ);
    expect(authAck).toBeGreaterThanOrEqual(0);
    expect(termReq).toBeGreaterThan(authAck);
    expect(has(c, "ppp.ipcp.up")).toBe(false);
    expect(t.events.some((e) => e.type === "sim.ppp" && e.what === "terminate-after-auth")).toBe(true);
    await t.advance(1000);
    expect(t.text()).toContain("NO CARRIER");
    rig.link?.stop();

    // The vendor procedure: attach first, then dial.
    expect(lines(await t.at("AT+CGATT=1"))).toEqual([]);
    await t.advance(500);
    expect(lines(t.take())).toEqual(["OK"]);
    expect(lines(await dial(t))[0]).toBe("CONNECT 150000000");
    const c2 = startClient(t);
    await t.advance(100);
    expect(has(c2, "ppp.ipcp.up")).toBe(true);
  });

  test("no-ip: the network never acks an address", async () => {
    const t = await ready({ scenarios: ["no-ip"] });
    await dial(t);
    const seen = captureFrames(t);
    const c = startClient(t);
    await t.advance(60_000);
    expect(has(c, "ppp.ipcp.up")).toBe(false);
    const ipcpFromServer = seen.filter((f) => f.protocol === PROTO.IPCP).map((f) => parsePacket(f.info)!);
    const naks = ipcpFromServer.filter((p) => p.code === CODE.CONF_NAK);
    expect(naks.length).toBeGreaterThan(0);
    // Every Nak suggests 0.0.0.0; no Configure-Ack of a client address ever went out.
    for (const n of naks) expect([...n.data.subarray(2, 6)]).toEqual([0, 0, 0, 0]);
    expect(ipcpFromServer.some((p) => p.code === CODE.CONF_ACK && p.data.length >= 6 && p.data.subarray(2, 6).some((b) => b !== 0))).toBe(false);
    expect(t.events.some((e) => e.type === "sim.ppp" && e.what === "no-ip")).toBe(true);
  });

  test("drop-after:5: NO CARRIER on the line 5 s after CONNECT, AT+CEER tells the network ended it", async () => {
    const t = await ready({ scenarios: ["drop-after:5"] });
    await dial(t);
    const c = startClient(t);
    await t.advance(4900);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    expect(t.text()).not.toContain("NO CARRIER");
    await t.advance(200);
    // The result code on the line, outside any frame (the AT channel is what recognises it).
    expect(t.text()).toContain("~\r\nNO CARRIER\r\n");
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(t.events.some((e) => e.type === "sim.mode" && e.mode === "command" && e.reason === "drop-after")).toBe(true);
    expect(lines(await t.at("AT+CEER"))).toEqual(['+CEER: "ESM deactivation",36,"Regular deactivation"', "OK"]);
  });

  test("dead-peer: after IPCP the network stops answering LCP echo; the line stays in data mode", async () => {
    const t = await ready({ scenarios: ["dead-peer"] });
    await dial(t);
    const c = startClient(t, undefined, { echo: { intervalMs: 1000, failures: 3 } });
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    await t.advance(10_000);
    const down = c.events.find((e) => e.type === "ppp.dead") as { cause?: { code: string } } | undefined;
    expect(down?.cause?.code).toBe("peer-dead");
    expect(t.sim.modem.core.modeState).toBe("data");
    expect(has(c, "ppp.link.no-carrier")).toBe(false);
  });

  test("healthy peer answers LCP echo (control for dead-peer)", async () => {
    const t = await ready();
    await dial(t);
    const c = startClient(t, undefined, { echo: { intervalMs: 1000, failures: 3 } });
    await t.advance(10_000);
    expect(c.events.some((e) => e.type === "ppp.dead")).toBe(false);
    expect(c.link.status().counters.echoRepliesReceived).toBeGreaterThan(5);
  });
});

describe("leaving data mode", () => {
  test("+++ with guard time → OK; ATO → CONNECT; +++ then ATH hangs up", async () => {
    const t = await ready();
    await dial(t);
    await t.advance(1000);
    await t.write("+++");
    await t.advance(999);
    expect(t.take()).toBe("");
    await t.advance(1);
    expect(lines(t.take())).toEqual(["OK"]);
    expect(t.sim.modem.core.modeState).toBe("online-command");
    expect(lines(await t.at("AT+CSQ"))).toEqual(["+CSQ: 24,99", "OK"]);
    expect(lines(await t.at("ATO"))).toEqual(["CONNECT 150000000"]);
    expect(t.sim.modem.core.modeState).toBe("data");
    await t.advance(1000);
    await t.write("+++");
    await t.advance(1000);
    expect(lines(t.take())).toEqual(["OK"]);
    expect(lines(await t.at("ATH"))).toEqual(["OK"]);
    expect(t.sim.modem.core.modeState).toBe("command");
    expect(lines(await t.at("ATO"))).toEqual(["NO CARRIER"]);
  });

  test("+++ without the leading guard time is data, not an escape", async () => {
    const t = await ready();
    await dial(t);
    await t.advance(100);
    await t.write("+++");
    await t.advance(5000);
    expect(t.text()).not.toContain("OK");
    expect(t.sim.modem.core.modeState).toBe("data");
  });

  test("+++ followed by more data within the guard time is data", async () => {
    const t = await ready();
    await dial(t);
    await t.advance(2000);
    await t.write("+++");
    await t.advance(500);
    await t.write("x");
    await t.advance(5000);
    expect(t.sim.modem.core.modeState).toBe("data");
  });

  test("DTR drop with AT&D2 hangs up (NO CARRIER); with AT&D1 goes to command mode", async () => {
    const t = await ready();
    expect(lines(await t.at("AT&D2"))).toEqual(["OK"]);
    await dial(t);
    await t.line.setLines!({ dtr: false });
    expect(lines(t.take())).toEqual(["NO CARRIER"]);
    expect(t.sim.modem.core.modeState).toBe("command");
    await t.line.setLines!({ dtr: true });
    expect(lines(await t.at("AT&D1"))).toEqual(["OK"]);
    await dial(t);
    await t.line.setLines!({ dtr: false });
    expect(lines(t.take())).toEqual(["OK"]);
    expect(t.sim.modem.core.modeState).toBe("online-command");
  });
});

describe("IP hook and port-vanish", () => {
  test("onIpFromClient diverts packets; sendIpToClient injects them", async () => {
    const t = await ready();
    const diverted: Uint8Array[] = [];
    t.sim.modem.onIpFromClient((p) => diverted.push(p));
    await dial(t);
    const c = startClient(t);
    await t.advance(100);
    const ping = buildEchoRequest({ source: ip4("10.64.0.2"), destination: ip4("8.8.8.8"), identifier: 7, sequence: 1, payload: new Uint8Array(8) });
    c.link.sendIp(4, ping);
    await t.advance(10);
    expect(diverted).toHaveLength(1);
    expect(c.ip).toHaveLength(0); // the built-in network did not answer
    expect(t.sim.modem.sendIpToClient(ping)).toBe(true);
    await t.advance(10);
    expect(c.ip).toHaveLength(1);
    expect([...c.ip[0]!]).toEqual([...ping]);
  });

  test("IPV4V6 context: the network runs IPV6CP too; IPv6 packets go through the hook", async () => {
    const t = await ready();
    expect(lines(await t.at('AT+CGDCONT=1,"IPV4V6","internet"'))).toEqual(["OK"]);
    const diverted: Uint8Array[] = [];
    t.sim.modem.onIpFromClient((p) => diverted.push(p));
    await dial(t);
    const c = startClient(t, undefined, { ncps: { ipv4: true, ipv6: true } });
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    expect(has(c, "ppp.ipv6cp.up")).toBe(true);
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    v6[6] = 59; // no next header
    v6[7] = 64;
    expect(c.link.sendIp(6, v6)).toBe(true);
    await t.advance(10);
    expect(diverted.map((p) => p[0]! >> 4)).toEqual([6]);
    expect(t.sim.modem.sendIpToClient(v6)).toBe(true);
    await t.advance(10);
    expect(c.ip.map((p) => p[0]! >> 4)).toEqual([6]);
  });

  test("IP context: IPV6CP from the client is rejected, IPv4 still comes up", async () => {
    const t = await ready();
    await dial(t);
    const c = startClient(t, undefined, { ncps: { ipv4: true, ipv6: true } });
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    expect(has(c, "ppp.ipv6cp.up")).toBe(false);
  });

  test("port-vanish in-process: CFUN=1,1 closes the agent's pipe (port-vanished); reopen after boot", async () => {
    const t = await ready({ scenarios: ["port-vanish"] });
    const closed: { with: string | null } = { with: null };
    t.line.onClose((r) => (closed.with = r?.code ?? "null"));
    expect(lines(await t.at("AT+CFUN=1,1"))).toEqual(["OK"]);
    await flushMicrotasks();
    expect(closed.with).toBe("port-vanished");
    expect(t.sim.portPresent).toBe(false);
    expect(() => t.sim.reopen()).toThrow();
    await t.advance(1000);
    expect(t.sim.portPresent).toBe(true);
    t.bind(t.sim.reopen());
    expect(lines(await t.at("AT"))).toEqual(["AT", "OK"]);
  });
});

function dnsQuery(name: string, id: number): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...new TextEncoder().encode(l)]);
  const dns = [id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1];
  const udpLen = 8 + dns.length;
  const udp = [0x30, 0x39, 0, 53, udpLen >> 8, udpLen & 0xff, 0, 0, ...dns];
  const total = 20 + udp.length;
  const p = new Uint8Array(total);
  p.set([0x45, 0, total >> 8, total & 0xff, 0, 1, 0, 0, 64, 17, 0, 0, 10, 64, 0, 2, 10, 64, 0, 53]);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i]! << 8) | p[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(udp, 20);
  return p;
}

/** Decode every PPP frame the modem sends to the client from now on. */
function captureFrames(t: Terminal): { protocol: number; info: Uint8Array }[] {
  const dec = new HdlcDecoder({ accm: 0 });
  const frames: { protocol: number; info: Uint8Array }[] = [];
  t.line.onData((d) => {
    for (const ev of dec.push(d)) if (ev.kind === "frame") frames.push({ protocol: ev.protocol, info: ev.info });
  });
  return frames;
}



describe("scenarios that reboot the module", () => {
  test("port-vanish:5 reboots the module 5 s after the first CONNECT: no NO CARRIER, the port vanishes, then RDY on a new pipe", async () => {
    const t = await ready({ scenarios: ["port-vanish:5"] });
    await dial(t);
    const c = startClient(t);
    await t.advance(100);
    expect(has(c, "ppp.ipcp.up")).toBe(true);
    const closed: { code: string | null } = { code: null };
    t.line.onClose((r) => (closed.code = r?.code ?? "null"));
    t.take();
    await t.advance(5000);
    expect(closed.code).toBe("port-vanished");
    expect(t.text()).not.toContain("NO CARRIER");
    expect(has(c, "ppp.link.closed")).toBe(true);
    rig.link?.stop();
    await t.advance(1000);
    t.bind(t.sim.reopen());
    expect(lines(await t.at("ATE0")).at(-1)).toBe("OK");
    // Only once: the next call stays up.
    await t.advance(3000);
    expect(lines(await dial(t))[0]).toBe("CONNECT 150000000");
    await t.advance(60_000);
    expect(t.sim.portPresent).toBe(true);
    expect(t.sim.modem.core.modeState).toBe("data");
  });

  test("reboot-loop in a call: the line goes silent (no NO CARRIER), RDY comes back in command mode", async () => {
    const t = await ready({ scenarios: ["reboot-loop:every=10,times=1"] }, 0);
    await t.advance(3000);
    await dial(t);
    t.take();
    await t.advance(7000);
    expect(t.sim.modem.core.powerState).toBe("booting");
    expect(t.text()).not.toContain("NO CARRIER");
    await t.advance(1000);
    expect(lines(t.take())).toContain("RDY");
    expect(t.sim.modem.core.modeState).toBe("command");
  });

  test("garbage stays out of data mode", async () => {
    const t = await ready({ scenarios: ["garbage:1"] });
    await dial(t);
    t.take();
    await t.advance(10_000);
    expect(t.events.filter((e) => e.type === "sim.garbage" && e.at > t.clock.now() - 9000)).toHaveLength(0);
  });
});

export type { SimPppServer };

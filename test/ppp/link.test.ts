import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createPipePair } from "../../src/core/pipe.ts";
import { PcapBuffer } from "../../src/ppp/pcap.ts";
import { encodeFrame } from "../../src/ppp/hdlc.ts";
import { PROTO } from "../../src/ppp/types.ts";
import { type AuthKind, SERVER_V4, USERS, clientOptions, hasEvent, makeLink, serverOptions, settle } from "../support/ppp-pair.ts";
import { icmpEcho, parseIcmpEcho } from "../support/ip.ts";

async function bringUp(auth: AuthKind, password?: string) {
  const sched = new ManualScheduler();
  const [a, b] = createPipePair();
  const pcap = new PcapBuffer();
  const client = makeLink(a, clientOptions(auth, password), sched, pcap);
  const server = makeLink(b, serverOptions(auth), sched);
  server.link.start();
  client.link.start();
  // Everything moves through microtasks; the manual clock only runs retransmissions.
  for (let i = 0; i < 40 && !(hasEvent(client.events, "ppp.open") && hasEvent(server.events, "ppp.open")); i++) {
    await settle(5);
    sched.advance(100);
  }
  return { sched, a, b, pcap, client, server };
}

describe("PppLink in-process: client against our own server role", () => {
  for (const auth of ["none", "pap", "chap"] as const) {
    test(`${auth}: LCP, auth, IPCP open; addresses and DNS; IP both ways`, async () => {
      const { client, server, pcap, sched } = await bringUp(auth);
      const st = client.link.status();
      expect(st.phase).toBe("open");
      expect(st.ipv4?.local).toBe(SERVER_V4.peerIPv4);
      expect(st.ipv4?.dns).toEqual(SERVER_V4.dns);
      if (auth !== "none") expect(st.auth).toMatchObject({ method: auth, result: "success" });
      // IP: client → server and back
      const ping = icmpEcho(SERVER_V4.peerIPv4, SERVER_V4.localIPv4, 7, 1, new TextEncoder().encode("hello"));
      expect(client.link.sendIp(4, ping)).toBe(true);
      await settle();
      expect(server.ip.length).toBe(1);
      expect([...server.ip[0]!.packet]).toEqual([...ping]);
      expect(server.link.sendIp(4, ping)).toBe(true);
      await settle();
      expect(parseIcmpEcho(client.ip[0]!.packet)?.id).toBe(7);
      const c = client.link.counters();
      expect(c.packetsOut).toBe(1);
      expect(c.packetsIn).toBe(1);
      expect(c.framesIn).toBeGreaterThan(3);
      expect(c.bytesOut).toBeGreaterThan(c.framesOut * 8);
      expect(c.decoder.badFcs).toBe(0);
      // pcap saw both directions; the password never appears in it
      const bytes = pcap.bytes();
      expect(pcap.records).toBe(c.framesIn + c.framesOut);
      expect(Buffer.from(bytes).includes(Buffer.from(USERS.alice!))).toBe(false);
      // the only timer left is the one the session asked for
      expect(sched.pendingCount()).toBeLessThanOrEqual(2);
      client.link.stop();
      server.link.stop();
      expect(sched.pendingCount()).toBe(0);
    });
  }

  test("pap with a wrong password ends in auth-rejected", async () => {
    const { client, server } = await bringUp("pap", "wrong-password");
    const down = client.events.find((e) => e.type === "ppp.dead");
    expect(down && "cause" in down ? down.cause?.code : undefined).toBe("auth-rejected");
    expect(JSON.stringify(client.events)).not.toContain("wrong-password");
    client.link.stop();
    server.link.stop();
  });

  test("modem text in the stream is not the link's business: garbage between frames, the link stays open", async () => {
    // The AT channel recognises NO CARRIER between frames and ends the pipe
    // (test/at/channel.test.ts); whatever text reaches the link is noise.
    const { client, server, b } = await bringUp("none");
    const before = client.link.counters().decoder.discardedBytes;
    b.write(new TextEncoder().encode("\r\nNO CARRIER\r\n"));
    await settle();
    // The next frame (its opening flag ends the text) still arrives.
    const ping = icmpEcho(SERVER_V4.localIPv4, SERVER_V4.peerIPv4, 9, 1, new TextEncoder().encode("after the text"));
    expect(server.link.sendIp(4, ping)).toBe(true);
    await settle();
    expect(client.ip.map((p) => [...p.packet])).toEqual([[...ping]]);
    expect(client.link.status().phase).toBe("open");
    expect(client.link.isStarted).toBe(true);
    expect(hasEvent(client.events, "ppp.dead")).toBe(false);
    expect(client.link.counters().decoder.discardedBytes).toBeGreaterThan(before);
    client.link.stop();
    server.link.stop();
  });

  test("the pipe closing is reported and takes the session down", async () => {
    const { client, server, b } = await bringUp("none");
    await b.close();
    await settle();
    const closed = client.events.find((e) => e.type === "ppp.link.closed");
    expect(closed).toBeDefined();
    expect(client.link.isStarted).toBe(false);
    expect(client.link.status().phase).toBe("dead");
    server.link.stop();
  });

  test("administrative close sends Terminate-Request; the peer sees it with our text", async () => {
    const { client, server, sched } = await bringUp("none");
    client.link.close("operator asked");
    for (let i = 0; i < 10; i++) {
      await settle(5);
      sched.advance(500);
    }
    const term = server.events.find((e) => e.type === "ppp.terminate");
    expect(term && "message" in term ? term.message : "").toBe("operator asked");
    expect(client.link.status().phase).toBe("dead");
    client.link.stop();
    server.link.stop();
  });

  test("garbage and corrupted frames on the line are counted, the link stays up", async () => {
    const { client, server, b } = await bringUp("none");
    const good = encodeFrame(PROTO.LCP, new Uint8Array([9, 42, 0, 8, 0, 0, 0, 0]), { accm: 0xffffffff, acfc: false, pfc: false, fcs32: false });
    const bad = good.slice();
    bad[5] = bad[5]! ^ 0x10;
    b.write(new Uint8Array([0x7e, 1, 2, 3, 0x7e, ...bad, 0x55, 0x7e]));
    await settle();
    const c = client.link.counters().decoder;
    expect(c.badFcs + c.runts).toBeGreaterThanOrEqual(2);
    expect(client.link.status().phase).toBe("open");
    client.link.stop();
    server.link.stop();
  });

  test("LCP timeout with a silent peer: lcp-timeout after Max-Configure, with manual time only", async () => {
    const sched = new ManualScheduler();
    const [a] = createPipePair();
    const client = makeLink(a, clientOptions("none"), sched);
    client.link.start();
    for (let i = 0; i < 20; i++) sched.advance(3000);
    const down = client.events.find((e) => e.type === "ppp.dead");
    expect(down && "cause" in down ? down.cause?.code : undefined).toBe("lcp-timeout");
    // 10 Configure-Requests (Max-Configure default) went out
    expect(client.link.counters().framesOut).toBe(10);
    client.link.stop();
  });

  test("framing on the wire: LCP always with defaults (ff 03, full ACCM), IP with negotiated ACFC/PFC/ACCM", async () => {
    const { client, server, b, sched } = await bringUp("none");
    const wire: number[] = [];
    b.onData((d) => wire.push(...d)); // what the client writes
    client.link.sendIp(4, icmpEcho("10.0.0.2", "10.0.0.1", 1, 1, new Uint8Array([0x00, 0x11, 0x13])));
    await settle();
    // LCP echo keep-alive is off by default here; ask for an LCP frame by closing.
    client.link.close("bye");
    await settle();
    sched.advance(10);
    const frames: number[][] = [];
    let cur: number[] = [];
    for (const x of wire) {
      if (x === 0x7e) {
        if (cur.length) frames.push(cur);
        cur = [];
      } else cur.push(x);
    }
    const ip = frames.find((f) => f[0] === 0x21);
    expect(ip).toBeDefined(); // ACFC + PFC: protocol 0x21 in one octet, no ff 03
    expect(ip!.includes(0x11)).toBe(true); // ACCM 0 negotiated: control characters go unescaped
    const lcp = frames.find((f) => f[0] === 0xff);
    expect(lcp?.slice(0, 4)).toEqual([0xff, 0x7d, 0x23, 0xc0]); // ff, escaped 03, c0 21
    expect(lcp?.[4]).toBe(0x21);
    server.link.stop();
    client.link.stop();
  });

  test("echo keep-alive: a peer that stops answering ends in peer-dead, driven by the link's one timer", async () => {
    const sched = new ManualScheduler();
    const [a, b] = createPipePair();
    const client = makeLink(a, { ...clientOptions("none"), echo: { intervalMs: 1000, failures: 3 } }, sched);
    const server = makeLink(b, serverOptions("none"), sched);
    server.link.start();
    client.link.start();
    for (let i = 0; i < 20 && !hasEvent(client.events, "ppp.open"); i++) {
      await settle(5);
      sched.advance(100);
    }
    expect(hasEvent(client.events, "ppp.open")).toBe(true);
    // While the server answers, echoes keep the link up.
    for (let i = 0; i < 5; i++) {
      sched.advance(1000);
      await settle(5);
    }
    expect(client.link.status().phase).toBe("open");
    expect(client.link.status().counters.echoRepliesReceived).toBeGreaterThan(0);
    server.link.stop(); // silent peer from now on
    for (let i = 0; i < 10; i++) {
      sched.advance(1000);
      await settle(5);
    }
    const down = client.events.find((e) => e.type === "ppp.dead");
    expect(down && "cause" in down ? down.cause?.code : undefined).toBe("peer-dead");
    client.link.stop();
    expect(sched.pendingCount()).toBe(0);
  });
});

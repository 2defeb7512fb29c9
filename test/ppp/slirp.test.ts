/**
 * Interoperability with slirp, a user-space PPP peer written by others, over
 * a real pty: cellkeep's PppLink + PppSession in the client role. Traffic goes
 * only to slirp's virtual network, which maps 10.0.2.2 to this host's loopback.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RealScheduler } from "../../src/core/clock.ts";
import { PcapBuffer } from "../../src/ppp/pcap.ts";
import { TCP, icmpEcho, parseIcmpEcho, parsePppPcap, parseTcp, parseUdp, tcp, udp } from "../support/ip.ts";
import { type LinkUnderTest, hasEvent, makeLink, waitFor } from "../support/ppp-pair.ts";
import { type SlirpPeer, slirpAvailable, startSlirp } from "../support/slirp.ts";

const HOST = "10.0.2.2";
const peers: SlirpPeer[] = [];
const links: LinkUnderTest[] = [];
const servers: { stop(): void }[] = [];

afterAll(async () => {
  for (const l of links) l.link.stop();
  for (const p of peers) await p.stop();
  for (const s of servers) s.stop();
});

const scheduler = new RealScheduler();

async function connect(auth?: { method: "pap" | "chap"; user: string; password: string }, password?: string) {
  const peer = startSlirp(auth ? { auth } : {});
  peers.push(peer);
  const pcap = new PcapBuffer();
  const opts = auth ? { role: "client" as const, auth: { method: auth.method, username: auth.user, password: password ?? auth.password } } : { role: "client" as const };
  const lut = makeLink(peer.pipe, opts, scheduler, pcap);
  links.push(lut);
  lut.link.start();
  return { peer, lut, pcap };
}

function diag(peer: SlirpPeer, lut: LinkUnderTest): string {
  return `slirp stderr: ${peer.stderr()}\nevents: ${lut.events.map((e) => JSON.stringify(e)).join("\n")}`;
}

describe.skipIf(!slirpAvailable())("slirp interop over a pty (client role)", () => {
  test("no auth: LCP, IPCP with 10.0.2.15 and DNS; ICMP, UDP and TCP round trips through slirp", async () => {
    const { peer, lut, pcap } = await connect();
    try {
      await waitFor(() => hasEvent(lut.events, "ppp.open") || hasEvent(lut.events, "ppp.dead"), 8000, "ppp.open");
    } catch (e) {
      throw new Error(`${e}\n${diag(peer, lut)}`);
    }
    expect(hasEvent(lut.events, "ppp.open")).toBe(true);
    const st = lut.link.status();
    expect(st.lcp).toBe("opened");
    expect(st.ipv4?.local).toBe("10.0.2.15");
    expect(st.ipv4?.dns.length).toBeGreaterThan(0);
    expect(st.ipv4?.dns[0]).not.toBe("0.0.0.0");
    const me = st.ipv4!.local;

    // ICMP echo to 10.0.2.2 (answered by slirp itself)
    const payload = new TextEncoder().encode("cellkeep-icmp");
    expect(lut.link.sendIp(4, icmpEcho(me, HOST, 0x4242, 1, payload))).toBe(true);
    await waitFor(() => lut.ip.some((p) => parseIcmpEcho(p.packet)?.type === 0), 3000, "ICMP echo reply");
    const reply = lut.ip.map((p) => parseIcmpEcho(p.packet)).find((r) => r?.type === 0)!;
    expect(reply.id).toBe(0x4242);
    expect(new TextDecoder().decode(reply.data)).toBe("cellkeep-icmp");

    // UDP to a loopback echo server, reached as 10.0.2.2:port
    const echo = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: { data: (sock, buf, port, addr) => void sock.send(new Uint8Array(buf).reverse(), port, addr) },
    });
    servers.push({ stop: () => echo.close() });
    const udpData = new TextEncoder().encode("ping over ppp");
    lut.link.sendIp(4, udp(me, 40000, HOST, echo.port, udpData));
    await waitFor(() => lut.ip.some((p) => parseUdp(p.packet)?.sport === echo.port), 3000, "UDP echo");
    const u = lut.ip.map((p) => parseUdp(p.packet)).find((x) => x?.sport === echo.port)!;
    expect(u.dport).toBe(40000);
    expect(new TextDecoder().decode(u.data)).toBe("ppp revo gnip");

    // TCP: a minimal client over raw IP to a loopback HTTP server
    const http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello through slirp\n") });
    servers.push({ stop: () => void http.stop(true) });
    const body = await httpGet(lut, me, HOST, http.port!);
    expect(body).toContain("HTTP/1.1 200");
    expect(body).toContain("hello through slirp");

    const c = lut.link.counters();
    expect(c.decoder.frames).toBeGreaterThan(5);
    expect(c.decoder.badFcs).toBe(0);
    // slirp offers CCP right after LCP opens: we answer with LCP Protocol-Reject.
    // It also offers VJ compression in IPCP: we Configure-Reject option 2.
    expect(st.counters.protocolRejectsSent).toBeGreaterThanOrEqual(1);
    const recs = parsePppPcap(pcap.bytes());
    expect(recs.some((r) => r.dir === "in" && r.protocol === 0x80fd)).toBe(true);
    expect(recs.some((r) => r.dir === "out" && r.protocol === 0xc021 && r.info[0] === 8 && r.info[4] === 0x80 && r.info[5] === 0xfd)).toBe(true);
    const vjReject = recs.find((r) => r.dir === "out" && r.protocol === 0x8021 && r.info[0] === 4);
    expect(vjReject?.info[4]).toBe(2);

    // Terminate-Request: slirp answers with Terminate-Ack right away
    lut.link.close("test done");
    await waitFor(() => lut.link.status().phase === "dead", 5000, "dead after close");
  });

  for (const method of ["pap", "chap"] as const) {
    test(`${method}: authenticates against slirp's secrets file, IPCP opens`, async () => {
      const creds = { method, user: "tsuser", password: "ts-pass-123" };
      const { peer, lut, pcap } = await connect(creds);
      try {
        await waitFor(() => hasEvent(lut.events, "ppp.open") || hasEvent(lut.events, "ppp.dead"), 8000, "ppp.open");
      } catch (e) {
        throw new Error(`${e}\n${diag(peer, lut)}`);
      }
      const st = lut.link.status();
      expect(st.auth).toMatchObject({ method, result: "success" });
      expect(st.ipv4?.local).toBe("10.0.2.15");
      expect(Buffer.from(pcap.bytes()).includes(Buffer.from(creds.password))).toBe(false);
      expect(JSON.stringify(lut.events)).not.toContain(creds.password);
    });
  }

  test("pap with a wrong password: auth-rejected, named in the down event", async () => {
    const creds = { method: "pap" as const, user: "tsuser", password: "right-pass" };
    const { peer, lut } = await connect(creds, "wrong-pass");
    try {
      await waitFor(() => hasEvent(lut.events, "ppp.dead"), 8000, "ppp.dead");
    } catch (e) {
      throw new Error(`${e}\n${diag(peer, lut)}`);
    }
    const down = lut.events.find((e) => e.type === "ppp.dead");
    expect(down && "cause" in down ? down.cause?.code : undefined).toBe("auth-rejected");
    expect(lut.link.status().auth?.result).toBe("failure");
  });
});

/** SYN, SYN-ACK, ACK, GET, read until FIN, ACK, FIN. Returns the response text. */
async function httpGet(lut: LinkUnderTest, src: string, dst: string, dport: number): Promise<string> {
  const sport = 41000 + Math.floor(Math.random() * 1000);
  const iss = 1000;
  let seq = iss;
  const segs = () => lut.ip.map((p) => parseTcp(p.packet)).filter((s) => s && s.sport === dport && s.dport === sport) as NonNullable<ReturnType<typeof parseTcp>>[];
  lut.link.sendIp(4, tcp({ src, dst, sport, dport, seq, ack: 0, flags: TCP.SYN, data: new Uint8Array(0), mss: 1400 }));
  await waitFor(() => segs().some((s) => (s.flags & (TCP.SYN | TCP.ACK)) === (TCP.SYN | TCP.ACK)), 3000, "SYN-ACK");
  const synAck = segs().find((s) => s.flags & TCP.SYN)!;
  expect(synAck.ack).toBe(iss + 1);
  seq = iss + 1;
  let rcvNext = (synAck.seq + 1) >>> 0;
  lut.link.sendIp(4, tcp({ src, dst, sport, dport, seq, ack: rcvNext, flags: TCP.ACK, data: new Uint8Array(0) }));
  const req = new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${dst}\r\nConnection: close\r\n\r\n`);
  lut.link.sendIp(4, tcp({ src, dst, sport, dport, seq, ack: rcvNext, flags: TCP.ACK | TCP.PSH, data: req }));
  seq += req.length;
  const chunks: Uint8Array[] = [];
  let finSeen = false;
  let handled = 0;
  const deadline = Date.now() + 5000;
  while (!finSeen && Date.now() < deadline) {
    const all = segs();
    for (; handled < all.length; handled++) {
      const s = all[handled]!;
      if (s.flags & TCP.SYN) continue;
      if (s.seq === rcvNext && s.data.length > 0) {
        chunks.push(s.data.slice());
        rcvNext = (rcvNext + s.data.length) >>> 0;
      }
      if (s.flags & TCP.FIN && s.seq + s.data.length === rcvNext) {
        rcvNext = (rcvNext + 1) >>> 0;
        finSeen = true;
      }
      lut.link.sendIp(4, tcp({ src, dst, sport, dport, seq, ack: rcvNext, flags: TCP.ACK, data: new Uint8Array(0) }));
    }
    await Bun.sleep(2);
  }
  expect(finSeen).toBe(true);
  // our FIN; slirp ACKs it
  lut.link.sendIp(4, tcp({ src, dst, sport, dport, seq, ack: rcvNext, flags: TCP.FIN | TCP.ACK, data: new Uint8Array(0) }));
  await waitFor(() => segs().some((s) => s.ack === seq + 1), 3000, "ACK of our FIN");
  return new TextDecoder().decode(Buffer.concat(chunks));
}

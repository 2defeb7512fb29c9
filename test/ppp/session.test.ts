/**
 * Two full sessions (client and server role) wired in memory, fake time.
 * wireguard-go tuntest / gVisor faketime style: no sleeps, no sockets.
 */
import { describe, expect, test } from "bun:test";
import type { PppSessionOptions } from "../../src/ppp/session.ts";
import { ncpsForPdpType, PppSession } from "../../src/ppp/session.ts";
import { CODE, emitPacket, parsePacket } from "../../src/ppp/packet.ts";
import { DEFAULT_FRAMING, PROTO } from "../../src/ppp/types.ts";
import { ofType, Pair, seededRandom, T0 } from "./session-harness.ts";

const SECRET = "correct-horse-battery";
const verifier = { secretFor: (u: string) => (u === "wwan" ? SECRET : undefined) };

function client(over: Partial<PppSessionOptions> = {}): PppSessionOptions {
  return {
    role: "client",
    auth: { method: "auto", username: "wwan", password: SECRET },
    random: seededRandom(11),
    ncps: ncpsForPdpType("IPV4V6"),
    ...over,
  };
}

function server(over: Partial<PppSessionOptions> = {}): PppSessionOptions {
  return {
    role: "server",
    auth: { method: "chap", verifier, name: "sim" },
    random: seededRandom(22),
    ncps: ncpsForPdpType("IPV4V6"),
    server: { localIPv4: "10.0.0.1", peerIPv4: "100.64.0.7", dns: ["10.0.0.53", "10.0.0.54"] },
    ...over,
  };
}

const phases = (p: Pair, side: "a" | "b" = "a") => ofType(side === "a" ? p.eventsA : p.eventsB, "ppp.phase").map((e) => e.to);
const downCause = (p: Pair, side: "a" | "b" = "a") => ofType(side === "a" ? p.eventsA : p.eventsB, "ppp.dead").at(-1)?.cause?.code;

describe("client against server, in memory", () => {
  test("CHAP, IPV4V6: reaches Open with addresses, DNS and link-local IPv6", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    expect(phases(p)).toEqual(["establish", "authenticate", "network", "open"]);
    expect(phases(p, "b")).toEqual(["establish", "authenticate", "network", "open"]);
    const st = p.a.status();
    expect(st.phase).toBe("open");
    expect(st.auth).toEqual({ method: "chap", result: "success", message: "Welcome" });
    expect(st.ipv4).toEqual({ local: "100.64.0.7", remote: "10.0.0.1", remotePlaceholder: false, dns: ["10.0.0.53", "10.0.0.54"] });
    expect(st.ipv6!.local).toMatch(/^fe80::/);
    expect(st.ipv6!.remote).toBe(p.b.status().ipv6!.local);
    expect(p.b.status().ipv4).toMatchObject({ local: "10.0.0.1", remote: "100.64.0.7" });
    expect(ofType(p.eventsB, "ppp.auth")[0]).toMatchObject({ role: "server", result: "success", peerName: "wwan" });
    expect(ofType(p.eventsA, "ppp.open")).toEqual([{ type: "ppp.open", at: T0, ipv4: true, ipv6: true }]);
    // Every automaton state change is an event.
    const lcpStates = ofType(p.eventsA, "ppp.fsm").filter((e) => e.protocol === "lcp").map((e) => e.to);
    expect(lcpStates).toEqual(["starting", "req-sent", "ack-sent", "opened"]);
  });

  test("events are plain JSON data with ppp.* types and the injected time", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    p.a.close("bye", p.now + 5);
    p.advance(10_000);
    const all = [...p.eventsA, ...p.eventsB];
    expect(all.length).toBeGreaterThan(20);
    expect(JSON.parse(JSON.stringify(all))).toEqual(all);
    for (const e of all) {
      expect(e.type.startsWith("ppp.")).toBe(true);
      expect(e.at).toBeGreaterThanOrEqual(T0);
      expect(e.at).toBeLessThanOrEqual(p.now);
    }
  });

  test("PAP on both sides", () => {
    const p = new Pair(client({ auth: { method: "pap", username: "wwan", password: SECRET } }), server({ auth: { method: "pap", verifier } }));
    p.openBoth();
    expect(p.a.status().phase).toBe("open");
    expect(p.a.status().auth).toEqual({ method: "pap", result: "success", message: "Login ok" });
    const papFrames = p.wire.filter((w) => w.frame.protocol === PROTO.PAP);
    expect(papFrames.length).toBe(2);
  });

  test("server asks CHAP, a PAP-only client Naks it to PAP, auth.method auto server follows", () => {
    const p = new Pair(client({ auth: { method: "pap", username: "wwan", password: SECRET } }), server({ auth: { method: "auto", verifier } }));
    p.openBoth();
    expect(p.a.status().phase).toBe("open");
    expect(p.b.status().auth?.method).toBe("pap");
    const naks = p.wire.filter((w) => w.from === "a" && w.frame.protocol === PROTO.LCP && w.frame.info[0] === CODE.CONF_NAK);
    expect(naks.length).toBe(1);
  });

  test("no authentication configured on either side: straight to Network", () => {
    const p = new Pair(client({ auth: { method: "none" } }), server({ auth: { method: "none" } }));
    p.openBoth();
    expect(phases(p)).toEqual(["establish", "network", "open"]);
  });

  test("wrong password: auth-rejected on both sides, link goes Dead", () => {
    const p = new Pair(client({ auth: { method: "auto", username: "wwan", password: "wrong" } }), server());
    p.openBoth();
    p.advance(10_000);
    expect(downCause(p)).toBe("auth-rejected");
    expect(downCause(p, "b")).toBe("auth-rejected");
    expect(p.a.status().phase).toBe("dead");
    expect(p.a.status().lastCause?.detail).toContain("Access denied");
    expect(ofType(p.eventsA, "ppp.auth")[0]).toMatchObject({ result: "failure", message: "Access denied" });
  });

  test("secrets never appear in events or status", () => {
    for (const pw of [SECRET, "wrong-password-xyz"]) {
      const p = new Pair(client({ auth: { method: "pap", username: "wwan", password: pw } }), server({ auth: { method: "pap", verifier } }));
      p.openBoth();
      p.advance(10_000);
      const text = JSON.stringify([p.eventsA, p.eventsB, p.a.status(), p.b.status()]);
      expect(text).not.toContain(pw);
    }
  });

  test("IP packets flow both ways once the NCPs are open", () => {
    const p = new Pair(client(), server());
    const v4 = Uint8Array.from([0x45, 0, 0, 20, ...new Array(16).fill(7)]);
    expect(p.a.sendIp(4, v4, p.now)).toBe(false); // not open yet
    p.openBoth();
    expect(p.a.sendIp(4, v4, p.now)).toBe(true);
    expect(p.b.sendIp(6, Uint8Array.of(0x60, 1, 2, 3), p.now)).toBe(true);
    p.pump();
    expect(p.ipB).toEqual([{ version: 4, packet: v4 }]);
    expect(p.ipA).toEqual([{ version: 6, packet: Uint8Array.of(0x60, 1, 2, 3) }]);
    const c = p.a.status().counters;
    expect(c.byClass.ipv4.framesOut).toBe(1);
    expect(c.byClass.ipv4.bytesOut).toBe(20);
    expect(c.byClass.ipv6.framesIn).toBe(1);
    expect(c.ipDropped).toBe(1);
  });

  test("a packet larger than the peer's MRU is refused", () => {
    const p = new Pair(client(), server({ mru: 1000 }));
    p.openBoth();
    expect(p.a.status().peerMru).toBe(1000);
    expect(p.a.sendIp(4, new Uint8Array(1001), p.now)).toBe(false);
    expect(p.a.sendIp(4, new Uint8Array(1000), p.now)).toBe(true);
  });

  test("framing: defaults before LCP opens, the peer's requests after", () => {
    const p = new Pair(client(), server({ accm: 0x000a0000 }));
    p.a.open(p.now);
    expect(p.a.txFraming()).toEqual(DEFAULT_FRAMING);
    expect(p.a.rxFraming()).toEqual({ accm: 0xffffffff, mru: 1500, fcs32: false });
    p.b.open(p.now);
    p.pump();
    expect(p.a.txFraming()).toEqual({ accm: 0x000a0000, acfc: true, pfc: true, fcs32: false });
    expect(p.a.rxFraming()).toEqual({ accm: 0, mru: 1500, fcs32: false });
    const q = new Pair(client({ compression: false }), server());
    q.openBoth();
    expect(q.b.txFraming()).toMatchObject({ acfc: false, pfc: false, accm: 0 });
  });
});

describe("network protocols and pdp_type", () => {
  test("pdp_type IP runs only IPCP; the peer's IPV6CP gets a Protocol-Reject and IPv4 still opens", () => {
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server());
    p.openBoth();
    expect(p.a.status().phase).toBe("open");
    expect(p.a.status().counters.protocolRejectsSent).toBe(1);
    expect(ofType(p.eventsB, "ppp.ncp.down")[0]).toMatchObject({ protocol: "ipv6cp", tolerated: true });
    expect(ofType(p.eventsB, "ppp.open")[0]).toMatchObject({ ipv4: true, ipv6: false });
  });

  test("pdp_type IPV6 runs only IPV6CP", () => {
    const p = new Pair(client({ ncps: ncpsForPdpType("IPV6") }), server({ ncps: ncpsForPdpType("IPV6") }));
    p.openBoth();
    expect(p.a.status()).toMatchObject({ phase: "open", ipcp: "initial", ipv4: null });
    expect(p.a.status().ipv6).not.toBeNull();
  });

  test("IPV4V6 with IPCP failing but IPv6 up: Open, and the IPCP failure is reported", () => {
    // A server with no address pool Acks the client's 0.0.0.0: the client gets no IPv4 address.
    const p = new Pair(client(), server({ server: undefined }));
    p.openBoth();
    p.advance(20_000);
    expect(p.a.status().phase).toBe("open");
    const nd = ofType(p.eventsA, "ppp.ncp.down");
    expect(nd[0]).toMatchObject({ protocol: "ipcp", tolerated: true });
    expect(nd[0]!.cause.code).toBe("ipcp-no-address");
    expect(ofType(p.eventsA, "ppp.open")[0]).toMatchObject({ ipv4: false, ipv6: true });
  });

  test("IP only and no address: the link fails with ipcp-no-address", () => {
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server({ server: undefined, ncps: ncpsForPdpType("IP") }));
    p.openBoth();
    p.advance(20_000);
    expect(downCause(p)).toBe("ipcp-no-address");
    expect(p.a.status().phase).toBe("dead");
  });

  test("the network Naks our address request with 0.0.0.0 every time: ipcp-no-address, not a timeout", () => {
    // The server's own IPCP must outlast the client's, or it would end LCP first.
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server({ ncps: ncpsForPdpType("IP"), ncp: { maxConfigure: 1000 } }));
    const naks: Array<{ protocol: number; info: Uint8Array }> = [];
    p.drop = (from, f) => {
      if (f.protocol !== PROTO.IPCP) return false;
      // Answer each of the client's Configure-Requests (code 1) with a Configure-Nak
      // (RFC 1332 §3.3) carrying IP-Address 0.0.0.0, as a network with no address to give does.
      if (from === "a" && f.info[0] === 1) naks.push({ protocol: PROTO.IPCP, info: Uint8Array.of(3, f.info[1]!, 0, 10, 3, 6, 0, 0, 0, 0) });
      return true;
    };
    p.openBoth();
    for (let i = 0; i < 20 && p.a.status().phase !== "dead"; i++) {
      for (const n of naks.splice(0)) p.a.input(n, p.now);
      p.advance(3_000);
    }
    expect(downCause(p)).toBe("ipcp-no-address");
  });

  test("IPCP never answered: ipcp-timeout after Max-Configure", () => {
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server({ ncps: ncpsForPdpType("IP") }));
    p.drop = (from, f) => from === "b" && f.protocol === PROTO.IPCP;
    p.openBoth();
    p.advance(29_000);
    expect(p.a.status().phase).toBe("network");
    p.advance(10_000);
    expect(downCause(p)).toBe("ipcp-timeout");
  });

  test("a peer that never states its own address gets the placeholder remote", () => {
    // Server without its own address (like many modems): its ConfReq has no IP-Address option.
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server({ ncps: ncpsForPdpType("IP"), server: { localIPv4: "", peerIPv4: "100.64.0.9" } }));
    p.openBoth();
    expect(p.a.status().ipv4).toEqual({ local: "100.64.0.9", remote: "10.64.64.64", remotePlaceholder: true, dns: [] });
    expect(ofType(p.eventsA, "ppp.ipcp.up")[0]!.remotePlaceholder).toBe(true);
  });

  test("the peer renegotiating IPCP takes the link back to Network, then Open again", () => {
    const p = new Pair(client({ ncps: ncpsForPdpType("IP") }), server({ ncps: ncpsForPdpType("IP") }));
    p.openBoth();
    p.b.input({ protocol: PROTO.LCP, info: new Uint8Array(0) }, p.now); // noise, ignored
    // A fresh IPCP Configure-Request from the server while Opened (RFC 1661: tld,scr,sca/8).
    p.a.input({ protocol: PROTO.IPCP, info: emitPacket({ code: CODE.CONF_REQ, id: 200, data: Uint8Array.of(3, 6, 10, 0, 0, 1) }) }, p.now);
    expect(p.a.status().phase).toBe("network");
    expect(p.a.sendIp(4, Uint8Array.of(0x45), p.now)).toBe(false);
    p.pump();
    expect(p.a.status().phase).toBe("open");
    expect(phases(p).slice(-2)).toEqual(["network", "open"]);
    expect(ofType(p.eventsA, "ppp.open").length).toBe(2);
  });

  test("NCP packets before the Network phase are discarded (RFC 1661 §3.4)", () => {
    const s = new PppSession(client());
    s.open(T0);
    s.input({ protocol: PROTO.IPCP, info: emitPacket({ code: CODE.CONF_REQ, id: 1, data: new Uint8Array(0) }) }, T0);
    expect(s.drain().frames.filter((f) => f.protocol === PROTO.IPCP)).toEqual([]);
    expect(s.status().counters.discarded).toBe(1);
  });
});

describe("failures and their causes", () => {
  test("no peer at all: lcp-timeout after 10 Configure-Requests", () => {
    const s = new PppSession(client());
    s.open(T0);
    let now = T0;
    const frames: number[] = [];
    const events = [];
    for (;;) {
      const d = s.drain();
      frames.push(...d.frames.map((f) => f.protocol));
      events.push(...d.events);
      const next = s.nextDeadline();
      if (next === null) break;
      now = next;
      s.poll(now);
    }
    expect(frames.length).toBe(10);
    expect(now - T0).toBe(30_000);
    const down = ofType(events, "ppp.dead")[0]!;
    expect(down.cause?.code).toBe("lcp-timeout");
    expect(down.cause?.hint).toContain("LCP");
    expect(s.status().phase).toBe("dead");
  });

  test("peer terminates after auth, before IPCP opens: terminated-after-auth with the peer's text", () => {
    const p = new Pair(client(), server());
    p.drop = (_from, f) => f.protocol === PROTO.IPCP || f.protocol === PROTO.IPV6CP;
    p.openBoth();
    expect(p.a.status().phase).toBe("network");
    p.b.close("PDP context not activated", p.now);
    p.pump();
    p.advance(10_000);
    expect(downCause(p)).toBe("terminated-after-auth");
    expect(p.a.status().peerTerminateMessage).toBe("PDP context not activated");
    expect(p.a.status().lastCause?.detail).toContain("PDP context not activated");
    expect(ofType(p.eventsA, "ppp.terminate")[0]).toMatchObject({ by: "peer", message: "PDP context not activated" });
    expect(phases(p)).toEqual(["establish", "authenticate", "network", "terminate", "dead"]);
    // The closing side ended administratively: no failure cause.
    expect(ofType(p.eventsB, "ppp.dead")[0]!.cause).toBeUndefined();
  });

  test("peer terminates an open link: terminated-by-peer", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    p.b.close("session timeout", p.now);
    p.advance(10_000);
    expect(downCause(p)).toBe("terminated-by-peer");
    expect(p.a.status().phase).toBe("dead");
  });

  test("echo keep-alive: answered echoes keep the link, a silent peer ends in peer-dead", () => {
    const echo = { intervalMs: 10_000, failures: 3 };
    const p = new Pair(client({ echo }), server());
    p.openBoth();
    p.advance(60_000);
    const c = p.a.status().counters;
    expect(c.echoRequestsSent).toBe(6);
    expect(c.echoRepliesReceived).toBe(6);
    expect(p.a.status().phase).toBe("open");
    // The server goes silent right after answering the echo at +60 s.
    p.drop = (from) => from === "b";
    const silentAt = p.now;
    // Requests at +10, +20, +30 s; the third gets min(10 s, 1 s) of grace.
    p.advance(30_999);
    expect(p.a.status().phase).toBe("open");
    expect(ofType(p.eventsA, "ppp.dead")).toEqual([]);
    p.advance(1);
    // Dead at once: no Terminate-Request retransmissions to wait through.
    expect(p.a.status().phase).toBe("dead");
    const down = ofType(p.eventsA, "ppp.dead")[0]!;
    expect(down.cause?.code).toBe("peer-dead");
    expect(down.cause?.detail).toContain("3 LCP Echo-Requests");
    expect(down.at - silentAt).toBe(31_000);
    expect(p.a.status().counters.echoRequestsSent).toBe(9);
    expect(ofType(p.eventsA, "ppp.notice").filter((e) => e.what === "echo-missed").length).toBe(3);
  });

  test("echo status: a request within its grace is not missed; unanswered ones count once it passes", () => {
    const echo = { intervalMs: 10_000, failures: 5 };
    const p = new Pair(client({ echo }), server());
    p.openBoth();
    p.advance(30_000);
    expect(p.a.status().echo).toMatchObject({ open: true, missed: 0 });
    expect(p.a.status().echo.rttMs).toBe(0); // in memory the reply comes in the same millisecond
    p.drop = (from) => from === "b";
    p.advance(10_000); // one request sent, no reply yet: within its 1 s grace
    expect(p.a.status().echo.missed).toBe(0);
    p.advance(999);
    expect(p.a.status().echo.missed).toBe(0);
    p.advance(1);
    expect(p.a.status().echo.missed).toBe(1);
    p.advance(9_000); // the second request: the first is missed, the second in grace
    expect(p.a.status().echo.missed).toBe(1);
    p.advance(1_000);
    expect(p.a.status().echo.missed).toBe(2);
    expect(p.a.status().counters.echoRequestsSent).toBe(5);
  });

  test("echo skipWhenBusy: no echoes while frames arrive", () => {
    const p = new Pair(client({ echo: { intervalMs: 5_000, failures: 2, skipWhenBusy: true } }), server());
    p.openBoth();
    for (let i = 0; i < 30; i++) {
      p.b.sendIp(4, Uint8Array.of(0x45, 0, 0, 4), p.now);
      p.pump();
      p.advance(1_000);
    }
    expect(p.a.status().counters.echoRequestsSent).toBe(0);
    p.advance(20_000);
    expect(p.a.status().counters.echoRequestsSent).toBe(4);
    expect(p.a.status().phase).toBe("open");
  });

  test("echo skipWhenBusy: the first request goes exactly one interval after the last frame", () => {
    const p = new Pair(client({ echo: { intervalMs: 5_000, failures: 2, skipWhenBusy: true } }), server());
    p.openBoth();
    for (let i = 0; i < 12; i++) {
      p.b.sendIp(4, Uint8Array.of(0x45, 0, 0, 4), p.now);
      p.pump();
      p.advance(1_000);
    }
    // The last frame came 1 s ago.
    p.advance(3_999);
    expect(p.a.status().counters.echoRequestsSent).toBe(0);
    p.advance(1);
    expect(p.a.status().counters.echoRequestsSent).toBe(1);
  });

  test("the same session can be opened again after a failure (redial)", () => {
    const p = new Pair(client(), server());
    p.drop = () => true;
    p.a.open(p.now);
    p.advance(40_000);
    expect(downCause(p)).toBe("lcp-timeout");
    p.drop = () => false;
    p.openBoth();
    expect(p.a.status().phase).toBe("open");
    p.a.lowerDown(p.now);
    p.b.lowerDown(p.now);
    p.pump();
    p.openBoth();
    expect(p.a.status().phase).toBe("open");
    expect(p.a.status().ipv4?.local).toBe("100.64.0.7");
    expect(ofType(p.eventsA, "ppp.open").length).toBe(2);
  });

  test("carrier lost: carrier-lost, Dead at once, no frames sent", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    p.a.lowerDown(p.now);
    const d = p.a.drain();
    expect(d.frames).toEqual([]);
    expect(ofType(d.events, "ppp.dead")[0]!.cause?.code).toBe("carrier-lost");
    expect(p.a.status().phase).toBe("dead");
    expect(p.a.nextDeadline()).toBeNull();
  });

  test("administrative close: Terminate-Request with our reason, no failure cause", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    p.a.close("cellkeep stopping", p.now);
    p.pump();
    p.advance(5_000); // the server waits one Restart period after its Terminate-Ack (zrc)
    const tr = p.wire.filter((w) => w.from === "a" && w.frame.protocol === PROTO.LCP && w.frame.info[0] === CODE.TERM_REQ);
    expect(new TextDecoder().decode(parsePacket(tr[0]!.frame.info)!.data)).toBe("cellkeep stopping");
    expect(p.a.status().phase).toBe("dead");
    expect(ofType(p.eventsA, "ppp.dead")[0]).toMatchObject({ reason: "cellkeep stopping" });
    expect(ofType(p.eventsA, "ppp.dead")[0]!.cause).toBeUndefined();
    expect(downCause(p, "b")).toBe("terminated-by-peer");
    expect(p.a.nextDeadline()).toBeNull();
  });

  test("a looped line (our frames come straight back): loopback", () => {
    const s = new PppSession(client({ loopbackLimit: 3 }));
    s.open(T0);
    let now = T0;
    const events = [];
    for (let i = 0; i < 200; i++) {
      const d = s.drain();
      events.push(...d.events);
      if (d.frames.length === 0) {
        const next = s.nextDeadline();
        if (next === null) break;
        now = next;
        s.poll(now);
        continue;
      }
      for (const f of d.frames) s.input(f, now);
    }
    expect(ofType(events, "ppp.dead")[0]?.cause?.code).toBe("loopback");
  });

  test("server demands auth, client has none configured: auth-rejected on the server", () => {
    const p = new Pair(client({ auth: { method: "none" } }), server());
    p.openBoth();
    p.advance(10_000);
    expect(downCause(p, "b")).toBe("auth-rejected");
  });

  test("server gets no answer to CHAP challenges: auth-timeout", () => {
    const p = new Pair(client(), server());
    p.drop = (from, f) => from === "a" && f.protocol === PROTO.CHAP;
    p.openBoth();
    p.advance(40_000);
    expect(downCause(p, "b")).toBe("auth-timeout");
  });
});

describe("robustness", () => {
  test("unknown protocols (CCP) are Protocol-Rejected while Open, never fatal", () => {
    const p = new Pair(client(), server());
    p.openBoth();
    p.a.input({ protocol: PROTO.CCP, info: emitPacket({ code: 1, id: 1, data: new Uint8Array(0) }) }, p.now);
    const d = p.a.drain();
    const rej = d.frames.find((f) => f.protocol === PROTO.LCP)!;
    const pkt = parsePacket(rej.info)!;
    expect(pkt.code).toBe(CODE.PROTO_REJ);
    expect([...pkt.data.subarray(0, 2)]).toEqual([0x80, 0xfd]);
    expect(p.a.status().counters.protocolRejectsSent).toBe(1);
    expect(p.a.status().phase).toBe("open");
    // The peer seeing our reject keeps its link too.
    p.b.input(rej, p.now);
    expect(p.b.status().counters.protocolRejectsReceived).toBe(1);
    expect(p.b.status().phase).toBe("open");
  });

  test("random frames never throw and keep the session consistent", () => {
    const rnd = seededRandom(99);
    const p = new Pair(client(), server());
    p.openBoth();
    const protos = [PROTO.LCP, PROTO.PAP, PROTO.CHAP, PROTO.IPCP, PROTO.IPV6CP, PROTO.IPV4, PROTO.CCP, 0x1234];
    for (let i = 0; i < 20_000; i++) {
      const r = rnd(3);
      const len = r[0]! % 24;
      const info = rnd(len);
      if (len >= 4 && r[1]! & 1) {
        info[2] = 0;
        info[3] = len; // valid Length so the packet reaches the option parsers
        info[0] = (r[2]! % 14) + 1;
      }
      p.a.input({ protocol: protos[r[1]! % protos.length]!, info }, p.now);
      p.a.drain();
    }
    const st = p.a.status();
    expect(st.counters.discarded + st.counters.protocolRejectsSent).toBeGreaterThan(0);
    expect(["establish", "authenticate", "network", "open", "terminate", "dead"]).toContain(st.phase);
    expect(ofType(p.a.drain().events, "ppp.notice").filter((e) => e.detail.startsWith("internal error"))).toEqual([]);
  });

  test("nextDeadline is the earliest of the timers, null when idle", () => {
    const s = new PppSession(client());
    expect(s.nextDeadline()).toBeNull();
    s.open(T0);
    expect(s.nextDeadline()).toBe(T0 + 3000);
  });
});

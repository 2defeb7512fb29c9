/** IPCP (RFC 1332, RFC 1877 DNS) and IPV6CP (RFC 5072) option handling. */
import { describe, expect, test } from "bun:test";
import { Fsm } from "../../src/ppp/fsm.ts";
import { Ipcp, IPCP_OPT, type IpcpConfig } from "../../src/ppp/ipcp.ts";
import { CODE, type ConfigOption, type ControlPacket, emitOptions, emitPacket, parseOptions, parsePacket } from "../../src/ppp/packet.ts";
import { formatIpv4, parseIpv4 } from "../../src/core/ipv4.ts";
import { PROTO } from "../../src/ppp/types.ts";

const ip = (s: string) => parseIpv4(s)!;
const opt = (type: number, addr: string): ConfigOption => ({ type, data: ip(addr) });

function rig(cfg: Partial<IpcpConfig> = {}) {
  const sent: ControlPacket[] = [];
  const log: string[] = [];
  const ipcp = new Ipcp(
    { role: "client", requestDns: true, placeholderRemote: "10.64.64.64", ...cfg },
    { up: () => log.push("up"), down: () => log.push("down"), started: () => {}, finished: () => log.push("finished") },
  );
  const fsm = new Fsm(PROTO.IPCP, ipcp, { send: (_p, b) => sent.push(parsePacket(b)!), stateChanged: () => {} });
  fsm.open(0);
  fsm.up(0);
  return { ipcp, fsm, sent, log };
}
type Rig = ReturnType<typeof rig>;
const lastOf = (r: Rig, code: number) => r.sent.filter((p) => p.code === code).at(-1)!;
const optsOf = (p: ControlPacket) => parseOptions(p.data)!.map((o) => ({ type: o.type, addr: formatIpv4(o.data) }));
const peerReq = (r: Rig, id: number, opts: ConfigOption[]) => r.fsm.input(emitPacket({ code: CODE.CONF_REQ, id, data: emitOptions(opts) }), 1);
const answer = (r: Rig, code: number, opts: ConfigOption[]) =>
  r.fsm.input(emitPacket({ code, id: lastOf(r, CODE.CONF_REQ).id, data: emitOptions(opts) }), 1);
const ackOurs = (r: Rig) => {
  const q = lastOf(r, CODE.CONF_REQ);
  r.fsm.input(emitPacket({ code: CODE.CONF_ACK, id: q.id, data: q.data }), 1);
};

describe("IPCP client", () => {
  test("asks for 0.0.0.0 and DNS 0.0.0.0, takes the Nak'd values (slirp's answers)", () => {
    const r = rig();
    expect(optsOf(r.sent[0]!)).toEqual([
      { type: 3, addr: "0.0.0.0" },
      { type: 129, addr: "0.0.0.0" },
      { type: 131, addr: "0.0.0.0" },
    ]);
    answer(r, CODE.CONF_NAK, [opt(3, "10.0.2.15"), opt(129, "192.168.1.1")]);
    expect(optsOf(lastOf(r, CODE.CONF_REQ))).toEqual([
      { type: 3, addr: "10.0.2.15" },
      { type: 129, addr: "192.168.1.1" },
      { type: 131, addr: "0.0.0.0" },
    ]);
    ackOurs(r);
    peerReq(r, 1, [opt(3, "10.0.2.2")]);
    expect(r.fsm.state).toBe("opened");
    expect(r.ipcp.result()).toEqual({ local: "10.0.2.15", remote: "10.0.2.2", remotePlaceholder: false, dns: ["192.168.1.1"] });
  });

  test("VJ compression in the peer's request is Rejected; the rest then Acked", () => {
    const r = rig();
    const vj: ConfigOption = { type: IPCP_OPT.COMPRESSION, data: Uint8Array.of(0x00, 0x2d, 0x0f, 0x01) };
    peerReq(r, 4, [opt(3, "10.0.2.2"), vj]);
    const rej = lastOf(r, CODE.CONF_REJ);
    expect(rej.id).toBe(4);
    expect(parseOptions(rej.data)).toEqual([vj]);
    peerReq(r, 5, [opt(3, "10.0.2.2")]);
    expect(lastOf(r, CODE.CONF_ACK).id).toBe(5);
  });

  test("a peer that asks for 0.0.0.0 for itself is Nak'd with a non-zero address (slirp)", () => {
    const r = rig();
    peerReq(r, 6, [opt(3, "0.0.0.0")]);
    const nak = lastOf(r, CODE.CONF_NAK);
    expect(optsOf(nak)).toEqual([{ type: 3, addr: "10.64.64.64" }]);
    peerReq(r, 7, [opt(3, "10.64.64.64")]);
    expect(lastOf(r, CODE.CONF_ACK).id).toBe(7);
  });

  test("a peer that never states its address gets the documented placeholder, not a failure", () => {
    const r = rig();
    answer(r, CODE.CONF_NAK, [opt(3, "100.70.1.2")]);
    ackOurs(r);
    peerReq(r, 1, []);
    expect(r.fsm.state).toBe("opened");
    expect(r.ipcp.result()).toMatchObject({ local: "100.70.1.2", remote: "10.64.64.64", remotePlaceholder: true });
  });

  test("DNS options Rejected by the peer are no longer asked for", () => {
    const r = rig();
    answer(r, CODE.CONF_REJ, [opt(129, "0.0.0.0"), opt(131, "0.0.0.0")]);
    expect(optsOf(lastOf(r, CODE.CONF_REQ))).toEqual([{ type: 3, addr: "0.0.0.0" }]);
  });

  test("a DNS Nak repeating 0.0.0.0 (no DNS available) stops the DNS request instead of looping", () => {
    const r = rig();
    answer(r, CODE.CONF_NAK, [opt(3, "10.1.2.3"), opt(129, "0.0.0.0"), opt(131, "0.0.0.0")]);
    expect(optsOf(lastOf(r, CODE.CONF_REQ))).toEqual([{ type: 3, addr: "10.1.2.3" }]);
    ackOurs(r);
    peerReq(r, 1, [opt(3, "10.0.0.1")]);
    expect(r.ipcp.result()).toMatchObject({ local: "10.1.2.3", dns: [] });
  });

  test("an Ack of 0.0.0.0 leaves no local address (the session reports ipcp-no-address)", () => {
    const r = rig();
    ackOurs(r);
    peerReq(r, 1, [opt(3, "10.0.0.1")]);
    expect(r.fsm.state).toBe("opened");
    expect(r.ipcp.result().local).toBe("0.0.0.0");
  });

  test("the peer asking us for DNS or NBNS is Rejected", () => {
    const r = rig();
    peerReq(r, 2, [opt(3, "10.0.0.1"), opt(129, "0.0.0.0"), opt(130, "0.0.0.0")]);
    expect(optsOf(lastOf(r, CODE.CONF_REJ)).map((o) => o.type)).toEqual([129, 130]);
  });

  test("a bad-length address option is Rejected, a bad-length Nak discarded", () => {
    const r = rig();
    peerReq(r, 2, [{ type: 3, data: Uint8Array.of(1, 2) }]);
    expect(lastOf(r, CODE.CONF_REJ).id).toBe(2);
    const n = r.sent.length;
    answer(r, CODE.CONF_NAK, [{ type: 3, data: Uint8Array.of(1, 2) }]);
    expect(r.sent.length).toBe(n);
  });
});

describe("IPCP server", () => {
  const server = { role: "server" as const, serverLocal: "10.0.0.1", serverPeer: "10.0.0.2", serverDns: ["10.0.0.53", "10.0.0.54"] };

  test("asks for its own address only", () => {
    const r = rig(server);
    expect(optsOf(r.sent[0]!)).toEqual([{ type: 3, addr: "10.0.0.1" }]);
  });

  test("Naks the client's 0.0.0.0 and DNS to the configured values, then Acks", () => {
    const r = rig(server);
    peerReq(r, 1, [opt(3, "0.0.0.0"), opt(129, "0.0.0.0"), opt(131, "0.0.0.0")]);
    expect(optsOf(lastOf(r, CODE.CONF_NAK))).toEqual([
      { type: 3, addr: "10.0.0.2" },
      { type: 129, addr: "10.0.0.53" },
      { type: 131, addr: "10.0.0.54" },
    ]);
    peerReq(r, 2, [opt(3, "10.0.0.2"), opt(129, "10.0.0.53"), opt(131, "10.0.0.54")]);
    expect(lastOf(r, CODE.CONF_ACK).id).toBe(2);
    ackOurs(r);
    expect(r.fsm.state).toBe("opened");
    expect(r.ipcp.result()).toEqual({ local: "10.0.0.1", remote: "10.0.0.2", remotePlaceholder: false, dns: ["10.0.0.53", "10.0.0.54"] });
  });

  test("a client insisting on another address is Nak'd until Max-Failure, then Rejected", () => {
    const r = rig(server);
    for (let i = 0; i < 6; i++) peerReq(r, 10 + i, [opt(3, "192.168.7.7")]);
    const codes = r.sent.filter((p) => p.code === CODE.CONF_NAK || p.code === CODE.CONF_REJ).map((p) => p.code);
    expect(codes).toEqual([3, 3, 3, 3, 3, 4]);
  });

  test("secondary DNS not configured: Rejected", () => {
    const r = rig({ ...server, serverDns: ["10.0.0.53"] });
    peerReq(r, 1, [opt(3, "10.0.0.2"), opt(129, "10.0.0.53"), opt(131, "0.0.0.0")]);
    expect(optsOf(lastOf(r, CODE.CONF_REJ)).map((o) => o.type)).toEqual([131]);
  });
});

/** IPV6CP (RFC 5072): Interface-Identifier negotiation and link-local addresses. */
import { describe, expect, test } from "bun:test";
import { Fsm } from "../../src/ppp/fsm.ts";
import { Ipv6cp, linkLocalFromIid } from "../../src/ppp/ipv6cp.ts";
import { CODE, type ControlPacket, emitOptions, emitPacket, parseOptions, parsePacket } from "../../src/ppp/packet.ts";
import { PROTO } from "../../src/ppp/types.ts";

function rig(iids: number[][]) {
  let i = 0;
  const random = (n: number) => Uint8Array.from(iids[i++ % iids.length]!).slice(0, n);
  const sent: ControlPacket[] = [];
  const v6 = new Ipv6cp(random, { up: () => {}, down: () => {}, started: () => {}, finished: () => {} });
  const fsm = new Fsm(PROTO.IPV6CP, v6, { send: (_p, b) => sent.push(parsePacket(b)!), stateChanged: () => {} });
  fsm.open(0);
  fsm.up(0);
  return { v6, fsm, sent };
}

const A = [0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];
const B = [0x0a, 0, 0, 0, 0, 0, 0, 0x01];
const C = [0, 0, 0, 0, 0, 0, 0x12, 0x34];
const iidReq = (id: number, iid: number[]) => emitPacket({ code: CODE.CONF_REQ, id, data: emitOptions([{ type: 1, data: Uint8Array.from(iid) }]) });

describe("IPV6CP", () => {
  test("link-local address text", () => {
    expect(linkLocalFromIid(Uint8Array.from(A))).toBe("fe80::211:22ff:fe33:4455");
    expect(linkLocalFromIid(Uint8Array.from(C))).toBe("fe80::0:0:0:1234");
  });

  test("asks for a random non-zero identifier; acks a distinct peer identifier; opens", () => {
    const r = rig([A, B]);
    const ours = r.sent[0]!;
    expect([...parseOptions(ours.data)![0]!.data]).toEqual(A);
    r.fsm.input(iidReq(1, B), 1);
    expect(r.sent.at(-1)!.code).toBe(CODE.CONF_ACK);
    r.fsm.input(emitPacket({ code: CODE.CONF_ACK, id: ours.id, data: ours.data }), 2);
    expect(r.fsm.state).toBe("opened");
    expect(r.v6.result()).toEqual({ local: "fe80::211:22ff:fe33:4455", remote: "fe80::a00:0:0:1" });
  });

  test("a peer identifier equal to ours, or zero, is Nak'd with a different non-zero one", () => {
    const r = rig([A, B]);
    r.fsm.input(iidReq(1, A), 1);
    const nak = r.sent.at(-1)!;
    expect(nak.code).toBe(CODE.CONF_NAK);
    expect([...parseOptions(nak.data)![0]!.data]).toEqual(B);
    r.fsm.input(iidReq(2, [0, 0, 0, 0, 0, 0, 0, 0]), 1);
    expect(r.sent.at(-1)!.code).toBe(CODE.CONF_NAK);
    expect(parseOptions(r.sent.at(-1)!.data)![0]!.data.some((x) => x !== 0)).toBe(true);
  });

  test("a Nak'd identifier is adopted (the network assigns it)", () => {
    const r = rig([A, B]);
    r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id: r.sent[0]!.id, data: emitOptions([{ type: 1, data: Uint8Array.from(C) }]) }), 1);
    expect([...parseOptions(r.sent.at(-1)!.data)![0]!.data]).toEqual(C);
  });

  test("IPv6-Compression-Protocol is Rejected", () => {
    const r = rig([A]);
    r.fsm.input(emitPacket({ code: CODE.CONF_REQ, id: 3, data: emitOptions([{ type: 2, data: Uint8Array.of(0, 0x61) }]) }), 1);
    expect(r.sent.at(-1)!.code).toBe(CODE.CONF_REJ);
  });
});

/** LCP option negotiation (RFC 1661 §6) and the LCP-only codes. */
import { describe, expect, test } from "bun:test";
import { Fsm } from "../../src/ppp/fsm.ts";
import { type AuthMethodSetting, Lcp, LCP_OPT } from "../../src/ppp/lcp.ts";
import { CODE, type ConfigOption, type ControlPacket, emitOptions, emitPacket, parseOptions, parsePacket, readU16, readU32, u16, u32 } from "../../src/ppp/packet.ts";
import { PROTO } from "../../src/ppp/types.ts";

interface Rig {
  lcp: Lcp;
  fsm: Fsm;
  sent: ControlPacket[];
  log: string[];
}

function rig(role: "client" | "server", method: AuthMethodSetting, magics: number[] = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555, 0x66666666, 0x77777777]): Rig {
  const sent: ControlPacket[] = [];
  const log: string[] = [];
  let mi = 0;
  const lcp = new Lcp(
    { role, authMethod: method, mru: 1500, accm: 0, compression: true, loopbackLimit: 3, random32: () => magics[mi++ % magics.length]! },
    {
      up: () => log.push("up"),
      down: () => log.push("down"),
      started: () => {},
      finished: () => log.push("finished"),
      echoReply: (d) => log.push(`echo-reply:${d.length}`),
      protocolRejected: (p) => log.push(`proto-rej:${p.toString(16)}`),
      codeRejected: (c) => log.push(`code-rej:${c}`),
      loopback: () => log.push("loopback"),
      notice: (w) => log.push(w),
    },
  );
  const fsm = new Fsm(PROTO.LCP, lcp, { send: (_p, b) => sent.push(parsePacket(b)!), stateChanged: () => {} });
  lcp.fsm = fsm;
  fsm.open(0);
  fsm.up(0);
  return { lcp, fsm, sent, log };
}

const confReq = (id: number, opts: ConfigOption[]) => emitPacket({ code: CODE.CONF_REQ, id, data: emitOptions(opts) });
const authOpt = (proto: number, algo?: number): ConfigOption => ({
  type: LCP_OPT.AUTH,
  data: algo === undefined ? u16(proto) : Uint8Array.of(proto >> 8, proto & 0xff, algo),
});
const last = (r: Rig) => r.sent.at(-1)!;
const lastOpts = (r: Rig) => parseOptions(last(r).data)!;

/** Answer our outstanding request with an Ack and feed the peer's request; LCP should open. */
function openWith(r: Rig, peerOpts: ConfigOption[]): void {
  const ours = r.sent.find((p) => p.code === CODE.CONF_REQ)!;
  r.fsm.input(emitPacket({ code: CODE.CONF_ACK, id: ours.id, data: ours.data }), 1);
  r.fsm.input(confReq(100, peerOpts), 1);
}

describe("our Configure-Request", () => {
  test("client asks ACCM 0, Magic, PFC, ACFC and no auth", () => {
    const r = rig("client", "auto");
    const req = r.sent[0]!;
    expect(req.code).toBe(CODE.CONF_REQ);
    expect(parseOptions(req.data)!.map((o) => o.type)).toEqual([LCP_OPT.ACCM, LCP_OPT.MAGIC, LCP_OPT.PFC, LCP_OPT.ACFC]);
    expect(readU32(parseOptions(req.data)![1]!.data)).toBe(0x11111111);
  });

  test("server demands CHAP-MD5 for chap/auto and PAP for pap", () => {
    for (const [m, want] of [["chap", [0xc2, 0x23, 5]], ["auto", [0xc2, 0x23, 5]], ["pap", [0xc0, 0x23]]] as const) {
      const r = rig("server", m);
      const a = parseOptions(r.sent[0]!.data)!.find((o) => o.type === LCP_OPT.AUTH)!;
      expect([...a.data]).toEqual([...want]);
    }
  });
});

describe("Authentication-Protocol in the peer's request (client role)", () => {
  const cases: [AuthMethodSetting, ConfigOption, "ack" | number[] | "rej"][] = [
    ["pap", authOpt(PROTO.PAP), "ack"],
    ["pap", authOpt(PROTO.CHAP, 5), [0xc0, 0x23]], // we Nak CHAP to PAP (ppp-project/ppp #83 shape)
    ["chap", authOpt(PROTO.CHAP, 5), "ack"],
    ["chap", authOpt(PROTO.PAP), [0xc2, 0x23, 5]],
    ["auto", authOpt(PROTO.PAP), "ack"],
    ["auto", authOpt(PROTO.CHAP, 5), "ack"],
    ["auto", authOpt(PROTO.CHAP, 0x80), [0xc2, 0x23, 5]], // MS-CHAP: offer CHAP-MD5
    ["auto", authOpt(PROTO.CHAP, 0x81), [0xc2, 0x23, 5]], // MS-CHAPv2
    ["none", authOpt(PROTO.PAP), "rej"],
  ];
  for (const [method, opt, want] of cases) {
    test(`method ${method}, peer asks ${[...opt.data].map((b) => b.toString(16)).join(" ")}`, () => {
      const r = rig("client", method);
      r.fsm.input(confReq(9, [opt, { type: LCP_OPT.MAGIC, data: u32(0xabcdef01) }]), 1);
      const reply = last(r);
      expect(reply.id).toBe(9);
      if (want === "ack") {
        expect(reply.code).toBe(CODE.CONF_ACK);
        expect(r.lcp.his.auth).toBe(readU16(opt.data) === PROTO.PAP ? "pap" : "chap");
      } else if (want === "rej") {
        expect(reply.code).toBe(CODE.CONF_REJ);
        expect(lastOpts(r).map((o) => o.type)).toEqual([LCP_OPT.AUTH]);
      } else {
        expect(reply.code).toBe(CODE.CONF_NAK);
        expect(lastOpts(r)).toEqual([{ type: LCP_OPT.AUTH, data: Uint8Array.from(want) }]);
      }
    });
  }

  test("server never authenticates itself: the client's auth request is Rejected", () => {
    const r = rig("server", "chap");
    r.fsm.input(confReq(9, [authOpt(PROTO.PAP)]), 1);
    expect(last(r).code).toBe(CODE.CONF_REJ);
  });
});

describe("server: the peer Naks our auth protocol", () => {
  test("auto follows a Nak from CHAP to PAP", () => {
    const r = rig("server", "auto");
    r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id: r.sent[0]!.id, data: emitOptions([authOpt(PROTO.PAP)]) }), 1);
    const a = lastOpts(r).find((o) => o.type === LCP_OPT.AUTH)!;
    expect([...a.data]).toEqual([0xc0, 0x23]);
  });

  test("strict chap keeps asking, then gives up so LCP converges and the refusal is known", () => {
    const r = rig("server", "chap");
    for (let i = 0; i < 5; i++) {
      r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id: last(r).id, data: emitOptions([authOpt(PROTO.PAP)]) }), 1);
    }
    expect(r.lcp.authRefused).toBe(true);
    expect(lastOpts(r).some((o) => o.type === LCP_OPT.AUTH)).toBe(false);
  });

  test("a Reject of the auth option marks the refusal", () => {
    const r = rig("server", "chap");
    const ours = r.sent[0]!;
    const auth = parseOptions(ours.data)!.filter((o) => o.type === LCP_OPT.AUTH);
    r.fsm.input(emitPacket({ code: CODE.CONF_REJ, id: ours.id, data: emitOptions(auth) }), 1);
    expect(r.lcp.authRefused).toBe(true);
  });
});

describe("other options", () => {
  test("MRU below 128 is Nak'd to 128; unknown options Rejected; ACCM, PFC, ACFC accepted", () => {
    const r = rig("client", "auto");
    r.fsm.input(confReq(3, [{ type: LCP_OPT.MRU, data: u16(64) }]), 1);
    expect(last(r).code).toBe(CODE.CONF_NAK);
    expect(readU16(lastOpts(r)[0]!.data)).toBe(128);
    r.fsm.input(confReq(4, [{ type: 13, data: Uint8Array.of(6) }, { type: LCP_OPT.MRU, data: u16(1400) }]), 1);
    expect(last(r).code).toBe(CODE.CONF_REJ);
    expect(lastOpts(r).map((o) => o.type)).toEqual([13]);
    r.fsm.input(confReq(5, [
      { type: LCP_OPT.MRU, data: u16(1400) },
      { type: LCP_OPT.ACCM, data: u32(0x000a0000) },
      { type: LCP_OPT.PFC, data: new Uint8Array(0) },
      { type: LCP_OPT.ACFC, data: new Uint8Array(0) },
    ]), 1);
    expect(last(r).code).toBe(CODE.CONF_ACK);
    expect(r.lcp.his).toMatchObject({ mru: 1400, accm: 0x000a0000, pfc: true, acfc: true });
  });

  test("Naks of our MRU/ACCM/magic are taken, Rejects of PFC/ACFC drop them", () => {
    const r = rig("client", "auto");
    const id = r.sent[0]!.id;
    r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id, data: emitOptions([{ type: LCP_OPT.ACCM, data: u32(0x000a0000) }, { type: LCP_OPT.MAGIC, data: u32(1) }]) }), 1);
    const o = lastOpts(r);
    expect(readU32(o.find((x) => x.type === LCP_OPT.ACCM)!.data)).toBe(0x000a0000);
    expect(readU32(o.find((x) => x.type === LCP_OPT.MAGIC)!.data)).toBe(0x22222222);
    r.fsm.input(emitPacket({ code: CODE.CONF_REJ, id: last(r).id, data: emitOptions([{ type: LCP_OPT.PFC, data: new Uint8Array(0) }, { type: LCP_OPT.ACFC, data: new Uint8Array(0) }]) }), 1);
    expect(lastOpts(r).map((x) => x.type)).toEqual([LCP_OPT.ACCM, LCP_OPT.MAGIC]);
  });

  test("a Nak of PFC or ACFC drops it as a Reject does (a flag has no other value)", () => {
    const r = rig("client", "auto");
    r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id: r.sent[0]!.id, data: emitOptions([{ type: LCP_OPT.PFC, data: new Uint8Array(0) }]) }), 1);
    expect(lastOpts(r).map((x) => x.type)).toEqual([LCP_OPT.ACCM, LCP_OPT.MAGIC, LCP_OPT.ACFC]);
    r.fsm.input(emitPacket({ code: CODE.CONF_NAK, id: last(r).id, data: emitOptions([{ type: LCP_OPT.ACFC, data: new Uint8Array(0) }]) }), 1);
    expect(lastOpts(r).map((x) => x.type)).toEqual([LCP_OPT.ACCM, LCP_OPT.MAGIC]);
  });

  test("a Reject listing an option we never sent is discarded", () => {
    const r = rig("client", "auto");
    const n = r.sent.length;
    r.fsm.input(emitPacket({ code: CODE.CONF_REJ, id: r.sent[0]!.id, data: emitOptions([{ type: 13, data: Uint8Array.of(6) }]) }), 1);
    expect(r.sent.length).toBe(n);
  });
});

describe("Magic-Number loop-back (RFC 1661 §6.4)", () => {
  test("our magic in the peer's request is Nak'd with a new number", () => {
    const r = rig("client", "auto");
    r.fsm.input(confReq(5, [{ type: LCP_OPT.MAGIC, data: u32(0x11111111) }]), 1);
    expect(last(r).code).toBe(CODE.CONF_NAK);
    expect(readU32(lastOpts(r)[0]!.data)).not.toBe(0x11111111);
    expect(r.log).toContain("magic-collision");
    expect(r.log).not.toContain("loopback");
  });

  test("a looped line (everything we send comes back) is detected", () => {
    const r = rig("client", "auto");
    for (let i = 0; i < 50 && !r.log.includes("loopback"); i++) {
      const out = r.sent.splice(0);
      for (const p of out) r.fsm.input(emitPacket(p), 1 + i);
      if (out.length === 0) r.fsm.poll(3000 * (i + 1));
    }
    expect(r.log).toContain("loopback");
    expect(r.fsm.state).not.toBe("opened");
  });
});

describe("LCP-only codes", () => {
  test("Echo-Request in Opened is answered with our magic; Echo-Reply is reported", () => {
    const r = rig("client", "auto");
    openWith(r, [{ type: LCP_OPT.MAGIC, data: u32(0xabcdef01) }]);
    expect(r.fsm.state).toBe("opened");
    r.fsm.input(emitPacket({ code: CODE.ECHO_REQ, id: 7, data: Uint8Array.of(0xab, 0xcd, 0xef, 0x01, 9, 9) }), 2);
    const rep = last(r);
    expect(rep.code).toBe(CODE.ECHO_REP);
    expect(rep.id).toBe(7);
    expect([...rep.data]).toEqual([0x11, 0x11, 0x11, 0x11, 9, 9]);
    r.fsm.input(emitPacket({ code: CODE.ECHO_REP, id: 1, data: u32(0xabcdef01) }), 3);
    expect(r.log).toContain("echo-reply:4");
  });

  test("Echo-Request before Opened is ignored", () => {
    const r = rig("client", "auto");
    const n = r.sent.length;
    r.fsm.input(emitPacket({ code: CODE.ECHO_REQ, id: 7, data: u32(5) }), 2);
    expect(r.sent.length).toBe(n);
  });

  test("Discard-Request, Identification and Time-Remaining are tolerated, not Code-Rejected", () => {
    const r = rig("client", "auto");
    openWith(r, []);
    const n = r.sent.length;
    r.fsm.input(emitPacket({ code: CODE.DISCARD_REQ, id: 1, data: u32(0) }), 2);
    r.fsm.input(emitPacket({ code: CODE.IDENTIFICATION, id: 2, data: Uint8Array.of(0, 0, 0, 0, 0x51, 0x75) }), 2);
    r.fsm.input(emitPacket({ code: CODE.TIME_REMAINING, id: 3, data: Uint8Array.of(0, 0, 0, 0, 0, 0, 0x0e, 0x10) }), 2);
    expect(r.sent.length).toBe(n);
    expect(r.log).toContain("identification");
    expect(r.log).toContain("time-remaining");
    expect(r.fsm.state).toBe("opened");
  });

  test("Protocol-Reject of CCP is reported and not fatal; of LCP it is", () => {
    const r = rig("client", "auto");
    openWith(r, []);
    r.fsm.input(emitPacket({ code: CODE.PROTO_REJ, id: 4, data: Uint8Array.of(0x80, 0xfd, 1, 1, 0, 4) }), 2);
    expect(r.log).toContain("proto-rej:80fd");
    expect(r.fsm.state).toBe("opened");
    r.fsm.input(emitPacket({ code: CODE.PROTO_REJ, id: 5, data: Uint8Array.of(0xc0, 0x21) }), 3);
    expect(r.fsm.state).toBe("stopping");
  });

  test("a Code-Reject of Echo-Request turns echoes off but keeps the link", () => {
    const r = rig("client", "auto");
    openWith(r, []);
    r.fsm.input(emitPacket({ code: CODE.CODE_REJ, id: 4, data: Uint8Array.of(CODE.ECHO_REQ, 1, 0, 8, 0, 0, 0, 0) }), 2);
    expect(r.lcp.echoSupported).toBe(false);
    expect(r.fsm.state).toBe("opened");
  });

  test("unknown LCP codes are Code-Rejected", () => {
    const r = rig("client", "auto");
    openWith(r, []);
    r.fsm.input(emitPacket({ code: 14, id: 4, data: new Uint8Array(0) }), 2);
    expect(last(r).code).toBe(CODE.CODE_REJ);
    expect(r.fsm.state).toBe("opened");
  });
});

describe("Max-Failure (RFC 1661 §4.6, §5.4)", () => {
  test("after Max-Failure Naks the Reject carries the peer's option unchanged, not our suggestion", () => {
    const r = rig("client", "auto");
    const tooSmall: ConfigOption = { type: LCP_OPT.MRU, data: u16(64) };
    const answers: ControlPacket[] = [];
    for (let id = 1; id <= 7; id++) {
      r.fsm.input(confReq(id, [tooSmall]), 1);
      answers.push(last(r));
    }
    const naks = answers.filter((p) => p.code === CODE.CONF_NAK);
    const rejs = answers.filter((p) => p.code === CODE.CONF_REJ);
    expect(naks.length).toBeGreaterThan(0);
    expect(rejs.length).toBeGreaterThan(0);
    // The Nak suggests the minimum MRU; the Reject returns the peer's 64 as it was sent.
    const suggested = parseOptions(naks[0]!.data)![0]!;
    expect(suggested.type).toBe(LCP_OPT.MRU);
    expect(readU16(suggested.data)).toBeGreaterThan(64);
    expect(parseOptions(rejs[0]!.data)).toEqual([tooSmall]);
  });
});

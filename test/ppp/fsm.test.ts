/** Behaviour of the automaton over time: counters, timers, Max-Failure, discards. */
import { describe, expect, test } from "bun:test";
import { Fsm, type OptionHandler, type RequestVerdict } from "../../src/ppp/fsm.ts";
import { CODE, type ConfigOption, emitOptions, emitPacket, parseOptions, parsePacket, type ControlPacket } from "../../src/ppp/packet.ts";

class Handler implements OptionHandler {
  calls: string[] = [];
  verdict: RequestVerdict = { kind: "ack", options: [] };
  rejectIfDisagreeSeen: boolean[] = [];
  resetCi() {
    this.calls.push("reset");
  }
  buildRequest(): ConfigOption[] {
    return [{ type: 1, data: Uint8Array.of(5, 220) }];
  }
  ackReceived() {
    this.calls.push("ack");
  }
  nakReceived() {
    this.calls.push("nak");
    return true;
  }
  rejectReceived() {
    this.calls.push("rej");
    return true;
  }
  checkRequest(_o: ConfigOption[], rejectIfDisagree: boolean): RequestVerdict {
    this.rejectIfDisagreeSeen.push(rejectIfDisagree);
    if (this.verdict.kind === "nak" && rejectIfDisagree) return { kind: "rej", options: this.verdict.options };
    return this.verdict;
  }
  up() {
    this.calls.push("up");
  }
  down() {
    this.calls.push("down");
  }
  started() {
    this.calls.push("started");
  }
  finished() {
    this.calls.push("finished");
  }
}

function setup(timers = {}) {
  const h = new Handler();
  const sent: ControlPacket[] = [];
  const states: string[] = [];
  const discards: string[] = [];
  const fsm = new Fsm(0x8021, h, {
    send: (_p, b) => sent.push(parsePacket(b)!),
    stateChanged: (_f, to) => states.push(to),
    discarded: (w) => discards.push(w),
  }, timers);
  return { h, sent, states, fsm, discards };
}

const pkt = (code: number, id: number, data: Uint8Array = new Uint8Array(0)) => emitPacket({ code, id, data });

describe("Restart timer and counters (RFC 1661 §4.6)", () => {
  test("Max-Configure: 10 Configure-Requests 3 s apart, then This-Layer-Finished", () => {
    const { fsm, sent, h } = setup();
    fsm.open(0);
    fsm.up(0);
    expect(fsm.state).toBe("req-sent");
    for (let t = 0; t <= 60_000; t += 500) fsm.poll(t);
    const reqs = sent.filter((p) => p.code === CODE.CONF_REQ);
    expect(reqs.length).toBe(10);
    expect(fsm.state).toBe("stopped");
    expect(h.calls.at(-1)).toBe("finished");
    expect(fsm.deadline).toBeNull();
    // Each retransmission has a new identifier.
    expect(new Set(reqs.map((r) => r.id)).size).toBe(10);
  });

  test("the timer is configurable", () => {
    const { fsm, sent } = setup({ restartMs: 1000, maxConfigure: 3 });
    fsm.open(0);
    fsm.up(0);
    expect(fsm.deadline).toBe(1000);
    fsm.poll(999);
    expect(sent.length).toBe(1);
    fsm.poll(1000);
    expect(sent.length).toBe(2);
    fsm.poll(2000);
    fsm.poll(3000);
    expect(sent.length).toBe(3);
    expect(fsm.state).toBe("stopped");
  });

  test("Max-Terminate: 2 Terminate-Requests then finished", () => {
    const { fsm, sent, h } = setup();
    fsm.open(0);
    fsm.up(0);
    fsm.close("bye", 10);
    expect(fsm.state).toBe("closing");
    for (let t = 10; t < 20_000; t += 1000) fsm.poll(t);
    const terms = sent.filter((p) => p.code === CODE.TERM_REQ);
    expect(terms.length).toBe(2);
    expect(new TextDecoder().decode(terms[0]!.data)).toBe("bye");
    expect(fsm.state).toBe("closed");
    expect(h.calls.at(-1)).toBe("finished");
  });

  test("peer Terminate-Request in Opened: Terminate-Ack, one Restart period, then finished (zrc)", () => {
    const { fsm, sent, h } = setup();
    fsm.open(0);
    fsm.up(0);
    const req = sent[0]!;
    fsm.input(pkt(CODE.CONF_ACK, req.id, req.data), 1);
    fsm.input(pkt(CODE.CONF_REQ, 40, new Uint8Array(0)), 2);
    expect(fsm.state).toBe("opened");
    fsm.input(pkt(CODE.TERM_REQ, 41, new TextEncoder().encode("going")), 5);
    expect(sent.at(-1)!.code).toBe(CODE.TERM_ACK);
    expect(sent.at(-1)!.id).toBe(41);
    expect(fsm.state).toBe("stopping");
    fsm.poll(3004);
    expect(fsm.state).toBe("stopping");
    fsm.poll(3005);
    expect(fsm.state).toBe("stopped");
    expect(h.calls).toContain("down");
    expect(h.calls.at(-1)).toBe("finished");
  });
});

describe("Configure-Ack/Nak/Reject checks (RFC 1661 §5.2–5.4)", () => {
  test("an Ack with a wrong identifier or different options is discarded", () => {
    const { fsm, sent, discards } = setup();
    fsm.open(0);
    fsm.up(0);
    const req = sent[0]!;
    fsm.input(pkt(CODE.CONF_ACK, (req.id + 1) & 0xff, req.data), 1);
    fsm.input(pkt(CODE.CONF_ACK, req.id, emitOptions([{ type: 1, data: Uint8Array.of(5, 221) }])), 1);
    expect(fsm.state).toBe("req-sent");
    expect(discards.length).toBe(2);
    fsm.input(pkt(CODE.CONF_ACK, req.id, req.data), 2);
    expect(fsm.state).toBe("ack-rcvd");
  });

  test("Nak restarts the counter and sends a new request at once", () => {
    const { fsm, sent, h } = setup();
    fsm.open(0);
    fsm.up(0);
    fsm.poll(3000);
    fsm.poll(6000);
    expect(fsm.restartCounter).toBe(7);
    fsm.input(pkt(CODE.CONF_NAK, sent.at(-1)!.id, emitOptions([{ type: 1, data: Uint8Array.of(2, 0) }])), 6001);
    expect(h.calls).toContain("nak");
    expect(sent.at(-1)!.code).toBe(CODE.CONF_REQ);
    expect(fsm.restartCounter).toBe(9);
    expect(fsm.deadline).toBe(9001);
  });

  test("Max-Failure: after 5 Naks the handler is told to Reject instead", () => {
    const { fsm, sent, h } = setup();
    h.verdict = { kind: "nak", options: [{ type: 3, data: Uint8Array.of(1, 2, 3, 4) }] };
    fsm.open(0);
    fsm.up(0);
    for (let i = 0; i < 7; i++) fsm.input(pkt(CODE.CONF_REQ, 50 + i, emitOptions([{ type: 3, data: new Uint8Array(4) }])), 1 + i);
    const answers = sent.filter((p) => p.code === CODE.CONF_NAK || p.code === CODE.CONF_REJ).map((p) => p.code);
    expect(answers).toEqual([3, 3, 3, 3, 3, 4, 4]);
    expect(h.rejectIfDisagreeSeen).toEqual([false, false, false, false, false, true, true]);
  });

  test("a peer that Naks forever cannot spin the automaton: it ends in a timeout", () => {
    const { fsm, sent } = setup();
    fsm.open(0);
    fsm.up(0);
    let t = 0;
    for (let i = 0; i < 200; i++) {
      const last = sent.filter((p) => p.code === CODE.CONF_REQ).at(-1)!;
      fsm.input(pkt(CODE.CONF_NAK, last.id, emitOptions([{ type: 1, data: Uint8Array.of(1, 0) }])), t);
      t += 100;
      fsm.poll(t);
    }
    for (; t < 100_000; t += 1000) fsm.poll(t);
    expect(sent.filter((p) => p.code === CODE.CONF_REQ).length).toBeLessThan(40);
    expect(fsm.state).toBe("stopped");
  });

  test("Code-Reject of a configure code is catastrophic, of another code not", () => {
    const a = setup();
    a.fsm.open(0);
    a.fsm.up(0);
    a.fsm.input(pkt(CODE.CODE_REJ, 9, Uint8Array.of(CODE.ECHO_REQ, 1, 0, 8, 0, 0, 0, 0)), 1);
    expect(a.fsm.state).toBe("req-sent");
    a.fsm.input(pkt(CODE.CODE_REJ, 9, Uint8Array.of(CODE.CONF_REQ, 1, 0, 4)), 2);
    expect(a.fsm.state).toBe("stopped");
  });

  test("unknown codes get a Code-Reject carrying the packet", () => {
    const { fsm, sent } = setup();
    fsm.open(0);
    fsm.up(0);
    fsm.input(pkt(0x42, 3, Uint8Array.of(1, 2)), 1);
    const cj = sent.at(-1)!;
    expect(cj.code).toBe(CODE.CODE_REJ);
    expect([...cj.data]).toEqual([0x42, 3, 0, 6, 1, 2]);
  });

  test("packets before the lower layer is up, and garbage, are discarded", () => {
    const { fsm, sent, discards } = setup();
    fsm.input(pkt(CODE.CONF_REQ, 1), 0);
    expect(sent.length).toBe(0);
    fsm.open(0);
    fsm.up(0);
    fsm.input(Uint8Array.of(1, 2), 0);
    fsm.input(Uint8Array.of(1, 2, 0, 7, 1, 9, 0), 0); // option runs past the end
    expect(discards.length).toBe(3);
    expect(sent.length).toBe(1);
  });

  test("Configure-Request in Closed is answered with Terminate-Ack (RFC 1661 §4.3 sta/2)", () => {
    const { fsm, sent } = setup();
    fsm.open(0);
    fsm.close("x", 0);
    fsm.up(0);
    expect(fsm.state).toBe("closed");
    fsm.input(pkt(CODE.CONF_REQ, 77), 1);
    expect(sent.at(-1)!.code).toBe(CODE.TERM_ACK);
  });

  test("crossed negotiation completes: both sides open", () => {
    const a = setup();
    const b = setup();
    a.fsm.open(0);
    b.fsm.open(0);
    a.fsm.up(0);
    b.fsm.up(0);
    for (let i = 0; i < 10; i++) {
      const fa = a.sent.splice(0);
      const fb = b.sent.splice(0);
      for (const p of fa) b.fsm.input(emitPacket(p), 1);
      for (const p of fb) a.fsm.input(emitPacket(p), 1);
    }
    expect(a.fsm.state).toBe("opened");
    expect(b.fsm.state).toBe("opened");
    expect(a.h.calls.filter((c) => c === "up").length).toBe(1);
    expect(parseOptions(emitOptions(a.h.buildRequest()))).not.toBeNull();
  });
});

describe("duplicate answers", () => {
  test("a second Ack for the same request does not tear an Opened link down (pppd/lwIP seen_ack)", () => {
    const { fsm, sent, h } = setup();
    fsm.open(0);
    fsm.up(0);
    const req = sent[0]!;
    fsm.input(pkt(CODE.CONF_REQ, 40), 1);
    fsm.input(pkt(CODE.CONF_ACK, req.id, req.data), 2);
    expect(fsm.state).toBe("opened");
    fsm.input(pkt(CODE.CONF_ACK, req.id, req.data), 3);
    fsm.input(pkt(CODE.CONF_NAK, req.id, new Uint8Array(0)), 3);
    expect(fsm.state).toBe("opened");
    expect(h.calls.filter((c) => c === "down")).toEqual([]);
  });
});

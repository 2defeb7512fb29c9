/** CHAP-MD5 (RFC 1994) in both roles, under fake time. */
import { describe, expect, test } from "bun:test";
import type { AuthOutcome } from "../../src/ppp/auth.ts";
import { CHAP_CODE, ChapClient, ChapServer, chapMd5Response, emitChapValue, parseChapValue } from "../../src/ppp/chap.ts";
import { type ControlPacket, emitPacket, parsePacket } from "../../src/ppp/packet.ts";
import { seededRandom } from "./session-harness.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const users = { secretFor: (u: string) => (u === "alice" ? "secretpw" : undefined) };

function host() {
  const sent: ControlPacket[] = [];
  const done: AuthOutcome[] = [];
  return { sent, done, h: { send: (b: Uint8Array) => sent.push(parsePacket(b)!), done: (o: AuthOutcome) => done.push(o) } };
}

describe("RFC 1994 §4.1 response value = MD5(Identifier || secret || Challenge)", () => {
  // Expected digests computed independently with coreutils md5sum over the
  // concatenated octets (e.g. printf '\x01secretpw\x00\x01...\x0f' | md5sum).
  test("vector 1: id 1, secret 'secretpw', challenge 00..0f", () => {
    const ch = Uint8Array.from({ length: 16 }, (_, i) => i);
    expect(hex(chapMd5Response(1, enc.encode("secretpw"), ch))).toBe("14387a359eedb3730fa69f934822b10e");
  });
  test("vector 2: id 0xa7, secret 'hunter2', challenge deadbeef", () => {
    expect(hex(chapMd5Response(0xa7, enc.encode("hunter2"), Uint8Array.of(0xde, 0xad, 0xbe, 0xef)))).toBe("fc1fae4191c4bf706af973ba2b8db9cf");
  });
  test("vector 3: id 0, empty secret, challenge ff", () => {
    expect(hex(chapMd5Response(0, new Uint8Array(0), Uint8Array.of(0xff)))).toBe("d07d34efac6328007ad67c7e0a985e00");
  });
});

describe("CHAP client", () => {
  test("answers a Challenge with the MD5 response and its name; Success ends it", () => {
    const c = host();
    const client = new ChapClient("alice", "secretpw", c.h);
    client.start(0);
    const ch = Uint8Array.from({ length: 16 }, (_, i) => i);
    client.input(emitPacket({ code: CHAP_CODE.CHALLENGE, id: 1, data: emitChapValue(ch, enc.encode("net")) }), 5);
    const r = c.sent[0]!;
    expect(r.code).toBe(CHAP_CODE.RESPONSE);
    expect(r.id).toBe(1);
    const v = parseChapValue(r.data)!;
    expect(hex(v.value)).toBe("14387a359eedb3730fa69f934822b10e");
    expect(new TextDecoder().decode(v.name)).toBe("alice");
    client.input(emitPacket({ code: CHAP_CODE.SUCCESS, id: 1, data: enc.encode("Welcome to net.") }), 6);
    expect(c.done).toEqual([{ result: "success", message: "Welcome to net." }]);
  });

  test("Failure carries the peer's message", () => {
    const c = host();
    const client = new ChapClient("alice", "bad", c.h);
    client.start(0);
    client.input(emitPacket({ code: CHAP_CODE.CHALLENGE, id: 9, data: emitChapValue(Uint8Array.of(1, 2, 3), new Uint8Array(0)) }), 1);
    client.input(emitPacket({ code: CHAP_CODE.FAILURE, id: 9, data: enc.encode("E=691 R=0") }), 2);
    expect(c.done).toEqual([{ result: "failure", message: "E=691 R=0" }]);
  });

  test("no Challenge within waitMs: timeout", () => {
    const c = host();
    const client = new ChapClient("alice", "x", c.h, { waitMs: 10_000 });
    client.start(0);
    client.poll(9_999);
    expect(c.done).toEqual([]);
    client.poll(10_000);
    expect(c.done[0]!.result).toBe("timeout");
  });

  test("re-challenge after success is answered again (RFC 1994 §4.1)", () => {
    const c = host();
    const client = new ChapClient("alice", "secretpw", c.h);
    client.start(0);
    client.input(emitPacket({ code: CHAP_CODE.CHALLENGE, id: 1, data: emitChapValue(Uint8Array.of(1), new Uint8Array(0)) }), 1);
    client.input(emitPacket({ code: CHAP_CODE.SUCCESS, id: 1, data: new Uint8Array(0) }), 2);
    client.input(emitPacket({ code: CHAP_CODE.CHALLENGE, id: 2, data: emitChapValue(Uint8Array.of(2), new Uint8Array(0)) }), 60_000);
    expect(c.sent.length).toBe(2);
    expect(c.sent[1]!.id).toBe(2);
    expect(c.done.length).toBe(1);
  });

  test("malformed challenges are ignored", () => {
    const c = host();
    const client = new ChapClient("alice", "x", c.h);
    client.start(0);
    client.input(Uint8Array.of(1, 1, 0, 5, 0), 1); // Value-Size 0
    client.input(Uint8Array.of(1, 1, 0, 6, 9, 1), 1); // Value-Size past the end
    expect(c.sent).toEqual([]);
  });
});

describe("CHAP authenticator", () => {
  function run(user: string, pass: string) {
    const c = host();
    const s = host();
    const client = new ChapClient(user, pass, c.h);
    const server = new ChapServer(users, s.h, seededRandom(7), "cellkeep-sim");
    client.start(0);
    server.start(0);
    for (let i = 0; i < 5; i++) {
      for (const p of s.sent.splice(0)) client.input(emitPacket(p), 1);
      for (const p of c.sent.splice(0)) server.input(emitPacket(p), 1);
    }
    return { c, s };
  }

  test("right secret: Success both sides", () => {
    const { c, s } = run("alice", "secretpw");
    expect(c.done).toEqual([{ result: "success", message: "Welcome" }]);
    expect(s.done).toEqual([{ result: "success", message: "Welcome", peerName: "alice" }]);
  });

  test("wrong secret and unknown user: Failure, secrets absent from outcomes", () => {
    for (const [u, p] of [["alice", "nope"], ["bob", "secretpw"]] as const) {
      const { c, s } = run(u, p);
      expect(c.done).toEqual([{ result: "failure", message: "Access denied" }]);
      expect(s.done[0]!.result).toBe("failure");
      expect(JSON.stringify([c.done, s.done])).not.toContain("secretpw");
    }
  });

  test("Challenge carries 16 random octets and our name; retransmitted every 3 s, 10 times, then timeout", () => {
    const s = host();
    const server = new ChapServer(users, s.h, seededRandom(7), "cellkeep-sim");
    server.start(0);
    const v = parseChapValue(s.sent[0]!.data)!;
    expect(v.value.length).toBe(16);
    expect(new TextDecoder().decode(v.name)).toBe("cellkeep-sim");
    for (let t = 0; t <= 40_000; t += 500) server.poll(t);
    expect(s.sent.length).toBe(10);
    expect(s.sent.every((p) => p.code === CHAP_CODE.CHALLENGE && p.id === s.sent[0]!.id)).toBe(true);
    expect(s.done).toEqual([{ result: "timeout", message: "no answer to 10 CHAP Challenges" }]);
  });

  test("a Response with a stale id is ignored; a repeated Response after Success gets Success again", () => {
    const c = host();
    const s = host();
    const client = new ChapClient("alice", "secretpw", c.h);
    const server = new ChapServer(users, s.h, seededRandom(3), "x");
    client.start(0);
    server.start(0);
    const ch = s.sent.shift()!;
    client.input(emitPacket(ch), 1);
    const resp = c.sent.shift()!;
    server.input(emitPacket({ ...resp, id: (resp.id + 1) & 0xff }), 2);
    expect(s.sent).toEqual([]);
    server.input(emitPacket(resp), 3);
    server.input(emitPacket(resp), 4);
    expect(s.sent.map((p) => p.code)).toEqual([CHAP_CODE.SUCCESS, CHAP_CODE.SUCCESS]);
    expect(s.done.length).toBe(1);
  });
});

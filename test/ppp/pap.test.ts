/** PAP (RFC 1334 §2) in both roles, under fake time. */
import { describe, expect, test } from "bun:test";
import type { AuthOutcome } from "../../src/ppp/auth.ts";
import { PAP_CODE, PapClient, PapServer, parsePapRequest } from "../../src/ppp/pap.ts";
import { type ControlPacket, emitPacket, parsePacket } from "../../src/ppp/packet.ts";

const users = { secretFor: (u: string) => (u === "alice" ? "s3cret!" : undefined) };

function host() {
  const sent: ControlPacket[] = [];
  const done: AuthOutcome[] = [];
  return { sent, done, h: { send: (b: Uint8Array) => sent.push(parsePacket(b)!), done: (o: AuthOutcome) => done.push(o) } };
}

/** Wire client and server back to back; returns the outcomes. */
function converse(user: string, pass: string) {
  const c = host();
  const s = host();
  const client = new PapClient(user, pass, c.h);
  const server = new PapServer(users, s.h);
  server.start(0);
  client.start(0);
  for (let i = 0; i < 5; i++) {
    for (const p of c.sent.splice(0)) server.input(emitPacket(p), 1);
    for (const p of s.sent.splice(0)) client.input(emitPacket(p), 1);
  }
  return { client: c.done, server: s.done };
}

describe("PAP", () => {
  test("Authenticate-Request wire format", () => {
    const c = host();
    new PapClient("alice", "s3cret!", c.h).start(0);
    const p = c.sent[0]!;
    expect(p.code).toBe(PAP_CODE.REQUEST);
    expect([...emitPacket(p)]).toEqual([1, p.id, 0, 18, 5, ...new TextEncoder().encode("alice"), 7, ...new TextEncoder().encode("s3cret!")]);
    const r = parsePapRequest(p.data)!;
    expect(new TextDecoder().decode(r.peerId)).toBe("alice");
  });

  test("right password: both sides succeed, the client gets the server's message", () => {
    const r = converse("alice", "s3cret!");
    expect(r.client).toEqual([{ result: "success", message: "Login ok" }]);
    expect(r.server).toEqual([{ result: "success", message: "Login ok", peerName: "alice" }]);
  });

  test("wrong password or unknown user: failure on both sides, no secret in outcomes", () => {
    for (const [u, p] of [["alice", "wrong"], ["mallory", "s3cret!"]] as const) {
      const r = converse(u, p);
      expect(r.client).toEqual([{ result: "failure", message: "Login incorrect" }]);
      expect(r.server[0]!.result).toBe("failure");
      expect(JSON.stringify([r.client, r.server])).not.toContain("s3cret!");
    }
  });

  test("client retransmits every 3 s with a new id, 10 times, then times out", () => {
    const c = host();
    const client = new PapClient("alice", "s3cret!", c.h);
    client.start(0);
    for (let t = 0; t <= 40_000; t += 250) client.poll(t);
    expect(c.sent.length).toBe(10);
    expect(new Set(c.sent.map((p) => p.id)).size).toBe(10);
    expect(c.done).toEqual([{ result: "timeout", message: "no answer to 10 PAP Authenticate-Requests" }]);
    expect(client.deadline).toBeNull();
  });

  test("a lost Ack: the client retransmits and the server answers the repeat the same way", () => {
    const c = host();
    const s = host();
    const client = new PapClient("alice", "s3cret!", c.h);
    const server = new PapServer(users, s.h);
    server.start(0);
    client.start(0);
    server.input(emitPacket(c.sent.shift()!), 1);
    s.sent.length = 0; // the Ack is lost
    client.poll(3000);
    server.input(emitPacket(c.sent.shift()!), 3001);
    expect(s.sent[0]!.code).toBe(PAP_CODE.ACK);
    client.input(emitPacket(s.sent[0]!), 3002);
    expect(c.done[0]!.result).toBe("success");
    expect(s.done.length).toBe(1);
  });

  test("an answer with a stale id is ignored", () => {
    const c = host();
    const client = new PapClient("alice", "x", c.h);
    client.start(0);
    const id = c.sent[0]!.id;
    client.input(emitPacket({ code: PAP_CODE.ACK, id: (id + 1) & 0xff, data: Uint8Array.of(0) }), 1);
    expect(c.done).toEqual([]);
  });

  test("server times out when no request arrives", () => {
    const s = host();
    const server = new PapServer(users, s.h, { waitMs: 5000 });
    server.start(0);
    server.poll(4999);
    expect(s.done).toEqual([]);
    server.poll(5000);
    expect(s.done[0]!.result).toBe("timeout");
  });

  test("malformed requests are discarded", () => {
    const s = host();
    const server = new PapServer(users, s.h);
    server.start(0);
    server.input(Uint8Array.of(1, 1, 0, 6, 9, 0), 1); // Peer-ID-Length past the end
    server.input(Uint8Array.of(1, 1), 1);
    expect(s.sent).toEqual([]);
    expect(s.done).toEqual([]);
  });
});

/**
 * CHAP with MD5, RFC 1994. The authenticator sends a Challenge (random
 * value); the peer answers MD5(Identifier || secret || Challenge-Value)
 * (§4.1); the authenticator answers Success or Failure. Both roles.
 */
import { createHash } from "node:crypto";
import { type AuthHost, type AuthMachine, type AuthTimers, type AuthVerifier, DEFAULT_AUTH_TIMERS, equalSecret } from "./auth.ts";
import { emitPacket, parsePacket, peerText } from "./packet.ts";

export const CHAP_CODE = { CHALLENGE: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

const enc = new TextEncoder();

/** RFC 1994 §2 / §4.1: Response Value = MD5(Identifier || secret || Challenge Value). */
export function chapMd5Response(id: number, secret: Uint8Array, challenge: Uint8Array): Uint8Array {
  const h = createHash("md5");
  h.update(Uint8Array.of(id & 0xff));
  h.update(secret);
  h.update(challenge);
  return new Uint8Array(h.digest());
}

/** Challenge/Response data: Value-Size, Value, Name. */
export function parseChapValue(data: Uint8Array): { value: Uint8Array; name: Uint8Array } | null {
  const n = data[0];
  if (n === undefined || n === 0 || 1 + n > data.length) return null;
  return { value: data.subarray(1, 1 + n), name: data.subarray(1 + n) };
}

export function emitChapValue(value: Uint8Array, name: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + value.length + name.length);
  out[0] = value.length;
  out.set(value, 1);
  out.set(name, 1 + value.length);
  return out;
}

/** The peer being authenticated: answers every Challenge, waits for Success/Failure. */
export class ChapClient implements AuthMachine {
  readonly method = "chap";
  readonly role = "client";
  deadline: number | null = null;
  private lastId = -1;
  private finished = false;
  private readonly timers: AuthTimers;

  constructor(
    private readonly username: string,
    private readonly secret: string,
    private readonly host: AuthHost,
    timers: Partial<AuthTimers> = {},
  ) {
    this.timers = { ...DEFAULT_AUTH_TIMERS, ...timers };
  }

  start(now: number): void {
    this.deadline = now + this.timers.waitMs;
  }

  poll(now: number): void {
    if (this.finished || this.deadline === null || now < this.deadline) return;
    this.finish({ result: "timeout", message: this.lastId < 0 ? "no CHAP Challenge from the peer" : "no CHAP Success/Failure from the peer" });
  }

  input(info: Uint8Array, now: number): void {
    const pkt = parsePacket(info);
    if (pkt === null) return this.host.discarded?.("short CHAP packet");
    switch (pkt.code) {
      case CHAP_CODE.CHALLENGE: {
        const c = parseChapValue(pkt.data);
        if (c === null) return this.host.discarded?.("malformed CHAP Challenge");
        // RFC 1994 §4.1: answer every Challenge, including repeats and
        // re-challenges after success.
        this.lastId = pkt.id;
        const value = chapMd5Response(pkt.id, enc.encode(this.secret), c.value);
        this.host.send(emitPacket({ code: CHAP_CODE.RESPONSE, id: pkt.id, data: emitChapValue(value, enc.encode(this.username)) }));
        if (!this.finished) this.deadline = now + this.timers.waitMs;
        return;
      }
      case CHAP_CODE.SUCCESS:
      case CHAP_CODE.FAILURE: {
        if (this.finished || pkt.id !== this.lastId) return this.host.discarded?.("CHAP result with a stale identifier");
        this.finish({ result: pkt.code === CHAP_CODE.SUCCESS ? "success" : "failure", message: peerText(pkt.data) });
        return;
      }
      default:
        return this.host.discarded?.(`CHAP code ${pkt.code} in client role`);
    }
  }

  private finish(o: { result: "success" | "failure" | "timeout"; message: string }): void {
    this.finished = true;
    this.deadline = null;
    this.host.done(o);
  }
}

/** The authenticator: sends Challenges until a Response arrives, checks it. */
export class ChapServer implements AuthMachine {
  readonly method = "chap";
  readonly role = "server";
  deadline: number | null = null;
  private id = 0;
  private challenge: Uint8Array = new Uint8Array(0);
  private sent = 0;
  private outcome: "success" | "failure" | null = null;
  private readonly timers: AuthTimers;

  constructor(
    private readonly verifier: AuthVerifier,
    private readonly host: AuthHost,
    private readonly random: (n: number) => Uint8Array,
    private readonly ourName: string,
    timers: Partial<AuthTimers> = {},
    private readonly messages = { ok: "Welcome", bad: "Access denied" },
  ) {
    this.timers = { ...DEFAULT_AUTH_TIMERS, ...timers };
  }

  start(now: number): void {
    this.id = this.random(1)[0] ?? 1;
    this.challenge = this.random(16);
    this.sendChallenge(now);
  }

  private sendChallenge(now: number): void {
    this.host.send(emitPacket({ code: CHAP_CODE.CHALLENGE, id: this.id, data: emitChapValue(this.challenge, enc.encode(this.ourName)) }));
    this.sent++;
    this.deadline = now + this.timers.restartMs;
  }

  poll(now: number): void {
    if (this.outcome !== null || this.deadline === null || now < this.deadline) return;
    if (this.sent >= this.timers.maxRequests) {
      this.deadline = null;
      this.outcome = "failure";
      this.host.done({ result: "timeout", message: `no answer to ${this.sent} CHAP Challenges` });
      return;
    }
    this.sendChallenge(now);
  }

  input(info: Uint8Array, _now: number): void {
    const pkt = parsePacket(info);
    if (pkt === null || pkt.code !== CHAP_CODE.RESPONSE) return this.host.discarded?.("CHAP packet ignored in server role");
    if (pkt.id !== this.id) return this.host.discarded?.("CHAP Response with a stale identifier");
    const r = parseChapValue(pkt.data);
    if (r === null) return this.host.discarded?.("malformed CHAP Response");
    if (this.outcome !== null) {
      // RFC 1994 §4.2: our Success/Failure may have been lost; answer again.
      this.reply(this.outcome === "success");
      return;
    }
    const name = new TextDecoder().decode(r.name);
    const secret = this.verifier.secretFor(name);
    const ok = secret !== undefined && equalSecret(chapMd5Response(this.id, enc.encode(secret), this.challenge), r.value);
    this.outcome = ok ? "success" : "failure";
    this.deadline = null;
    const message = this.reply(ok);
    this.host.done({ result: ok ? "success" : "failure", message, peerName: peerText(r.name) });
  }

  private reply(ok: boolean): string {
    const message = ok ? this.messages.ok : this.messages.bad;
    this.host.send(emitPacket({ code: ok ? CHAP_CODE.SUCCESS : CHAP_CODE.FAILURE, id: this.id, data: enc.encode(message) }));
    return message;
  }
}

/**
 * PAP, RFC 1334 §2: the peer sends Authenticate-Request (Peer-ID, Password)
 * until the authenticator answers Ack or Nak. Both roles.
 */
import { type AuthHost, type AuthMachine, type AuthTimers, type AuthVerifier, DEFAULT_AUTH_TIMERS, equalSecret } from "./auth.ts";
import { emitPacket, parsePacket, peerText } from "./packet.ts";

export const PAP_CODE = { REQUEST: 1, ACK: 2, NAK: 3 } as const;

const enc = new TextEncoder();

function lengthPrefixed(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out[i++] = p.length;
    out.set(p, i);
    i += p.length;
  }
  return out;
}

/** Parse Authenticate-Request data: Peer-ID-Length, Peer-ID, Passwd-Length, Password. */
export function parsePapRequest(data: Uint8Array): { peerId: Uint8Array; password: Uint8Array } | null {
  const idLen = data[0];
  if (idLen === undefined || 2 + idLen > data.length) return null;
  const pwLen = data[1 + idLen];
  if (pwLen === undefined || 2 + idLen + pwLen > data.length) return null;
  return { peerId: data.subarray(1, 1 + idLen), password: data.subarray(2 + idLen, 2 + idLen + pwLen) };
}

/** Message of an Ack/Nak (Msg-Length, Message); tolerant of a missing length. */
function ackMessage(data: Uint8Array): string {
  const n = data[0];
  if (n === undefined) return "";
  return peerText(data.subarray(1, 1 + n));
}

/** The peer being authenticated (our dialling side). */
export class PapClient implements AuthMachine {
  readonly method = "pap";
  readonly role = "client";
  deadline: number | null = null;
  private id = 0;
  private sent = 0;
  private finished = false;
  private readonly timers: AuthTimers;

  constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly host: AuthHost,
    timers: Partial<AuthTimers> = {},
  ) {
    this.timers = { ...DEFAULT_AUTH_TIMERS, ...timers };
  }

  start(now: number): void {
    this.sendRequest(now);
  }

  private sendRequest(now: number): void {
    // Each retransmission gets a new Identifier (RFC 1334 §2.2.1).
    this.id = (this.id + 1) & 0xff;
    const data = lengthPrefixed([enc.encode(this.username).subarray(0, 255), enc.encode(this.password).subarray(0, 255)]);
    this.host.send(emitPacket({ code: PAP_CODE.REQUEST, id: this.id, data }));
    this.sent++;
    this.deadline = now + this.timers.restartMs;
  }

  poll(now: number): void {
    if (this.finished || this.deadline === null || now < this.deadline) return;
    if (this.sent >= this.timers.maxRequests) {
      this.finish({ result: "timeout", message: `no answer to ${this.sent} PAP Authenticate-Requests` });
      return;
    }
    this.sendRequest(now);
  }

  input(info: Uint8Array, _now: number): void {
    const pkt = parsePacket(info);
    if (pkt === null || this.finished) return this.host.discarded?.("PAP packet ignored");
    if (pkt.code !== PAP_CODE.ACK && pkt.code !== PAP_CODE.NAK) return this.host.discarded?.(`PAP code ${pkt.code} in client role`);
    if (pkt.id !== this.id) return this.host.discarded?.("PAP answer with a stale identifier");
    const message = ackMessage(pkt.data);
    this.finish({ result: pkt.code === PAP_CODE.ACK ? "success" : "failure", message });
  }

  private finish(o: { result: "success" | "failure" | "timeout"; message: string }): void {
    this.finished = true;
    this.deadline = null;
    this.host.done(o);
  }
}

/** The authenticator (virtual modem / network side). */
export class PapServer implements AuthMachine {
  readonly method = "pap";
  readonly role = "server";
  deadline: number | null = null;
  private outcome: "success" | "failure" | null = null;
  private readonly timers: AuthTimers;

  constructor(
    private readonly verifier: AuthVerifier,
    private readonly host: AuthHost,
    timers: Partial<AuthTimers> = {},
    private readonly messages = { ok: "Login ok", bad: "Login incorrect" },
  ) {
    this.timers = { ...DEFAULT_AUTH_TIMERS, ...timers };
  }

  start(now: number): void {
    this.deadline = now + this.timers.waitMs;
  }

  poll(now: number): void {
    if (this.outcome !== null || this.deadline === null || now < this.deadline) return;
    this.deadline = null;
    this.outcome = "failure";
    this.host.done({ result: "timeout", message: "peer sent no PAP Authenticate-Request" });
  }

  input(info: Uint8Array, _now: number): void {
    const pkt = parsePacket(info);
    if (pkt === null || pkt.code !== PAP_CODE.REQUEST) return this.host.discarded?.("PAP packet ignored in server role");
    const req = parsePapRequest(pkt.data);
    if (req === null) return this.host.discarded?.("malformed PAP Authenticate-Request");
    const name = peerText(req.peerId);
    if (this.outcome !== null) {
      // RFC 1334 §2.2.1: a retransmitted request (our Ack was lost) gets the same answer.
      this.reply(pkt.id, this.outcome === "success");
      return;
    }
    const secret = this.verifier.secretFor(new TextDecoder().decode(req.peerId));
    const ok = secret !== undefined && equalSecret(enc.encode(secret), req.password);
    this.outcome = ok ? "success" : "failure";
    this.deadline = null;
    const message = this.reply(pkt.id, ok);
    this.host.done({ result: ok ? "success" : "failure", message, peerName: name });
  }

  private reply(id: number, ok: boolean): string {
    const message = ok ? this.messages.ok : this.messages.bad;
    this.host.send(emitPacket({ code: ok ? PAP_CODE.ACK : PAP_CODE.NAK, id, data: lengthPrefixed([enc.encode(message)]) }));
    return message;
  }
}

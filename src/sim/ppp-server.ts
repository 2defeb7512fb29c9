/**
 * The network side of a data call: cellkeep's own PppSession in the server
 * role (authenticator + address assigner, DESIGN rule 3) behind HDLC framing,
 * with the scenario faults applied at the frame level:
 *
 * - dial-before-attach: the call was placed without packet attach, so right
 *   after a successful PAP/CHAP exchange the network ends the call with LCP
 *   Terminate-Request (the BG77 field report: "authenticated → rcvd LCP
 *   TermReq → terminating").
 * - wrong-credentials: the verifier knows no user, every login fails (PAP Nak
 *   / CHAP Failure) and the session terminates.
 * - no-ip: the client's IPCP Configure-Requests are answered by us with a
 *   Configure-Nak carrying 0.0.0.0 (RFC 1332 §3.3 lets the Nak suggest an
 *   address; 0.0.0.0 suggests none), so IPCP never acks an address.
 * - dead-peer: once set, every frame from the client is ignored and nothing
 *   is sent, while the line (data mode) stays up.
 * - nocarrier-payload: while IPCP is open, every few seconds the network
 *   sends the client's address a UDP datagram full of "\r\nNO CARRIER\r\n".
 *   With the client's ACCM 0 the CR/LF bytes go unescaped inside the frames,
 *   so the text appears verbatim on the line; the call of course stays up.
 *
 * A pure core like the rest: bytes/now in, bytes/events/deadline out.
 */
import type { DataSession, DataSessionContext } from "./data-session.ts";
import type { SimEvent } from "./events.ts";
import type { SimNetwork } from "./network.ts";
import type { SimBehaviour } from "./scenario.ts";
import { HdlcDecoder, encodeFrame } from "../ppp/hdlc.ts";
import { CODE, emitOptions, emitPacket, parseOptions, parsePacket } from "../ppp/packet.ts";
import { PAP_CODE, parsePapRequest } from "../ppp/pap.ts";
import { PppSession, type PppStatus } from "../ppp/session.ts";
import { DEFAULT_FRAMING, PROTO, type PppFrame } from "../ppp/types.ts";

export interface SimPppServerOptions {
  behaviour: SimBehaviour;
  context: DataSessionContext;
  network: SimNetwork;
  /** Where client IP packets (v4 and v6) go; returns reply packets to send back. Default: IPv4 to network.handle, IPv6 dropped. */
  routeIp?: (packet: Uint8Array) => Uint8Array[];
  random?: (n: number) => Uint8Array;
}

/** IPCP option types (RFC 1332 §3, RFC 1877). */
const IPCP_IP_ADDRESS = 3;
const IPCP_DNS1 = 129;
const IPCP_DNS2 = 131;

export class SimPppServer implements DataSession {
  readonly session: PppSession;
  private readonly decoder = new HdlcDecoder();
  private out: Uint8Array[] = [];
  private events: SimEvent[] = [];
  private ended_ = false;
  private ipUp_ = false;
  private dead = false;
  private hungUp = false;
  private started = false;
  /** accept-any PAP: the password just presented, so the verifier can agree with it. */
  private presented: string | null = null;
  private noIpReported = false;
  /** nocarrier-payload: the client's address (from IPCP) and when the next datagram is due. */
  private clientAddress: string | null = null;
  private payloadAt: number | null = null;
  private payloadsSent = 0;
  private readonly b: SimBehaviour;
  private readonly ctx: DataSessionContext;
  private readonly routeIp: (packet: Uint8Array) => Uint8Array[];
  private readonly network: SimNetwork;

  constructor(opts: SimPppServerOptions) {
    this.b = opts.behaviour;
    this.ctx = opts.context;
    this.network = opts.network;
    this.routeIp = opts.routeIp ?? ((p) => (p[0]! >> 4 === 4 ? opts.network.handle(p) : []));
    const auth = this.b.auth;
    this.session = new PppSession({
      role: "server",
      auth: {
        // Accept-any can only work with PAP (a CHAP response cannot be checked
        // without the secret); with known credentials we ask CHAP and accept a
        // Nak to PAP ("auto").
        method: auth === null ? "pap" : "auto",
        name: "cellkeep-sim",
        verifier: {
          secretFor: (user: string) => {
            if (auth === "reject") return undefined;
            if (auth === null) return this.presented ?? undefined;
            return user === auth.username ? auth.password : undefined;
          },
        },
      },
      server: { localIPv4: this.b.peerAddress, peerIPv4: this.b.poolStart, dns: [...this.b.dns] },
      echo: { intervalMs: 0, failures: 0 },
      // The network offers what the context asks for: IPV6CP only for IPV6 / IPV4V6 contexts.
      ncps: ncpsFor(this.ctx.pdpType ?? "IP"),
      ...(opts.random ? { random: opts.random } : {}),
    });
    // Like pppd's "silent" option, LCP opens when the client's first frame
    // arrives: an agent that hands the line from its AT channel to PPP a few
    // milliseconds after CONNECT must not lose our first Configure-Request
    // (and then wait a 3 s restart timer for the next).
  }

  get ended(): boolean {
    return this.ended_;
  }
  get ipUp(): boolean {
    return this.ipUp_;
  }

  status(): PppStatus {
    return this.session.status();
  }

  input(data: Uint8Array, now: number): void {
    if (this.dead || this.hungUp) return;
    // Frame by frame: LCP may open on one frame, and the next frame of the
    // same read already uses the receive ACCM just negotiated.
    this.decoder.decode(data, (ev) => {
      if (ev.kind !== "frame" || this.dead || this.hungUp) return;
      this.frame({ protocol: ev.protocol, info: ev.info }, now);
      this.pump(now);
    });
    this.pump(now);
  }

  poll(now: number): void {
    if (this.hungUp || this.dead || !this.started) return;
    this.session.poll(now);
    this.pump(now);
    this.payloadTick(now);
  }

  takeOutput(): Uint8Array[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  takeEvents(): SimEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  nextDeadline(): number | null {
    if (this.dead || this.hungUp || this.ended_ || !this.started) return null;
    const s = this.session.nextDeadline();
    if (this.payloadAt === null) return s;
    return s === null ? this.payloadAt : Math.min(s, this.payloadAt);
  }

  hangUp(now: number): void {
    if (this.hungUp) return;
    this.hungUp = true;
    this.session.lowerDown(now);
    this.session.drain();
    this.out = [];
    this.events.push({ type: "sim.ppp", at: now, what: "down", detail: "call hung up" });
  }

  setDead(dead: boolean): void {
    this.dead = dead;
  }

  /** Queue an IP packet (v4 or v6, by its first nibble) for the client; false when that NCP is not open. */
  sendIp(packet: Uint8Array, now: number): boolean {
    if (this.dead || this.hungUp || packet.length === 0) return false;
    const version = packet[0]! >> 4;
    if (version !== 4 && version !== 6) return false;
    const ok = this.session.sendIp(version, packet, now);
    this.pump(now);
    return ok;
  }

  /** nocarrier-payload: send the datagram when due, then arm the next. */
  private payloadTick(now: number): void {
    const np = this.b.noCarrierPayload;
    if (!np || this.payloadAt === null || now < this.payloadAt || this.clientAddress === null) return;
    this.payloadAt = now + np.everyMs;
    const packet = this.network.noCarrierDatagram(this.clientAddress, np.bytes);
    if (!packet) return;
    if (this.payloadsSent++ === 0) {
      this.events.push({ type: "sim.ppp", at: now, what: "nocarrier-payload", detail: `UDP to ${this.clientAddress} every ${np.everyMs} ms, ${np.bytes} bytes of "\\r\\nNO CARRIER\\r\\n"` });
    }
    this.session.sendIp(4, packet, now);
    this.pump(now);
  }

  private frame(f: PppFrame, now: number): void {
    if (!this.started) {
      this.started = true;
      this.session.open(now);
    }
    if (f.protocol === PROTO.PAP && this.b.auth === null) {
      const pkt = parsePacket(f.info);
      const req = pkt && pkt.code === PAP_CODE.REQUEST ? parsePapRequest(pkt.data) : null;
      if (req) this.presented = new TextDecoder().decode(req.password);
    }
    if (f.protocol === PROTO.IPCP && !this.b.assignAddress && this.nakIpcp(f.info, now)) return;
    this.session.input(f, now);
    this.presented = null;
  }

  /** no-ip: answer a client Configure-Request ourselves with a Nak of 0.0.0.0; true if handled. */
  private nakIpcp(info: Uint8Array, now: number): boolean {
    const pkt = parsePacket(info);
    if (!pkt || pkt.code !== CODE.CONF_REQ) return false;
    const opts = parseOptions(pkt.data);
    if (!opts) return false;
    const naks = opts.filter((o) => o.type === IPCP_IP_ADDRESS || o.type === IPCP_DNS1 || o.type === IPCP_DNS2).map((o) => ({ type: o.type, data: new Uint8Array(4) }));
    const rejs = opts.filter((o) => o.type !== IPCP_IP_ADDRESS && o.type !== IPCP_DNS1 && o.type !== IPCP_DNS2);
    const reply =
      rejs.length > 0
        ? emitPacket({ code: CODE.CONF_REJ, id: pkt.id, data: emitOptions(rejs) })
        : naks.length > 0
          ? emitPacket({ code: CODE.CONF_NAK, id: pkt.id, data: emitOptions(naks) })
          : null;
    if (reply === null) return false; // a request with no options: let IPCP ack it (no address anyway)
    this.out.push(encodeFrame(PROTO.IPCP, reply, this.session.txFraming()));
    if (!this.noIpReported) {
      this.noIpReported = true;
      this.events.push({ type: "sim.ppp", at: now, what: "no-ip", detail: "IPCP Configure-Request answered with Nak 0.0.0.0" });
    }
    return true;
  }

  private pump(now: number): void {
    if (!this.started || this.hungUp) return;
    for (let round = 0; round < 64; round++) {
      const d = this.session.drain();
      if (d.frames.length === 0 && d.ip.length === 0 && d.events.length === 0) break;
      const tx = this.session.txFraming();
      for (const f of d.frames) {
        if (this.dead) continue;
        this.out.push(encodeFrame(f.protocol, f.info, f.protocol === PROTO.LCP ? DEFAULT_FRAMING : tx));
      }
      for (const e of d.events) this.onEvent(e, now);
      for (const ip of d.ip) {
        for (const reply of this.routeIp(ip.packet)) {
          const v = reply[0]! >> 4;
          if (v === 4 || v === 6) this.session.sendIp(v, reply, now);
        }
      }
    }
    const rx = this.session.rxFraming();
    this.decoder.setAccm(rx.accm);
    this.decoder.setMru(rx.mru);
  }

  private onEvent(e: ReturnType<PppSession["drain"]>["events"][number], now: number): void {
    switch (e.type) {
      case "ppp.auth":
        if (e.result === "success") {
          this.events.push({ type: "sim.ppp", at: now, what: "auth-ok", detail: `${e.method} user "${e.peerName ?? ""}"` });
          if (!this.ctx.attached) {
            // The network has no packet context for an unattached UE: it ends the call.
            this.events.push({ type: "sim.ppp", at: now, what: "terminate-after-auth", detail: "dialled before packet-service attach" });
            this.session.close("", now);
          }
        } else {
          this.events.push({ type: "sim.ppp", at: now, what: "auth-failed", detail: `${e.method} ${e.result}` });
        }
        break;
      case "ppp.ipv6cp.up":
        this.events.push({ type: "sim.ppp", at: now, what: "ipv6-up", detail: `${e.remote} (ours ${e.local})` });
        break;
      case "ppp.open":
        this.ipUp_ = true;
        break;
      case "ppp.ipcp.up":
        this.ipUp_ = true;
        this.clientAddress = e.remote;
        if (this.b.noCarrierPayload && this.payloadAt === null) this.payloadAt = now + this.b.noCarrierPayload.everyMs;
        this.events.push({ type: "sim.ppp", at: now, what: "ip-assigned", detail: `${e.remote} (ours ${e.local})` });
        break;
      case "ppp.terminate":
        // The host ended PPP (LCP Terminate-Request): a Quectel module acks and drops the
        // call at once with NO CARRIER, rather than idling out RFC 1661's Stopping state.
        if (e.by === "peer" && !this.ended_) {
          this.ended_ = true;
          this.events.push({ type: "sim.ppp", at: now, what: "down", detail: "PPP terminated by the host" });
        }
        break;
      case "ppp.phase":
        if (e.to === "dead" && e.from !== "dead" && !this.ended_) {
          this.ended_ = true;
          this.events.push({ type: "sim.ppp", at: now, what: "down", detail: "PPP terminated" });
        }
        break;
      default:
        break;
    }
  }
}

function ncpsFor(pdpType: string): { ipv4: boolean; ipv6: boolean } {
  const t = pdpType.toUpperCase();
  return { ipv4: t !== "IPV6", ipv6: t === "IPV6" || t === "IPV4V6" };
}

/**
 * LCP option set (RFC 1661 §6) plugged into the shared automaton, plus the
 * LCP-only codes: Protocol-Reject, Echo-Request/Reply, Discard-Request,
 * Identification and Time-Remaining (RFC 1570).
 */
import type { Fsm, OptionHandler, RequestVerdict } from "./fsm.ts";
import { LayerHandler, type LayerListener, RequestCheck } from "./option-handler.ts";
import { CODE, type ConfigOption, type ControlPacket, peerText, readU16, readU32, u16, u32 } from "./packet.ts";
import { PROTO } from "./types.ts";

export const LCP_OPT = {
  MRU: 1,
  ACCM: 2,
  AUTH: 3,
  QUALITY: 4,
  MAGIC: 5,
  PFC: 7,
  ACFC: 8,
} as const;

/** CHAP algorithm 5 = MD5 (RFC 1994 §3). */
export const CHAP_MD5 = 5;

/** auth.method: which authentication this side accepts (client) or demands (server). */
export type AuthMethodSetting = "none" | "pap" | "chap" | "auto";
export type AuthProto = "pap" | "chap";

/** RFC 1661 §6.1: the default MRU; RFC-conforming peers must accept it. */
export const DEFAULT_MRU = 1500;
/** Smallest MRU we agree to send with (pppd's PPP_MINMRU). */
export const MIN_MRU = 128;

export interface LcpConfig {
  role: "client" | "server";
  authMethod: AuthMethodSetting;
  /** MRU we ask to receive. */
  mru: number;
  /** ACCM we ask the peer to use when sending to us (0 = no control chars escaped). */
  accm: number;
  /** Ask for Protocol-Field- and Address-and-Control-Field-Compression. */
  compression: boolean;
  /** How many times our own magic number may come back before we call it a loop-back. */
  loopbackLimit: number;
  /** Nonzero 32-bit random numbers for Magic-Number (injectable for tests). */
  random32: () => number;
}

/** What LCP reports to the session. */
export interface LcpListener extends LayerListener {
  echoReply(data: Uint8Array, id: number): void;
  /** The peer sent Protocol-Reject for one of our protocols while Opened. */
  protocolRejected(protocol: number): void;
  /** The peer Code-Rejected a non-fatal code (e.g. Echo-Request). */
  codeRejected(code: number): void;
  /** Our magic number came back `loopbackLimit` times: the line is looped. */
  loopback(): void;
  notice(what: "magic-collision" | "identification" | "time-remaining", detail: string): void;
}

interface Side {
  mru: number | null;
  accm: number | null;
  magic: number | null;
  pfc: boolean;
  acfc: boolean;
  auth: AuthProto | null;
}

const NONE: Side = { mru: null, accm: null, magic: null, pfc: false, acfc: false, auth: null };

function authOptionData(p: AuthProto): Uint8Array {
  return p === "pap" ? u16(PROTO.PAP) : Uint8Array.of(PROTO.CHAP >> 8, PROTO.CHAP & 0xff, CHAP_MD5);
}

/** Which protocol an Authentication-Protocol option names, if we support it. */
function authFromOption(d: Uint8Array): AuthProto | null {
  const p = readU16(d);
  if (p === PROTO.PAP && d.length === 2) return "pap";
  if (p === PROTO.CHAP && d.length === 3 && d[2] === CHAP_MD5) return "chap";
  return null;
}

function accepts(method: AuthMethodSetting, p: AuthProto): boolean {
  return method === "auto" || method === p;
}

export class Lcp extends LayerHandler<LcpListener> implements OptionHandler {
  fsm!: Fsm;
  /** What we want to ask for now. */
  private want: Side = { ...NONE };
  /** What the peer acked (applies to frames we receive). */
  got: Side = { ...NONE };
  /** What we acked of the peer's request (applies to frames we send). */
  his: Side = { ...NONE };
  private loops = 0;
  private authNaks = 0;
  /** Server role: the peer refused every auth protocol we can accept. */
  authRefused = false;
  echoSupported = true;

  constructor(
    private readonly cfg: LcpConfig,
    listener: LcpListener,
  ) {
    super(listener);
  }

  /** Our current Magic-Number (for Echo packets); 0 when not negotiated. */
  get magic(): number {
    return this.got.magic ?? 0;
  }

  private initialAuth(): AuthProto | null {
    if (this.cfg.role !== "server") return null;
    if (this.cfg.authMethod === "none") return null;
    return this.cfg.authMethod === "pap" ? "pap" : "chap";
  }

  resetCi(): void {
    this.want = {
      mru: this.cfg.mru !== DEFAULT_MRU ? this.cfg.mru : null,
      accm: this.cfg.accm,
      magic: this.newMagic(),
      pfc: this.cfg.compression,
      acfc: this.cfg.compression,
      auth: this.initialAuth(),
    };
    this.authNaks = 0;
    this.authRefused = false;
  }

  private newMagic(): number {
    for (let i = 0; i < 8; i++) {
      const m = this.cfg.random32() >>> 0;
      if (m !== 0 && m !== this.his.magic && m !== this.want.magic) return m;
    }
    return 0x5a5a5a5a;
  }

  buildRequest(): ConfigOption[] {
    const w = this.want;
    const o: ConfigOption[] = [];
    if (w.mru !== null) o.push({ type: LCP_OPT.MRU, data: u16(w.mru) });
    if (w.accm !== null) o.push({ type: LCP_OPT.ACCM, data: u32(w.accm) });
    if (w.auth !== null) o.push({ type: LCP_OPT.AUTH, data: authOptionData(w.auth) });
    if (w.magic !== null) o.push({ type: LCP_OPT.MAGIC, data: u32(w.magic) });
    if (w.pfc) o.push({ type: LCP_OPT.PFC, data: new Uint8Array(0) });
    if (w.acfc) o.push({ type: LCP_OPT.ACFC, data: new Uint8Array(0) });
    return o;
  }

  ackReceived(_opts: ConfigOption[]): void {
    this.got = { ...this.want };
  }

  nakReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      switch (o.type) {
        case LCP_OPT.MRU: {
          if (o.data.length !== 2) return false;
          const v = readU16(o.data);
          // A smaller MRU is fine for us to receive; a bigger one we cannot promise.
          this.want.mru = v >= MIN_MRU && v <= Math.max(DEFAULT_MRU, this.cfg.mru) ? v : null;
          break;
        }
        case LCP_OPT.ACCM:
          if (o.data.length !== 4) return false;
          // RFC 1662 §7.1: the peer needs these characters escaped too.
          this.want.accm = ((this.want.accm ?? 0) | readU32(o.data)) >>> 0;
          break;
        case LCP_OPT.MAGIC:
          if (o.data.length !== 4) return false;
          // RFC 1661 §6.4: a Nak'd magic means a possible collision: pick a new one.
          this.want.magic = this.newMagic();
          break;
        case LCP_OPT.AUTH: {
          if (this.want.auth === null) break; // unsolicited suggestion: we do not authenticate ourselves
          const suggested = authFromOption(o.data);
          if (suggested !== null && accepts(this.cfg.authMethod, suggested)) {
            this.want.auth = suggested;
          } else if (++this.authNaks >= this.fsm.timers.maxFailure) {
            // Stop asking so LCP converges; the session then fails with auth-rejected.
            this.authRefused = true;
            this.want.auth = null;
          }
          break;
        }
        case LCP_OPT.PFC:
        case LCP_OPT.ACFC:
          // A flag option has no other value to take: a Nak means what a Reject does.
          this.rejectReceived([o]);
          break;
        default:
          break; // options the peer would like us to add: we ask for nothing else
      }
    }
    return true;
  }

  rejectReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      switch (o.type) {
        case LCP_OPT.MRU:
          this.want.mru = null;
          break;
        case LCP_OPT.ACCM:
          this.want.accm = null;
          break;
        case LCP_OPT.MAGIC:
          this.want.magic = null;
          break;
        case LCP_OPT.PFC:
          this.want.pfc = false;
          break;
        case LCP_OPT.ACFC:
          this.want.acfc = false;
          break;
        case LCP_OPT.AUTH:
          if (this.want.auth !== null) this.authRefused = true;
          this.want.auth = null;
          break;
        default:
          return false; // RFC 1661 §5.4: a Reject must only list options we sent
      }
    }
    return true;
  }

  checkRequest(opts: ConfigOption[], rejectIfDisagree: boolean): RequestVerdict {
    const his: Side = { ...NONE };
    const check = new RequestCheck(rejectIfDisagree);
    // RFC 1661 §5.4: once Naks turn into Rejects (Max-Failure), the Reject carries
    // the peer's option unchanged, not our suggestion.
    const nak = (peer: ConfigOption, suggestion: ConfigOption) => check.disagree(peer, suggestion);
    for (const o of opts) {
      switch (o.type) {
        case LCP_OPT.MRU:
          if (o.data.length !== 2) check.reject(o);
          else if (readU16(o.data) < MIN_MRU) nak(o, { type: o.type, data: u16(MIN_MRU) });
          else his.mru = readU16(o.data);
          break;
        case LCP_OPT.ACCM:
          if (o.data.length !== 4) check.reject(o);
          else his.accm = readU32(o.data);
          break;
        case LCP_OPT.AUTH:
          this.checkAuth(o, his, nak, check);
          break;
        case LCP_OPT.MAGIC: {
          if (o.data.length !== 4) {
            check.reject(o);
            break;
          }
          const m = readU32(o.data);
          if (this.want.magic !== null && m === this.want.magic) {
            // RFC 1661 §6.4: our own number came back: a collision or a looped line.
            this.loops++;
            this.listener.notice("magic-collision", `peer magic equals ours (${this.loops}/${this.cfg.loopbackLimit})`);
            if (this.loops >= this.cfg.loopbackLimit) this.listener.loopback();
            nak(o, { type: o.type, data: u32(this.newMagic()) });
          } else {
            his.magic = m;
          }
          break;
        }
        case LCP_OPT.PFC:
          if (o.data.length !== 0) check.reject(o);
          else his.pfc = true;
          break;
        case LCP_OPT.ACFC:
          if (o.data.length !== 0) check.reject(o);
          else his.acfc = true;
          break;
        default:
          // Quality-Protocol, callback, multilink, FCS-Alternatives...: not supported.
          check.reject(o);
      }
    }
    return check.verdict(() => {
      this.his = his;
    });
  }

  /**
   * Authentication-Protocol in the peer's request. As client we accept what
   * auth.method allows and Nak with the one we do support (ppp-project/ppp #83:
   * peers Nak CHAP to PAP, so both directions happen). As server we never
   * authenticate ourselves to the client: Reject.
   */
  private checkAuth(o: ConfigOption, his: Side, nak: (peer: ConfigOption, suggestion: ConfigOption) => void, check: RequestCheck): void {
    const method = this.cfg.authMethod;
    if (this.cfg.role === "server" || method === "none" || o.data.length < 2) {
      check.reject(o);
      return;
    }
    const asked = authFromOption(o.data);
    if (asked !== null && accepts(method, asked)) {
      his.auth = asked;
      return;
    }
    const preferred: AuthProto = method === "pap" ? "pap" : "chap";
    nak(o, { type: o.type, data: authOptionData(preferred) });
  }

  override up(): void {
    this.loops = 0;
    this.echoSupported = true;
    super.up();
  }

  extraCode(pkt: ControlPacket): "RXR" | "RXJ+" | "RXJ-" | "RUC" {
    switch (pkt.code) {
      case CODE.PROTO_REJ: {
        if (pkt.data.length < 2) return "RXJ+";
        const proto = readU16(pkt.data);
        // RFC 1661 §5.7: a rejected LCP is catastrophic; anything else only
        // stops that protocol. Ignored outside Opened.
        if (proto === PROTO.LCP) return "RXJ-";
        if (this.fsm.state === "opened") this.listener.protocolRejected(proto);
        return "RXJ+";
      }
      case CODE.ECHO_REQ:
      case CODE.ECHO_REP:
      case CODE.DISCARD_REQ:
      case CODE.IDENTIFICATION:
      case CODE.TIME_REMAINING:
        return "RXR";
      default:
        return "RUC";
    }
  }

  /** `ser` in Opened (RFC 1661 §5.8). */
  handleRxr(pkt: ControlPacket): void {
    const magic = pkt.data.length >= 4 ? readU32(pkt.data) : 0;
    switch (pkt.code) {
      case CODE.ECHO_REQ: {
        if (magic !== 0 && magic === this.magic) {
          // Our own Echo-Request came back: looped line.
          if (++this.loops >= this.cfg.loopbackLimit) this.listener.loopback();
          return;
        }
        const reply = new Uint8Array(Math.max(4, pkt.data.length));
        reply.set(u32(this.magic), 0);
        reply.set(pkt.data.subarray(4), 4);
        this.fsm.sendRaw(CODE.ECHO_REP, pkt.id, reply);
        return;
      }
      case CODE.ECHO_REP:
        if (magic !== 0 && magic === this.magic) return; // our own reply looped back; not the peer's answer
        this.listener.echoReply(pkt.data, pkt.id);
        return;
      case CODE.IDENTIFICATION:
        this.listener.notice("identification", peerText(pkt.data.subarray(4)));
        return;
      case CODE.TIME_REMAINING:
        this.listener.notice("time-remaining", `${pkt.data.length >= 8 ? readU32(pkt.data, 4) : 0} s ${peerText(pkt.data.subarray(8))}`);
        return;
      default:
        return; // Discard-Request: discarded, as the name says
    }
  }

  codeRejectFatal(code: number): boolean {
    if (code >= 1 && code <= 7) return true;
    if (code === CODE.ECHO_REQ) this.echoSupported = false;
    this.listener.codeRejected(code);
    return false;
  }

  /** Send an Echo-Request (RFC 1661 §5.8) with our magic; returns its id. */
  sendEchoRequest(): number {
    const id = this.fsm.allocId();
    this.fsm.sendRaw(CODE.ECHO_REQ, id, u32(this.magic));
    return id;
  }
}

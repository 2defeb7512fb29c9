/**
 * One PPP session: LCP, authentication, the NCPs `pdp_type` asks for, echo
 * keep-alive, IP in and out, counters and events. A pure core (DESIGN.md
 * rule 1): frames and `now` come in; frames, IP packets, events and the next
 * deadline go out through drain()/nextDeadline(). The link adapter (link.ts)
 * owns the bytes and the real timers.
 *
 * Phases follow RFC 1661 §3.2: Dead → Establish → Authenticate → Network →
 * Open (our name for "NCPs done") → Terminate → Dead.
 */
import { type Cause, type CauseCode, cause } from "../core/cause.ts";
import type { AuthMachine, AuthOutcome, AuthTimers, AuthVerifier } from "./auth.ts";
import { ChapClient, ChapServer } from "./chap.ts";
import type { PppEvent, PppPhase } from "./events.ts";
import { Fsm, type FsmEvent, type FsmHost, type FsmState, type FsmTimers, protocolRejectData } from "./fsm.ts";
import { Ipcp, PLACEHOLDER_REMOTE } from "./ipcp.ts";
import { Ipv6cp } from "./ipv6cp.ts";
import { type AuthMethodSetting, DEFAULT_MRU, Lcp } from "./lcp.ts";
import { CODE, peerText, readU32 } from "./packet.ts";
import { PapClient, PapServer } from "./pap.ts";
import { DEFAULT_FRAMING, type Framing, PROTO, type PppFrame } from "./types.ts";

export type PdpType = "IP" | "IPV6" | "IPV4V6";

/** `network.pdp_type` → which NCPs run. */
export function ncpsForPdpType(t: PdpType): { ipv4: boolean; ipv6: boolean } {
  return { ipv4: t !== "IPV6", ipv6: t !== "IP" };
}

export interface PppSessionOptions {
  /** client = the dialling side; server = authenticator + address assigner (virtual modem). */
  role: "client" | "server";
  auth?: {
    /** Client: which protocol(s) we accept. Server: which we demand ("auto" asks CHAP, accepts a Nak to PAP). */
    method: AuthMethodSetting;
    username?: string;
    password?: string;
    /** Server role: credential lookup. */
    verifier?: AuthVerifier;
    /** Server role: CHAP Name in our Challenges. */
    name?: string;
  };
  /** MRU we ask to receive (ppp.mru, default 1500). */
  mru?: number;
  /** ACCM we ask the peer to use towards us (default 0: escape nothing extra). */
  accm?: number;
  /** Ask for PFC and ACFC (default true). */
  compression?: boolean;
  lcp?: Partial<FsmTimers>;
  ncp?: Partial<FsmTimers>;
  authTimers?: Partial<AuthTimers>;
  /**
   * LCP echo keep-alive (ppp.echo_interval, ppp.echo_failures,
   * ppp.echo_only_when_idle → skipWhenBusy). intervalMs 0 disables.
   */
  echo?: { intervalMs: number; failures: number; skipWhenBusy?: boolean };
  /** From pdp_type via ncpsForPdpType; default IPv4 only. */
  ncps?: { ipv4: boolean; ipv6: boolean };
  /** Client: ask for DNS servers (default true). */
  requestDns?: boolean;
  /** Remote address to use when the peer states none (default 10.64.64.64, as pppd). */
  placeholderRemote?: string;
  /** Server role addresses. */
  server?: { localIPv4: string; peerIPv4: string; dns?: string[] };
  /** Our magic number seen this many times → loopback (default 5). */
  loopbackLimit?: number;
  /** Random bytes source (magic numbers, CHAP challenges, IPv6 identifiers); injectable for tests. */
  random?: (n: number) => Uint8Array;
}

export interface TrafficCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export type ProtocolClass = "lcp" | "auth" | "ncp" | "ipv4" | "ipv6" | "other";

export interface PppCounters {
  byClass: Record<ProtocolClass, TrafficCounters>;
  /** Protocol-Rejects we sent for protocols we do not run (CCP, ...). */
  protocolRejectsSent: number;
  protocolRejectsReceived: number;
  /** Control packets discarded as malformed or unexpected. */
  discarded: number;
  /** IP packets dropped: NCP not open (in or out) or larger than the peer's MRU. */
  ipDropped: number;
  echoRequestsSent: number;
  echoRepliesReceived: number;
}

export interface PppStatus {
  role: "client" | "server";
  phase: PppPhase;
  lcp: FsmState;
  ipcp: FsmState;
  ipv6cp: FsmState;
  auth: { method: "pap" | "chap"; result: "pending" | "success" | "failure" | "timeout"; message: string } | null;
  ipv4: { local: string; remote: string; remotePlaceholder: boolean; dns: string[] } | null;
  ipv6: { local: string; remote: string } | null;
  /** MRU we receive / the peer receives. */
  mru: number;
  peerMru: number;
  counters: PppCounters;
  lastCause: Cause | null;
  /** Text of the last Terminate-Request the peer sent. */
  peerTerminateMessage: string | null;
  /**
   * LCP echo keep-alive: `missed` = Echo-Requests sent since the last frame
   * received from the peer whose grace (min(interval, 1 s)) ran out with no
   * answer; `rttMs` = the last Echo round trip.
   */
  echo: { open: boolean; missed: number; rttMs: number | null };
}

type NcpState = "off" | "pending" | "open" | "failed";

const newTraffic = (): TrafficCounters => ({ framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 });

function classOf(protocol: number): ProtocolClass {
  switch (protocol) {
    case PROTO.LCP:
      return "lcp";
    case PROTO.PAP:
    case PROTO.CHAP:
      return "auth";
    case PROTO.IPCP:
    case PROTO.IPV6CP:
      return "ncp";
    case PROTO.IPV4:
      return "ipv4";
    case PROTO.IPV6:
      return "ipv6";
    default:
      return "other";
  }
}

function defaultRandom(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export class PppSession {
  private phase: PppPhase = "dead";
  private now = 0;
  private readonly opts: PppSessionOptions;
  private readonly random: (n: number) => Uint8Array;
  private readonly lcp: Lcp;
  private readonly lcpFsm: Fsm;
  private readonly ipcp: Ipcp;
  private readonly ipcpFsm: Fsm;
  private readonly ipv6cp: Ipv6cp;
  private readonly ipv6cpFsm: Fsm;
  private readonly ncpEnabled: { ipv4: boolean; ipv6: boolean };
  private ncp: { ipv4: NcpState; ipv6: NcpState } = { ipv4: "off", ipv6: "off" };
  private ncpCause: { ipv4: Cause | null; ipv6: Cause | null } = { ipv4: null, ipv6: null };
  private authMachine: AuthMachine | null = null;
  private authState: PppStatus["auth"] = null;
  private frames: PppFrame[] = [];
  private ipOut: { version: 4 | 6; packet: Uint8Array }[] = [];
  private events: PppEvent[] = [];
  private pendingCause: Cause | null = null;
  private lastCause: Cause | null = null;
  private adminClose: string | null = null;
  private peerTermMessage: string | null = null;
  private downReported = true;
  // echo keep-alive: its clock is derived from these (echoDue), not stored
  private echoRunning = false;
  /** When LCP opened: the anchor before any frame or request of this link. */
  private echoStartedAt = 0;
  /** Echo-Requests sent since the last frame received from the peer. */
  private echoUnanswered = 0;
  /** Of those, how many have had their grace (echoGraceMs) and are counted missed. */
  private echoMissedCount = 0;
  private lastEchoSentAt: number | null = null;
  /** Identifier → send time of recent Echo-Requests, for the round trip. */
  private readonly echoInFlight = new Map<number, number>();
  private echoRttMs: number | null = null;
  /** Time of the last frame received from the peer (any protocol); null before the first. */
  private lastRxAt: number | null = null;
  private readonly counters: PppCounters = {
    byClass: { lcp: newTraffic(), auth: newTraffic(), ncp: newTraffic(), ipv4: newTraffic(), ipv6: newTraffic(), other: newTraffic() },
    protocolRejectsSent: 0,
    protocolRejectsReceived: 0,
    discarded: 0,
    ipDropped: 0,
    echoRequestsSent: 0,
    echoRepliesReceived: 0,
  };

  constructor(opts: PppSessionOptions) {
    this.opts = opts;
    this.random = opts.random ?? defaultRandom;
    this.ncpEnabled = opts.ncps ?? { ipv4: true, ipv6: false };
    const method = opts.auth?.method ?? "none";
    this.lcp = new Lcp(
      {
        role: opts.role,
        authMethod: method,
        mru: opts.mru ?? DEFAULT_MRU,
        accm: opts.accm ?? 0,
        compression: opts.compression ?? true,
        loopbackLimit: opts.loopbackLimit ?? 5,
        random32: () => readU32(this.random(4)),
      },
      {
        up: () => this.lcpUp(),
        down: () => this.lcpDown(),
        started: () => {},
        finished: () => this.lcpFinished(),
        echoReply: (_data, id) => {
          // Liveness was already credited in input() (any frame counts); here only the round trip.
          this.counters.echoRepliesReceived++;
          const sentAt = this.echoInFlight.get(id);
          if (sentAt !== undefined) {
            this.echoRttMs = this.now - sentAt;
            this.echoInFlight.delete(id);
          }
        },
        protocolRejected: (p) => this.peerProtocolReject(p),
        codeRejected: (c) => this.emit({ type: "ppp.notice", at: this.now, what: "peer-code-reject", detail: `peer rejected LCP code ${c}` }),
        loopback: () => this.fail("loopback", "our own LCP magic number keeps coming back"),
        notice: (what, detail) => this.emit({ type: "ppp.notice", at: this.now, what, detail }),
      },
    );
    this.lcpFsm = new Fsm(PROTO.LCP, this.lcp, this.fsmHost("lcp"), opts.lcp);
    this.lcp.fsm = this.lcpFsm;

    this.ipcp = new Ipcp(
      {
        role: opts.role,
        requestDns: opts.requestDns ?? true,
        placeholderRemote: opts.placeholderRemote ?? PLACEHOLDER_REMOTE,
        ...(opts.server ? { serverLocal: opts.server.localIPv4, serverPeer: opts.server.peerIPv4, serverDns: opts.server.dns ?? [] } : {}),
      },
      {
        up: () => this.ipcpUp(),
        down: () => this.ncpDown("ipv4"),
        started: () => {},
        finished: () => this.ncpFinished("ipv4"),
      },
    );
    this.ipcpFsm = new Fsm(PROTO.IPCP, this.ipcp, this.fsmHost("ipcp"), opts.ncp);

    this.ipv6cp = new Ipv6cp(this.random, {
      up: () => this.ipv6cpUp(),
      down: () => this.ncpDown("ipv6"),
      started: () => {},
      finished: () => this.ncpFinished("ipv6"),
    });
    this.ipv6cpFsm = new Fsm(PROTO.IPV6CP, this.ipv6cp, this.fsmHost("ipv6cp"), opts.ncp);
  }

  // ------------------------------------------------------------------ API

  /** The lower layer is up (CONNECT seen) and the link is administratively opened. */
  open(now: number): void {
    this.now = now;
    this.pendingCause = null;
    this.adminClose = null;
    this.peerTermMessage = null;
    this.downReported = false;
    this.authMachine = null;
    this.authState = null;
    this.setPhase("establish");
    switch (this.lcpFsm.state) {
      case "initial":
        this.lcpFsm.open(now);
        this.lcpFsm.up(now);
        break;
      case "starting":
        this.lcpFsm.up(now);
        break;
      case "stopped":
        // Restart option (RFC 1661 §4.3 "3r"): Down then Up begins anew.
        this.lcpFsm.down(now);
        this.lcpFsm.up(now);
        break;
      default:
        this.lcpFsm.open(now);
    }
  }

  input(frame: PppFrame, now: number): void {
    this.now = now;
    const c = this.counters.byClass[classOf(frame.protocol)];
    c.framesIn++;
    c.bytesIn += frame.info.length;
    // Any frame from the peer, whatever its protocol, proves it alive: the
    // echo keep-alive starts counting again from here.
    this.lastRxAt = now;
    this.echoUnanswered = 0;
    this.echoMissedCount = 0;
    try {
      this.dispatchFrame(frame, now);
    } catch (err) {
      // A core never lets peer bytes throw out (DESIGN.md rule 6); a bug here is counted and reported.
      this.counters.discarded++;
      this.emit({ type: "ppp.notice", at: now, what: "malformed", detail: `internal error on protocol 0x${frame.protocol.toString(16)}: ${String(err)}` });
    }
  }

  poll(now: number): void {
    this.now = now;
    this.lcpFsm.poll(now);
    this.authMachine?.poll(now);
    this.ipcpFsm.poll(now);
    this.ipv6cpFsm.poll(now);
    this.pollEcho(now);
  }

  /** Administrative Close: LCP Terminate-Request carrying `reason`. */
  close(reason: string, now: number): void {
    this.now = now;
    if (this.phase === "dead") return;
    this.adminClose = reason;
    this.emit({ type: "ppp.terminate", at: now, by: "local", message: reason });
    this.lcpFsm.close(reason, now);
    if (this.lcpIsIdle()) this.goDead();
  }

  /** Carrier lost (NO CARRIER, hang-up): the lower layer is down. */
  lowerDown(now: number): void {
    this.now = now;
    if (this.phase !== "dead" && this.adminClose === null) this.setCause("carrier-lost", "the serial link left data mode");
    this.ipcpFsm.down(now);
    this.ipv6cpFsm.down(now);
    this.lcpFsm.down(now);
    this.goDead();
  }

  /** Queue an IP packet; false (and counted) when that family's NCP is not open or it exceeds the peer's MRU. */
  sendIp(version: 4 | 6, packet: Uint8Array, now: number): boolean {
    this.now = now;
    const open = version === 4 ? this.ipcpFsm.state === "opened" && this.ncp.ipv4 === "open" : this.ipv6cpFsm.state === "opened" && this.ncp.ipv6 === "open";
    if (!open || packet.length > this.peerMru()) {
      this.counters.ipDropped++;
      return false;
    }
    this.sendFrame(version === 4 ? PROTO.IPV4 : PROTO.IPV6, packet);
    return true;
  }

  /** Everything produced since the last drain: frames to send, IP packets received, events. */
  drain(): { frames: PppFrame[]; ip: { version: 4 | 6; packet: Uint8Array }[]; events: PppEvent[] } {
    const out = { frames: this.frames, ip: this.ipOut, events: this.events };
    this.frames = [];
    this.ipOut = [];
    this.events = [];
    return out;
  }

  nextDeadline(): number | null {
    let d: number | null = null;
    for (const t of [this.lcpFsm.deadline, this.authMachine?.deadline ?? null, this.ipcpFsm.deadline, this.ipv6cpFsm.deadline, this.echoDue()]) {
      if (t !== null && (d === null || t < d)) d = t;
    }
    return d;
  }

  /**
   * When the last frame from the peer arrived (any protocol), null before the
   * first. The hang-up path uses it to tell a listening peer from a frozen one.
   */
  lastFrameReceivedAt(): number | null {
    return this.lastRxAt;
  }

  /**
   * How we must frame what we send, as the peer asked and we acked (RFC 1662
   * §7.1: defaults until LCP is Opened). LCP frames themselves always go with
   * ACFC and PFC off (RFC 1661 §6.5, §6.6); the link adapter applies that.
   */
  txFraming(): Framing {
    if (this.lcpFsm.state !== "opened") return { ...DEFAULT_FRAMING };
    const h = this.lcp.his;
    return { accm: h.accm ?? 0xffffffff, acfc: h.acfc, pfc: h.pfc, fcs32: false };
  }

  /** What we asked the peer for: the receive ACCM and MRU (never below 1500, RFC 1661 §6.1). */
  rxFraming(): { accm: number; mru: number; fcs32: boolean } {
    if (this.lcpFsm.state !== "opened") return { accm: 0xffffffff, mru: DEFAULT_MRU, fcs32: false };
    const g = this.lcp.got;
    return { accm: g.accm ?? 0xffffffff, mru: Math.max(DEFAULT_MRU, g.mru ?? DEFAULT_MRU), fcs32: false };
  }

  status(): PppStatus {
    const v4 = this.ncp.ipv4 === "open" ? this.ipcp.result() : null;
    const v6 = this.ncp.ipv6 === "open" ? this.ipv6cp.result() : null;
    return {
      role: this.opts.role,
      phase: this.phase,
      lcp: this.lcpFsm.state,
      ipcp: this.ipcpFsm.state,
      ipv6cp: this.ipv6cpFsm.state,
      auth: this.authState ? { ...this.authState } : null,
      ipv4: v4,
      ipv6: v6,
      mru: this.rxFraming().mru,
      peerMru: this.peerMru(),
      counters: structuredClone(this.counters),
      lastCause: this.lastCause,
      peerTerminateMessage: this.peerTermMessage,
      echo: { open: this.lcpFsm.state === "opened", missed: this.echoMissedCount, rttMs: this.echoRttMs },
    };
  }

  // ------------------------------------------------------------ internals

  private peerMru(): number {
    return this.lcpFsm.state === "opened" ? (this.lcp.his.mru ?? DEFAULT_MRU) : DEFAULT_MRU;
  }

  private emit(e: PppEvent): void {
    this.events.push(e);
  }

  private setPhase(to: PppPhase): void {
    if (this.phase === to) return;
    const from = this.phase;
    this.phase = to;
    this.emit({ type: "ppp.phase", at: this.now, from, to, phase: to });
  }

  private sendFrame(protocol: number, info: Uint8Array): void {
    const c = this.counters.byClass[classOf(protocol)];
    c.framesOut++;
    c.bytesOut += info.length;
    this.frames.push({ protocol, info });
  }

  private fsmHost(name: "lcp" | "ipcp" | "ipv6cp"): FsmHost {
    return {
      send: (protocol, packet) => this.sendFrame(protocol, packet),
      stateChanged: (from, to, event) => this.fsmStateChanged(name, from, to, event),
      terminateRequested: (data) => this.terminateRequested(name, data),
      discarded: (why) => {
        this.counters.discarded++;
        this.emit({ type: "ppp.notice", at: this.now, what: "malformed", detail: `${name}: ${why}` });
      },
    };
  }

  private fsmStateChanged(name: "lcp" | "ipcp" | "ipv6cp", from: FsmState, to: FsmState, event: FsmEvent): void {
    this.emit({ type: "ppp.fsm", at: this.now, protocol: name, from, to, event });
    if (name === "lcp") {
      // The peer restarted negotiation (RCR in Stopped, or in Opened): back to Establish.
      if ((to === "req-sent" || to === "ack-sent") && (this.phase === "dead" || this.phase === "terminate")) {
        this.downReported = false;
        this.setPhase("establish");
      }
    }
  }

  /** This-Layer-Finished because Max-Configure ran out while negotiating (TO- in Req-Sent/Ack-Rcvd/Ack-Sent)? */
  private static negotiationTimedOut(fsm: Fsm): boolean {
    const s = fsm.state;
    return fsm.currentEvent === "TO-" && (s === "req-sent" || s === "ack-rcvd" || s === "ack-sent");
  }

  private terminateRequested(name: "lcp" | "ipcp" | "ipv6cp", data: Uint8Array): void {
    const message = peerText(data);
    if (name !== "lcp") {
      const fam = name === "ipcp" ? "ipv4" : "ipv6";
      this.ncpCause[fam] ??= cause("terminated-by-peer", `${name.toUpperCase()} Terminate-Request${message ? `: "${message}"` : ""}`);
      return;
    }
    if (this.lcpFsm.state !== "opened" && this.phase === "establish") {
      // Terminate during negotiation: answered with Terminate-Ack, negotiation continues.
      this.peerTermMessage = message;
      this.emit({ type: "ppp.terminate", at: this.now, by: "peer", message });
      return;
    }
    this.peerTermMessage = message;
    this.emit({ type: "ppp.terminate", at: this.now, by: "peer", message });
    if (this.adminClose !== null) return;
    const detail = message ? `peer said "${message}"` : "peer sent LCP Terminate-Request without a message";
    const noNcpOpen = this.ncp.ipv4 !== "open" && this.ncp.ipv6 !== "open";
    // RFC-wise nothing special, but on cellular this is the classic symptom of
    // dialling before packet-service attach (DESIGN.md field report).
    if (this.phase === "network" && noNcpOpen) this.setCause("terminated-after-auth", detail);
    else this.setCause("terminated-by-peer", detail);
  }

  private setCause(code: CauseCode, detail?: string): void {
    if (this.pendingCause === null) this.pendingCause = cause(code, detail);
  }

  /** A failure that ends the link: record the cause and close LCP. */
  private fail(code: CauseCode, detail: string): void {
    this.setCause(code, detail);
    if (this.lcpFsm.state === "closing" || this.lcpFsm.state === "closed" || this.lcpFsm.state === "stopping" || this.lcpFsm.state === "stopped") {
      return;
    }
    this.lcpFsm.close(detail, this.now);
    if (this.lcpIsIdle()) this.goDead();
  }

  /**
   * The peer stopped answering (echo keep-alive): end the link now. RFC 1661
   * §5.5 would have us resend Terminate-Request on the Restart timer up to
   * Max-Terminate times and wait for the Ack, but a peer that has answered
   * nothing for `echo_failures` intervals will not answer that either; the
   * wait only delays the redial (field report: 12.7 s). So: one Terminate-
   * Request as a courtesy (RFC 1661 §3.7 lets us go Dead without the Ack),
   * then the lower layer is treated as down (Closing + Down → Initial, §4.1,
   * which stops the Restart timer) and the session is Dead at once.
   */
  private peerDead(detail: string): void {
    this.setCause("peer-dead", detail);
    this.lcpFsm.close(detail, this.now);
    this.lcpFsm.down(this.now);
    this.goDead();
  }

  /** After a Close: nothing left to wait for (no Terminate-Ack outstanding). */
  private lcpIsIdle(): boolean {
    const s: FsmState = this.lcpFsm.state;
    return s === "initial" || s === "closed";
  }

  private goDead(): void {
    this.stopNetwork();
    this.setPhase("dead");
    if (this.downReported) return;
    this.downReported = true;
    const c = this.pendingCause;
    if (c) this.lastCause = c;
    const reason = c ? c.detail ?? c.hint : this.adminClose ?? "link closed";
    this.emit(c ? { type: "ppp.dead", at: this.now, cause: c, reason } : { type: "ppp.dead", at: this.now, reason });
  }

  private stopNetwork(): void {
    this.echoRunning = false;
    this.echoUnanswered = 0;
    this.echoMissedCount = 0;
    this.echoInFlight.clear();
    this.authMachine = null;
  }

  // ---- LCP callbacks

  private lcpUp(): void {
    const l = this.lcp;
    const method = this.opts.role === "server" ? l.got.auth : l.his.auth;
    this.emit({
      type: "ppp.lcp.up",
      at: this.now,
      mru: this.rxFraming().mru,
      peerMru: this.peerMru(),
      auth: method,
      txAccm: l.his.accm ?? 0xffffffff,
      rxAccm: l.got.accm ?? 0xffffffff,
      pfc: l.his.pfc,
      acfc: l.his.acfc,
    });
    this.startEcho();
    const demanded = this.opts.role === "server" && (this.opts.auth?.method ?? "none") !== "none";
    if (demanded && method === null) {
      this.fail("auth-rejected", "the peer refused every authentication protocol we accept");
      return;
    }
    if (method === null) {
      this.enterNetwork();
      return;
    }
    this.setPhase("authenticate");
    this.authState = { method, result: "pending", message: "" };
    this.authMachine = this.makeAuth(method);
    this.authMachine.start(this.now);
  }

  private makeAuth(method: "pap" | "chap"): AuthMachine {
    const a = this.opts.auth;
    const host = {
      send: (info: Uint8Array) => this.sendFrame(method === "pap" ? PROTO.PAP : PROTO.CHAP, info),
      done: (o: AuthOutcome) => this.authDone(method, o),
      discarded: () => {
        this.counters.discarded++;
      },
    };
    const t = this.opts.authTimers ?? {};
    if (this.opts.role === "client") {
      const user = a?.username ?? "";
      const pass = a?.password ?? "";
      return method === "pap" ? new PapClient(user, pass, host, t) : new ChapClient(user, pass, host, t);
    }
    const verifier = a?.verifier ?? { secretFor: () => undefined };
    return method === "pap" ? new PapServer(verifier, host, t) : new ChapServer(verifier, host, this.random, a?.name ?? "cellkeep", t);
  }

  private authDone(method: "pap" | "chap", o: AuthOutcome): void {
    this.authState = { method, result: o.result, message: o.message };
    this.emit({
      type: "ppp.auth",
      at: this.now,
      role: this.opts.role,
      method,
      result: o.result,
      message: o.message,
      ...(o.peerName !== undefined ? { peerName: o.peerName } : {}),
    });
    if (o.result === "success") {
      if (this.phase === "authenticate") this.enterNetwork();
      return;
    }
    if (o.result === "timeout") this.fail("auth-timeout", `${method.toUpperCase()}: ${o.message}`);
    else this.fail("auth-rejected", `${method.toUpperCase()} ${this.opts.role === "client" ? "peer said" : "we answered"} "${o.message}"`);
  }

  private lcpDown(): void {
    // RFC 1661 §3.7: leaving Opened takes the NCPs down and enters Terminate
    // (marked off first, so their Down does not step the phase back to Network).
    this.ncp = { ipv4: "off", ipv6: "off" };
    this.ipcpFsm.down(this.now);
    this.ipv6cpFsm.down(this.now);
    this.stopNetwork();
    this.setPhase("terminate");
  }

  private lcpFinished(): void {
    if (PppSession.negotiationTimedOut(this.lcpFsm)) {
      this.setCause("lcp-timeout", `no agreement after ${this.lcpFsm.timers.maxConfigure} LCP Configure-Requests`);
    }
    this.goDead();
  }

  private peerProtocolReject(protocol: number): void {
    this.counters.protocolRejectsReceived++;
    this.emit({ type: "ppp.notice", at: this.now, what: "peer-protocol-reject", detail: `peer rejected protocol 0x${protocol.toString(16).padStart(4, "0")}` });
    // RFC 1661 §5.7: stop sending that protocol; for an NCP that is RXJ-.
    if (protocol === PROTO.IPCP && this.ncp.ipv4 === "pending") {
      this.ncpCause.ipv4 ??= cause("ipcp-timeout", "the peer rejected IPCP (Protocol-Reject)");
      this.ipcpFsm.rejected(this.now);
    } else if (protocol === PROTO.IPV6CP && this.ncp.ipv6 === "pending") {
      this.ncpCause.ipv6 ??= cause("ipcp-timeout", "the peer rejected IPV6CP (Protocol-Reject); the network offers no IPv6");
      this.ipv6cpFsm.rejected(this.now);
    }
  }

  // ---- network phase

  private enterNetwork(): void {
    this.setPhase("network");
    this.ncpCause = { ipv4: null, ipv6: null };
    if (this.ncpEnabled.ipv4) {
      this.ncp.ipv4 = "pending";
      this.ipcpFsm.open(this.now);
      this.ipcpFsm.up(this.now);
    }
    if (this.ncpEnabled.ipv6) {
      this.ncp.ipv6 = "pending";
      this.ipv6cpFsm.open(this.now);
      this.ipv6cpFsm.up(this.now);
    }
    if (!this.ncpEnabled.ipv4 && !this.ncpEnabled.ipv6) this.fail("ipcp-no-address", "no network protocol enabled (ncps.ipv4 and ncps.ipv6 both false)");
  }

  private ipcpUp(): void {
    const r = this.ipcp.result();
    if (r.local === "0.0.0.0" && this.opts.role === "client") {
      // RFC 1332 leaves us without an address: nothing can be routed.
      this.ncpCause.ipv4 = cause("ipcp-no-address", "IPCP opened but the peer never assigned an IPv4 address");
      this.ipcpFsm.close("no IP address", this.now);
      return;
    }
    this.ncp.ipv4 = "open";
    this.emit({ type: "ppp.ipcp.up", at: this.now, ...r });
    this.checkOpen();
  }

  private ipv6cpUp(): void {
    this.ncp.ipv6 = "open";
    this.emit({ type: "ppp.ipv6cp.up", at: this.now, ...this.ipv6cp.result() });
    this.checkOpen();
  }

  private ncpDown(fam: "ipv4" | "ipv6"): void {
    if (this.ncp[fam] !== "open" || this.lcpFsm.state !== "opened") return;
    // The NCP left Opened (peer renegotiates or terminates it): back to
    // negotiating; with no family left open the link is not Open any more.
    this.ncp[fam] = "pending";
    if (this.phase === "open" && this.ncp.ipv4 !== "open" && this.ncp.ipv6 !== "open") this.setPhase("network");
  }

  private ncpFinished(fam: "ipv4" | "ipv6"): void {
    if (this.ncp[fam] === "off" || this.lcpFsm.state !== "opened") return;
    const fsm = fam === "ipv4" ? this.ipcpFsm : this.ipv6cpFsm;
    if (PppSession.negotiationTimedOut(fsm)) {
      if (fam === "ipv4" && this.ipcp.noAddressOffered) {
        this.ncpCause.ipv4 ??= cause("ipcp-no-address", `IPCP did not open after ${fsm.timers.maxConfigure} Configure-Requests: the network offered only 0.0.0.0 as our address`);
      }
      this.ncpCause[fam] ??= cause("ipcp-timeout", `${fam === "ipv4" ? "IPCP" : "IPV6CP"} did not open after ${fsm.timers.maxConfigure} Configure-Requests`);
    }
    this.ncp[fam] = "failed";
    const c = this.ncpCause[fam] ?? cause(fam === "ipv4" ? "ipcp-timeout" : "ipcp-timeout", `${fam === "ipv4" ? "IPCP" : "IPV6CP"} finished without opening`);
    const other = fam === "ipv4" ? this.ncp.ipv6 : this.ncp.ipv4;
    const tolerated = other === "open" || other === "pending";
    this.emit({ type: "ppp.ncp.down", at: this.now, protocol: fam === "ipv4" ? "ipcp" : "ipv6cp", cause: c, tolerated });
    if (!tolerated) {
      this.fail(c.code, c.detail ?? c.hint);
      return;
    }
    this.checkOpen();
  }

  /** Open when every enabled NCP has settled and at least one is open. */
  private checkOpen(): void {
    if (this.phase !== "network") return;
    const settled = (s: NcpState) => s === "off" || s === "open" || s === "failed";
    if (!settled(this.ncp.ipv4) || !settled(this.ncp.ipv6)) return;
    const v4 = this.ncp.ipv4 === "open";
    const v6 = this.ncp.ipv6 === "open";
    if (!v4 && !v6) return;
    this.setPhase("open");
    this.emit({ type: "ppp.open", at: this.now, ipv4: v4, ipv6: v6 });
  }

  // ---- echo keep-alive (RFC 1661 §5.8; pppd lcp-echo-interval / lcp-echo-failure)
  //
  // The echo clock is anchored on the last frame received from the peer, not
  // on a free-running tick: with interval I and failures F, and the peer
  // silent from time t0 (its last frame),
  //   - a request goes out at t0 + I (idle mode: exactly; default mode: at
  //     the latest, as its every-interval cadence may fall earlier), then
  //     every I while nothing arrives: the F-th at t0 + F·I at the latest;
  //   - the F-th gets a grace G = min(I, 1 s) to be answered (the PPP peer is
  //     the modem on a local serial line: replies take milliseconds);
  //   - with still nothing received, the peer is dead.
  // So death is declared at most I·F + G ≤ I·F + 1 s after the last frame
  // received (2 s × 3: 7 s), and never while frames arrive, since any frame
  // resets the count. A free-running tick would add up to one more interval
  // (the tick after the last frame may be almost I away) and a check one tick
  // after the F-th request another one.

  /** Time the last Echo-Request may take to be answered before it counts as missed. */
  static echoGraceMs(intervalMs: number): number {
    return Math.min(intervalMs, 1000);
  }

  private startEcho(): void {
    const e = this.opts.echo;
    this.echoRunning = e !== undefined && e.intervalMs > 0;
    this.echoStartedAt = this.now;
    this.echoUnanswered = 0;
    this.echoMissedCount = 0;
    this.lastEchoSentAt = null;
    this.echoInFlight.clear();
  }

  /** When the echo keep-alive next has to act (a request's grace ends, or a request is due); null when off. */
  private echoDue(): number | null {
    const grace = this.echoGraceDue();
    const request = this.echoRequestDue();
    return grace === null ? request : request === null ? grace : Math.min(grace, request);
  }

  /** The newest request's grace ends: from then it counts as missed. */
  private echoGraceDue(): number | null {
    const e = this.opts.echo;
    if (!e || !this.echoRunning || this.lastEchoSentAt === null || this.echoMissedCount >= this.echoUnanswered) return null;
    return this.lastEchoSentAt + PppSession.echoGraceMs(e.intervalMs);
  }

  private echoRequestDue(): number | null {
    const e = this.opts.echo;
    if (!e || !this.echoRunning || this.lcpFsm.state !== "opened" || !this.lcp.echoSupported) return null;
    if (this.echoUnanswered >= e.failures) return null; // the last one is out: only its grace is left
    const interval = e.intervalMs;
    const lastSent = this.lastEchoSentAt ?? this.echoStartedAt;
    if (this.echoUnanswered > 0) return lastSent + interval;
    // Nothing outstanding: one interval of silence since the last frame sends
    // a request. Default mode also sends one every interval while traffic
    // flows, to measure the round trip (RFC 1661 §5.8 leaves the policy to
    // the implementation; idle mode is pppd's lcp-echo-adaptive).
    const lastRx = Math.max(this.lastRxAt ?? this.echoStartedAt, this.echoStartedAt);
    return e.skipWhenBusy === true ? lastRx + interval : Math.min(lastRx, lastSent) + interval;
  }

  private pollEcho(now: number): void {
    const e = this.opts.echo;
    if (!e) return;
    const grace = this.echoGraceDue();
    if (grace !== null && now >= grace) {
      this.echoMissedCount = this.echoUnanswered;
      this.emit({ type: "ppp.notice", at: now, what: "echo-missed", detail: `${this.echoMissedCount} of ${e.failures} LCP Echo-Requests unanswered` });
      if (this.echoMissedCount >= e.failures) {
        const silentMs = now - Math.max(this.lastRxAt ?? this.echoStartedAt, this.echoStartedAt);
        this.peerDead(`no reply to ${this.echoMissedCount} LCP Echo-Requests (${e.intervalMs} ms apart), nothing received for ${silentMs} ms`);
        return;
      }
    }
    const request = this.echoRequestDue();
    if (request === null || now < request) return;
    const id = this.lcp.sendEchoRequest();
    this.echoInFlight.set(id, now);
    // Only the recent few matter for the round trip; a peer that ignores
    // Echo while sending traffic must not grow this without bound.
    if (this.echoInFlight.size > 8) this.echoInFlight.delete(this.echoInFlight.keys().next().value!);
    this.lastEchoSentAt = now;
    this.counters.echoRequestsSent++;
    this.echoUnanswered++;
  }

  // ---- frame dispatch

  private dispatchFrame(frame: PppFrame, now: number): void {
    const lcpOpen = this.lcpFsm.state === "opened";
    const inNetwork = this.phase === "network" || this.phase === "open";
    switch (frame.protocol) {
      case PROTO.LCP:
        this.lcpFsm.input(frame.info, now);
        return;
      case PROTO.PAP:
      case PROTO.CHAP: {
        const m = this.authMachine;
        const want = frame.protocol === PROTO.PAP ? "pap" : "chap";
        if (lcpOpen && m && m.method === want) m.input(frame.info, now);
        else this.counters.discarded++;
        return;
      }
      case PROTO.IPCP:
        if (!this.ncpEnabled.ipv4) return this.rejectProtocol(frame);
        // RFC 1661 §3.4/§3.5: NCP packets before the Network phase are discarded.
        if (inNetwork) this.ipcpFsm.input(frame.info, now);
        else this.counters.discarded++;
        return;
      case PROTO.IPV6CP:
        if (!this.ncpEnabled.ipv6) return this.rejectProtocol(frame);
        if (inNetwork) this.ipv6cpFsm.input(frame.info, now);
        else this.counters.discarded++;
        return;
      case PROTO.IPV4:
        if (this.ncp.ipv4 === "open" && this.ipcpFsm.state === "opened") this.ipOut.push({ version: 4, packet: frame.info });
        else this.counters.ipDropped++;
        return;
      case PROTO.IPV6:
        if (this.ncp.ipv6 === "open" && this.ipv6cpFsm.state === "opened") this.ipOut.push({ version: 6, packet: frame.info });
        else this.counters.ipDropped++;
        return;
      default:
        return this.rejectProtocol(frame);
    }
  }

  /** RFC 1661 §5.7: Protocol-Reject an unsupported protocol, only while LCP is Opened. */
  private rejectProtocol(frame: PppFrame): void {
    if (this.lcpFsm.state !== "opened") {
      this.counters.discarded++;
      return;
    }
    this.counters.protocolRejectsSent++;
    const data = protocolRejectData(frame.protocol, frame.info, this.peerMru());
    this.lcpFsm.sendRaw(CODE.PROTO_REJ, this.lcpFsm.allocId(), data);
    this.emit({ type: "ppp.notice", at: this.now, what: "protocol-rejected", detail: `rejected protocol 0x${frame.protocol.toString(16).padStart(4, "0")}` });
  }
}

/**
 * The RFC 1661 option-negotiation automaton, once, for LCP, IPCP and IPV6CP
 * (DESIGN.md rule 2). Each protocol plugs in an OptionHandler (after lwIP's
 * fsm.c callback table: reset, build request, ack/nak/reject of our request,
 * check the peer's request, up/down/started/finished).
 *
 * The automaton does no I/O and never reads the clock: packets go out through
 * the FsmHost, time comes in as `now`, and the Restart timer is data
 * (`deadline`), fired by `poll(now)`.
 */
import {
  bytesEqual,
  CODE,
  type ConfigOption,
  emitOptions,
  emitPacket,
  type ControlPacket,
  parseOptions,
  parsePacket,
  u16,
} from "./packet.ts";

/** RFC 1661 §4.2 states, numbered 0..9 as in the RFC. */
export const FSM_STATES = [
  "initial",
  "starting",
  "closed",
  "stopped",
  "closing",
  "stopping",
  "req-sent",
  "ack-rcvd",
  "ack-sent",
  "opened",
] as const;
export type FsmState = (typeof FSM_STATES)[number];

/** RFC 1661 §4.3 events. */
export const FSM_EVENTS = [
  "Up",
  "Down",
  "Open",
  "Close",
  "TO+",
  "TO-",
  "RCR+",
  "RCR-",
  "RCA",
  "RCN",
  "RTR",
  "RTA",
  "RUC",
  "RXJ+",
  "RXJ-",
  "RXR",
] as const;
export type FsmEvent = (typeof FSM_EVENTS)[number];

/** RFC 1661 §4.4 actions. */
export type FsmAction = "tlu" | "tld" | "tls" | "tlf" | "irc" | "zrc" | "scr" | "sca" | "scn" | "str" | "sta" | "scj" | "ser";

export interface Transition {
  next: FsmState;
  actions: readonly FsmAction[];
}

type Row = Partial<Record<FsmEvent, string>>;

/**
 * The RFC 1661 §4.1 state transition table, one row per state, written in the
 * RFC's own notation ("irc,scr/6" = actions irc, scr then state 6). A missing
 * entry is the RFC's "-": the event cannot happen in that state (e.g. a packet
 * while the lower layer is down) and is ignored. The RFC's option suffixes
 * (p passive, r restart, x crossed connection) need no different behaviour
 * here and are omitted.
 */
const TABLE: Record<FsmState, Row> = {
  initial: { Up: "2", Open: "tls/1", Close: "0" },
  starting: { Up: "irc,scr/6", Open: "1", Close: "tlf/0" },
  closed: {
    Down: "0", Open: "irc,scr/6", Close: "2",
    "RCR+": "sta/2", "RCR-": "sta/2", RCA: "sta/2", RCN: "sta/2", RTR: "sta/2", RTA: "2",
    RUC: "scj/2", "RXJ+": "2", "RXJ-": "tlf/2", RXR: "2",
  },
  stopped: {
    Down: "tls/1", Open: "3", Close: "2",
    "RCR+": "irc,scr,sca/8", "RCR-": "irc,scr,scn/6", RCA: "sta/3", RCN: "sta/3", RTR: "sta/3", RTA: "3",
    RUC: "scj/3", "RXJ+": "3", "RXJ-": "tlf/3", RXR: "3",
  },
  closing: {
    Down: "0", Open: "5", Close: "4", "TO+": "str/4", "TO-": "tlf/2",
    "RCR+": "4", "RCR-": "4", RCA: "4", RCN: "4", RTR: "sta/4", RTA: "tlf/2",
    RUC: "scj/4", "RXJ+": "4", "RXJ-": "tlf/2", RXR: "4",
  },
  stopping: {
    Down: "1", Open: "5", Close: "4", "TO+": "str/5", "TO-": "tlf/3",
    "RCR+": "5", "RCR-": "5", RCA: "5", RCN: "5", RTR: "sta/5", RTA: "tlf/3",
    RUC: "scj/5", "RXJ+": "5", "RXJ-": "tlf/3", RXR: "5",
  },
  "req-sent": {
    Down: "1", Open: "6", Close: "irc,str/4", "TO+": "scr/6", "TO-": "tlf/3",
    "RCR+": "sca/8", "RCR-": "scn/6", RCA: "irc/7", RCN: "irc,scr/6", RTR: "sta/6", RTA: "6",
    RUC: "scj/6", "RXJ+": "6", "RXJ-": "tlf/3", RXR: "6",
  },
  "ack-rcvd": {
    Down: "1", Open: "7", Close: "irc,str/4", "TO+": "scr/6", "TO-": "tlf/3",
    "RCR+": "sca,tlu/9", "RCR-": "scn/7", RCA: "scr/6", RCN: "scr/6", RTR: "sta/6", RTA: "6",
    RUC: "scj/7", "RXJ+": "6", "RXJ-": "tlf/3", RXR: "7",
  },
  "ack-sent": {
    Down: "1", Open: "8", Close: "irc,str/4", "TO+": "scr/8", "TO-": "tlf/3",
    "RCR+": "sca/8", "RCR-": "scn/6", RCA: "irc,tlu/9", RCN: "irc,scr/8", RTR: "sta/6", RTA: "8",
    RUC: "scj/8", "RXJ+": "8", "RXJ-": "tlf/3", RXR: "8",
  },
  opened: {
    Down: "tld/1", Open: "9", Close: "tld,irc,str/4",
    "RCR+": "tld,scr,sca/8", "RCR-": "tld,scr,scn/6", RCA: "tld,scr/6", RCN: "tld,scr/6",
    RTR: "tld,zrc,sta/5", RTA: "tld,scr/6", RUC: "scj/9", "RXJ+": "9", "RXJ-": "tld,irc,str/5", RXR: "ser/9",
  },
};

/** Look up (state, event) in the RFC table; null for the RFC's "-" (ignored). */
export function transition(state: FsmState, event: FsmEvent): Transition | null {
  const cell = TABLE[state][event];
  if (cell === undefined) return null;
  const slash = cell.indexOf("/");
  const stateNo = Number(slash < 0 ? cell : cell.slice(slash + 1));
  const actions = slash < 0 ? [] : (cell.slice(0, slash).split(",") as FsmAction[]);
  const next = FSM_STATES[stateNo];
  if (next === undefined) throw new Error(`bad fsm table cell ${state}/${event}: ${cell}`);
  return { next, actions };
}

/** RFC 1661 §4.6 counters and timer. */
export interface FsmTimers {
  /** Restart timer, ms (default 3000). */
  restartMs: number;
  /** Terminate-Requests sent without Terminate-Ack before giving up (default 2). */
  maxTerminate: number;
  /** Configure-Requests sent without a reply before giving up (default 10). */
  maxConfigure: number;
  /** Configure-Naks sent without an Ack before Naks turn into Rejects (default 5). */
  maxFailure: number;
}

export const DEFAULT_FSM_TIMERS: FsmTimers = { restartMs: 3000, maxTerminate: 2, maxConfigure: 10, maxFailure: 5 };

/** Verdict on the peer's Configure-Request. */
export interface RequestVerdict {
  kind: "ack" | "nak" | "rej";
  /** For nak/rej: the options to send back. For ack: ignored (the request is echoed). */
  options: ConfigOption[];
}

/** Per-protocol option logic (lwIP fsm_callbacks). */
export interface OptionHandler {
  /** Reset our wanted options before a fresh negotiation (RFC 1661: new Configure-Request sequence). */
  resetCi(): void;
  /** Options for our next Configure-Request. */
  buildRequest(): ConfigOption[];
  /** The peer Acked our request (the Ack already matched it byte for byte): commit the values. */
  ackReceived(opts: ConfigOption[]): void;
  /** The peer Naked; adjust what we want. Return false if the Nak is bad (packet discarded). */
  nakReceived(opts: ConfigOption[]): boolean;
  /** The peer Rejected options; stop asking for them. Return false if the Reject is bad. */
  rejectReceived(opts: ConfigOption[]): boolean;
  /** Check the peer's request. `rejectIfDisagree` is set once Max-Failure Naks were sent (RFC 1661 §4.6). */
  checkRequest(opts: ConfigOption[], rejectIfDisagree: boolean): RequestVerdict;
  up(): void;
  down(): void;
  started(): void;
  finished(): void;
  /**
   * Codes beyond 1..7 (LCP: Protocol-Reject, Echo, Discard, Identification,
   * Time-Remaining). Return the automaton event, or "RUC" for an unknown code.
   */
  extraCode?(pkt: ControlPacket): "RXR" | "RXJ+" | "RXJ-" | "RUC";
  /** Action `ser` in Opened for an RXR packet (e.g. answer Echo-Request). */
  handleRxr?(pkt: ControlPacket): void;
  /** A Code-Reject arrived for `code`: is it catastrophic (RXJ-)? Default: codes 1..7 are. */
  codeRejectFatal?(code: number): boolean;
}

/** Where the automaton sends packets and reports state changes. */
export interface FsmHost {
  send(protocol: number, packet: Uint8Array): void;
  stateChanged(from: FsmState, to: FsmState, event: FsmEvent): void;
  /** A Terminate-Request from the peer, with its Data as text material. */
  terminateRequested?(data: Uint8Array): void;
  /** A packet was discarded as malformed or unexpected. */
  discarded?(why: string): void;
}

export class Fsm {
  state: FsmState = "initial";
  /** Restart timer deadline (absolute ms) or null when not running. */
  deadline: number | null = null;
  private restartCount = 0;
  private nakLoops = 0;
  /** Naks/Rejects received since the last Up/Open/Opened; bounds a peer that never converges. */
  private rnakLoops = 0;
  private reqId = 0;
  private lastRequest: Uint8Array | null = null;
  /** An answer to the current request was already taken (lwIP/pppd `seen_ack`): duplicates are stale. */
  private seenAnswer = false;
  private nextId = 1;
  private termReason: Uint8Array = new Uint8Array(0);
  readonly timers: FsmTimers;
  /** The RFC event being processed (lets This-Layer-Finished tell a timeout from a reject). */
  currentEvent: FsmEvent | null = null;

  /** The Restart counter (RFC 1661 §4.6), for status and tests. */
  get restartCounter(): number {
    return this.restartCount;
  }

  constructor(
    readonly protocol: number,
    private readonly handler: OptionHandler,
    private readonly host: FsmHost,
    timers: Partial<FsmTimers> = {},
  ) {
    this.timers = { ...DEFAULT_FSM_TIMERS, ...timers };
  }

  // ---- administrative and lower-layer events ----
  up(now: number): void {
    this.rnakLoops = 0;
    this.dispatch("Up", now);
  }
  down(now: number): void {
    this.dispatch("Down", now);
  }
  open(now: number): void {
    this.rnakLoops = 0;
    this.dispatch("Open", now);
  }
  /** Administrative Close; `reason` goes into the Terminate-Request's Data. */
  close(reason: string, now: number): void {
    this.termReason = new TextEncoder().encode(reason);
    this.dispatch("Close", now);
  }
  /** An RXJ- from outside (e.g. LCP got a Protocol-Reject for this NCP). */
  rejected(now: number): void {
    this.dispatch("RXJ-", now);
  }

  /** A fresh identifier for packets this protocol originates (Echo, Protocol-Reject...). */
  allocId(): number {
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xff;
    return id;
  }

  /** Fire the Restart timer if due (RFC 1661 §4.3 TO+ / TO-). */
  poll(now: number): void {
    if (this.deadline === null || now < this.deadline) return;
    this.deadline = null;
    this.dispatch(this.restartCount > 0 ? "TO+" : "TO-", now);
  }

  /** One received control packet (the PPP Information field). Never throws on peer bytes. */
  input(info: Uint8Array, now: number): void {
    const pkt = parsePacket(info);
    if (pkt === null) {
      this.host.discarded?.("short or bad-length control packet");
      return;
    }
    // RFC 1661 §4.3: no packets are expected before the lower layer is Up.
    if (this.state === "initial" || this.state === "starting") {
      this.host.discarded?.(`packet code ${pkt.code} while ${this.state}`);
      return;
    }
    switch (pkt.code) {
      case CODE.CONF_REQ:
        return this.rcvConfReq(pkt, now);
      case CODE.CONF_ACK:
        return this.rcvConfAck(pkt, now);
      case CODE.CONF_NAK:
      case CODE.CONF_REJ:
        return this.rcvConfNakRej(pkt, now);
      case CODE.TERM_REQ:
        this.host.terminateRequested?.(pkt.data);
        return this.dispatch("RTR", now, pkt);
      case CODE.TERM_ACK:
        return this.dispatch("RTA", now, pkt);
      case CODE.CODE_REJ: {
        const rejected = pkt.data[0];
        if (rejected === undefined) {
          this.host.discarded?.("empty Code-Reject");
          return;
        }
        const fatal = this.handler.codeRejectFatal ? this.handler.codeRejectFatal(rejected) : rejected >= 1 && rejected <= 7;
        return this.dispatch(fatal ? "RXJ-" : "RXJ+", now, pkt);
      }
      default: {
        const ev = this.handler.extraCode ? this.handler.extraCode(pkt) : "RUC";
        return this.dispatch(ev, now, pkt);
      }
    }
  }

  private rcvConfReq(pkt: ControlPacket, now: number): void {
    const opts = parseOptions(pkt.data);
    if (opts === null) {
      this.host.discarded?.("malformed Configure-Request options");
      return;
    }
    // Closed/Stopped/Closing/Stopping answer without looking at the options
    // (sta, or restart negotiation); only evaluate when it matters.
    const verdict = this.handler.checkRequest(opts, this.nakLoops >= this.timers.maxFailure);
    this.dispatch(verdict.kind === "ack" ? "RCR+" : "RCR-", now, pkt, verdict);
  }

  private rcvConfAck(pkt: ControlPacket, now: number): void {
    // RFC 1661 §5.2: the Identifier must match the last Configure-Request and
    // the options must match it exactly; otherwise silently discard.
    if (this.lastRequest === null || pkt.id !== this.reqId || this.seenAnswer || !bytesEqual(pkt.data, this.lastRequest)) {
      if (this.state === "closed" || this.state === "stopped") return this.dispatch("RCA", now, pkt); // sta
      this.host.discarded?.("Configure-Ack does not match our request");
      return;
    }
    if (this.state === "req-sent" || this.state === "ack-sent") {
      const opts = parseOptions(pkt.data);
      if (opts) this.handler.ackReceived(opts);
    }
    this.seenAnswer = true;
    this.dispatch("RCA", now, pkt);
  }

  private rcvConfNakRej(pkt: ControlPacket, now: number): void {
    if (this.state === "closed" || this.state === "stopped") return this.dispatch("RCN", now, pkt); // sta
    if (this.lastRequest === null || pkt.id !== this.reqId || this.seenAnswer) {
      this.host.discarded?.("Configure-Nak/Reject with a stale identifier");
      return;
    }
    const opts = parseOptions(pkt.data);
    if (opts === null) {
      this.host.discarded?.("malformed Configure-Nak/Reject options");
      return;
    }
    // A peer that keeps Naking to values we cannot take would loop forever
    // (RCN restarts the counter): after Max-Configure Naks ignore further
    // ones, so the Restart timer runs out and the failure gets a name.
    if (++this.rnakLoops > this.timers.maxConfigure) {
      this.host.discarded?.("too many Configure-Naks/Rejects: not converging");
      return;
    }
    if (this.state === "req-sent" || this.state === "ack-sent" || this.state === "ack-rcvd" || this.state === "opened") {
      const ok = pkt.code === CODE.CONF_NAK ? this.handler.nakReceived(opts) : this.handler.rejectReceived(opts);
      if (!ok) {
        this.host.discarded?.(`bad Configure-${pkt.code === CODE.CONF_NAK ? "Nak" : "Reject"}`);
        return;
      }
    }
    this.seenAnswer = true;
    this.dispatch("RCN", now, pkt);
  }

  /** Apply one RFC event: look up the table, run actions in order, change state. */
  dispatch(event: FsmEvent, now: number, pkt?: ControlPacket, verdict?: RequestVerdict): void {
    const t = transition(this.state, event);
    if (t === null) return;
    const from = this.state;
    const outer = this.currentEvent;
    this.currentEvent = event;
    try {
      for (const a of t.actions) this.act(a, t, now, from, event, pkt, verdict);
      this.setState(t.next, event);
    } finally {
      this.currentEvent = outer;
    }
  }

  private setState(next: FsmState, event: FsmEvent): void {
    const from = this.state;
    this.state = next;
    // The Restart timer only runs while waiting for a reply (RFC 1661 §4.6).
    if (next !== "closing" && next !== "stopping" && next !== "req-sent" && next !== "ack-rcvd" && next !== "ack-sent") {
      this.deadline = null;
    }
    if (from !== next) this.host.stateChanged(from, next, event);
  }

  private act(
    a: FsmAction,
    t: Transition,
    now: number,
    from: FsmState,
    event: FsmEvent,
    pkt: ControlPacket | undefined,
    verdict: RequestVerdict | undefined,
  ): void {
    switch (a) {
      case "tlu":
        // The state must read Opened inside up() so the protocol can act on it.
        this.setState("opened", event);
        this.rnakLoops = 0;
        this.handler.up();
        return;
      case "tld":
        this.handler.down();
        return;
      case "tls":
        this.handler.started();
        return;
      case "tlf":
        this.deadline = null;
        this.handler.finished();
        return;
      case "irc":
        // Max-Terminate when a Terminate-Request follows, else Max-Configure.
        this.restartCount = t.actions.includes("str") ? this.timers.maxTerminate : this.timers.maxConfigure;
        this.nakLoops = 0;
        return;
      case "zrc":
        // RFC 1661 §4.4: zero the counter but run the timer once, giving the
        // peer time to see our Terminate-Ack before we report finished.
        this.restartCount = 0;
        this.deadline = now + this.timers.restartMs;
        return;
      case "scr": {
        // A new negotiation (not a retransmission) starts from our wanted values.
        if (from !== "req-sent" && from !== "ack-rcvd" && from !== "ack-sent") this.handler.resetCi();
        const data = emitOptions(this.handler.buildRequest());
        this.reqId = this.allocId();
        this.lastRequest = data;
        this.seenAnswer = false;
        this.host.send(this.protocol, emitPacket({ code: CODE.CONF_REQ, id: this.reqId, data }));
        this.restartCount--;
        this.deadline = now + this.timers.restartMs;
        return;
      }
      case "sca": {
        if (!pkt) return;
        this.nakLoops = 0;
        this.host.send(this.protocol, emitPacket({ code: CODE.CONF_ACK, id: pkt.id, data: pkt.data }));
        return;
      }
      case "scn": {
        if (!pkt || !verdict) return;
        if (verdict.kind === "nak") this.nakLoops++;
        const code = verdict.kind === "nak" ? CODE.CONF_NAK : CODE.CONF_REJ;
        this.host.send(this.protocol, emitPacket({ code, id: pkt.id, data: emitOptions(verdict.options) }));
        return;
      }
      case "str":
        this.host.send(this.protocol, emitPacket({ code: CODE.TERM_REQ, id: this.allocId(), data: this.termReason }));
        this.restartCount--;
        this.deadline = now + this.timers.restartMs;
        return;
      case "sta":
        this.host.send(this.protocol, emitPacket({ code: CODE.TERM_ACK, id: pkt?.id ?? this.allocId(), data: new Uint8Array(0) }));
        return;
      case "scj": {
        if (!pkt) return;
        // RFC 1661 §5.6: the rejected packet, truncated by the caller's MRU rules.
        const rejected = emitPacket(pkt).subarray(0, 1496);
        this.host.send(this.protocol, emitPacket({ code: CODE.CODE_REJ, id: this.allocId(), data: rejected }));
        return;
      }
      case "ser":
        if (pkt) this.handler.handleRxr?.(pkt);
        return;
    }
  }

  /** Send a packet with this protocol number (used by LCP for Echo and Protocol-Reject). */
  sendRaw(code: number, id: number, data: Uint8Array): void {
    this.host.send(this.protocol, emitPacket({ code, id, data }));
  }
}

/** Build the Data of a Protocol-Reject (RFC 1661 §5.7). */
export function protocolRejectData(protocol: number, info: Uint8Array, maxLen: number): Uint8Array {
  const body = info.subarray(0, Math.max(0, maxLen - 4 - 2));
  const out = new Uint8Array(2 + body.length);
  out.set(u16(protocol), 0);
  out.set(body, 2);
  return out;
}

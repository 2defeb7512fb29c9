/**
 * CmuxCore: the I/O-free 27.010 basic-option multiplexer (one per serial
 * line). Bytes in through `receive(data, now)`, bytes out through
 * `takeOutput()`, timers as data (`nextDeadline()` → `tick(now)`), and what
 * happened through a sink of callbacks, so the adapter (session.ts) and the
 * virtual modem's responder (src/sim/cmux-responder.ts) share it.
 *
 * Channel machine per DLCI (§5.4.1, §5.8.1):
 *   closed ─open()→ opening (SABM, T1 × N2) ─UA→ open ─close()→ closing (DISC, T1 × N2) ─UA|DM→ closed
 *                                          └─DM / N2 timeouts→ closed (open-failed)
 * In the responder role a SABM is answered UA (or DM when refused) and a
 * DISC UA. DLCI 0 is the control channel: opening it starts the mux, DISC on
 * it or CLD ends the mux as a whole. Control commands we send (CLD, MSC,
 * Test) wait T2 for their response and are sent again up to N2 times.
 */
import { addressOctet, encodeFrame, fcs, FLAG, FrameDecoder, frameSize, FrameType, lengthOctets, type DecoderCounters, type Frame, type FrameTypeName } from "./frame.ts";
import { decodeControl, decodeSignals, encodeControl, mscValue, SIGNALS_READY, type ControlMessage, type MsgTypeName, type V24Signals } from "./control.ts";

export interface CmuxParams {
  /** The initiator is the station that opened DLCI 0 (the host); the module is the responder. */
  role: "initiator" | "responder";
  /** N1: most information octets in one frame (Quectel AT+CMUX=0,0,5,127: 127). */
  maxFrame: number;
  /** T1: acknowledgement timer for SABM/DISC, ms (default 100 ms, §5.7.1). */
  t1Ms: number;
  /** N2: retransmissions (default 3, §5.7.3). */
  n2: number;
  /** T2: response timer for control messages, ms (default 300 ms, §5.7.4). */
  t2Ms: number;
}

export const DEFAULT_PARAMS: CmuxParams = { role: "initiator", maxFrame: 31, t1Ms: 100, n2: 3, t2Ms: 300 };

export type ChannelState = "closed" | "opening" | "open" | "closing";

export interface CmuxSink {
  /** A DLCI (0 included) reached "open". */
  opened?(dlci: number): void;
  /** An open() ended without UA: refused by DM, or N2 × T1 without an answer. */
  openFailed?(dlci: number, why: "refused" | "no-answer"): void;
  /** An open DLCI closed (`byPeer`: the peer sent DISC or DM). */
  closed?(dlci: number, byPeer: boolean): void;
  data?(dlci: number, data: Uint8Array): void;
  /** The peer's V.24 signals for a DLCI (MSC command). */
  signals?(dlci: number, s: V24Signals): void;
  /** The mux ended as a whole: CLD (either way) or DLCI 0 closed. */
  closeDown?(byPeer: boolean): void;
  /** A Test command we sent came back (ok: the same pattern) or timed out. */
  testResult?(ok: boolean): void;
  /** A control command we sent got no response after N2 tries. */
  controlTimeout?(type: MsgTypeName): void;
  /** Every frame, both ways, raw with flags (pcap); only called when set. */
  trace?(dir: "in" | "out", raw: Uint8Array): void;
  /** Responder role: true to answer this SABM with DM (the module refuses the DLCI). */
  refuse?(dlci: number): boolean;
  /** Octets outside any frame (plain text from a modem that left the mux, or noise). */
  garbage?(data: Uint8Array): void;
  /** A frame refused by the decoder (bad FCS, malformed, oversize), counted in `counters`. */
  rejected?(why: keyof DecoderCounters): void;
}

export interface CmuxCounters extends DecoderCounters {
  framesOut: number;
  /** Information octets per direction, all DLCIs. */
  infoIn: number;
  infoOut: number;
  /** Frames that made no sense where they came (UIH on a closed DLCI, a stray UA...). */
  unexpected: number;
  /** Control messages that could not be decoded. */
  badControl: number;
  retransmissions: number;
}

interface Channel {
  state: ChannelState;
  deadline: number | null;
  tries: number;
  /** The peer's last MSC for this DLCI. */
  peerSignals: V24Signals | null;
  /** The peer asked us to hold UIH on this DLCI (MSC FC = 1). */
  held: boolean;
  queue: Uint8Array[];
  queued: number;
}

interface PendingControl {
  type: MsgTypeName;
  info: Uint8Array;
  deadline: number;
  tries: number;
  /** Test: the pattern we expect back. */
  pattern?: Uint8Array;
}

export class CmuxCore {
  readonly params: CmuxParams;
  private readonly decoder: FrameDecoder;
  private readonly channels = new Map<number, Channel>();
  private pending: PendingControl[] = [];
  private out: Uint8Array[] = [];
  private outBytes = 0;
  /** FCoff from the peer: no UIH on any data DLCI until FCon. */
  private flowOff = false;
  private now = 0;
  private ended = false;
  private readonly extra = { framesOut: 0, infoIn: 0, infoOut: 0, unexpected: 0, badControl: 0, retransmissions: 0 };

  constructor(
    params: Partial<CmuxParams>,
    private readonly sink: CmuxSink = {},
  ) {
    this.params = { ...DEFAULT_PARAMS, ...params };
    this.decoder = new FrameDecoder(
      {
        frame: (f, raw) => this.onFrame(f, raw),
        garbage: (g) => this.sink.garbage?.(g),
        rejected: (why) => this.sink.rejected?.(why),
      },
      this.params.maxFrame,
    );
  }

  get counters(): CmuxCounters {
    return { ...this.decoder.counters, ...this.extra };
  }

  state(dlci: number): ChannelState {
    return this.channels.get(dlci)?.state ?? "closed";
  }

  /** DLCIs not closed, ascending. */
  dlcis(): number[] {
    return [...this.channels.entries()].filter(([, c]) => c.state !== "closed").map(([d]) => d).sort((a, b) => a - b);
  }

  peerSignals(dlci: number): V24Signals | null {
    return this.channels.get(dlci)?.peerSignals ?? null;
  }

  /** UIH octets held by flow control for a DLCI (FCoff, MSC FC). */
  queued(dlci: number): number {
    return this.channels.get(dlci)?.queued ?? 0;
  }

  /** True while the peer holds our UIH on this DLCI (FCoff for all, or MSC FC for this one). */
  holding(dlci: number): boolean {
    return this.flowOff || (this.channels.get(dlci)?.held ?? false);
  }

  get flowStopped(): boolean {
    return this.flowOff;
  }

  /** True once the mux ended (CLD, DLCI 0 closed); a new one needs a new core. */
  get isEnded(): boolean {
    return this.ended;
  }

  // ───────────────────────────── inputs ─────────────────────────────

  receive(data: Uint8Array, now: number): void {
    this.now = now;
    this.decoder.push(data);
  }

  /** Send SABM on a DLCI (DLCI 0 first: it starts the mux). */
  open(dlci: number, now: number): void {
    this.now = now;
    const ch = this.channel(dlci);
    if (ch.state === "open" || ch.state === "opening") return;
    ch.state = "opening";
    ch.tries = 0;
    this.sendCommandFrame(dlci, "SABM");
    ch.deadline = now + this.params.t1Ms;
  }

  /** Send DISC on a DLCI (DLCI 0: ends the mux; prefer closeDown()). */
  close(dlci: number, now: number): void {
    this.now = now;
    const ch = this.channels.get(dlci);
    if (!ch || ch.state === "closed" || ch.state === "closing") return;
    ch.state = "closing";
    ch.tries = 0;
    ch.queue = [];
    ch.queued = 0;
    this.sendCommandFrame(dlci, "DISC");
    ch.deadline = now + this.params.t1Ms;
  }

  /** User data on an open DLCI, split into UIH frames of at most N1 octets. Dropped when not open. */
  send(dlci: number, data: Uint8Array): boolean {
    const ch = this.channels.get(dlci);
    if (!ch || ch.state !== "open" || dlci === 0) return false;
    if (this.flowOff || ch.held) {
      ch.queue.push(data.slice());
      ch.queued += data.length;
      return true;
    }
    this.emitUih(dlci, data);
    return true;
  }

  /** Our V.24 signals for a DLCI (MSC command; RTC/RTR set means ready). */
  sendSignals(dlci: number, s: V24Signals, now: number): void {
    this.now = now;
    this.sendControl("MSC", mscValue(dlci, s));
  }

  /** CLD: close the whole mux; the peer answers and leaves mux mode (§5.4.6.3.3). */
  closeDown(now: number): void {
    this.now = now;
    if (this.ended) return;
    this.sendControl("CLD", new Uint8Array(0));
  }

  /** Test command: the peer echoes the pattern (§5.4.6.3.4). */
  test(pattern: Uint8Array, now: number): void {
    this.now = now;
    this.sendControl("Test", pattern, pattern);
  }

  /** Ask the peer to stop (FCoff) or resume (FCon) sending on every DLCI. */
  sendFlow(on: boolean, now: number): void {
    this.now = now;
    this.sendControl(on ? "FCon" : "FCoff", new Uint8Array(0));
  }

  tick(now: number): void {
    this.now = now;
    for (const [dlci, ch] of this.channels) {
      if (ch.deadline === null || ch.deadline > now) continue;
      if (ch.tries < this.params.n2) {
        ch.tries++;
        this.extra.retransmissions++;
        this.sendCommandFrame(dlci, ch.state === "opening" ? "SABM" : "DISC");
        ch.deadline = now + this.params.t1Ms;
        continue;
      }
      ch.deadline = null;
      const was = ch.state;
      ch.state = "closed";
      if (was === "opening") this.sink.openFailed?.(dlci, "no-answer");
      else this.channelClosed(dlci, false);
    }
    const due = this.pending.filter((p) => p.deadline <= now);
    for (const p of due) {
      if (p.tries < this.params.n2) {
        p.tries++;
        this.extra.retransmissions++;
        p.deadline = now + this.params.t2Ms;
        this.emitFrame(0, "UIH", false, true, p.info);
        continue;
      }
      this.pending = this.pending.filter((x) => x !== p);
      if (p.type === "Test") this.sink.testResult?.(false);
      else this.sink.controlTimeout?.(p.type);
      // A CLD nobody answered still ends the mux on our side.
      if (p.type === "CLD") this.end(false);
    }
  }

  nextDeadline(): number | null {
    let best: number | null = null;
    for (const ch of this.channels.values()) if (ch.deadline !== null && (best === null || ch.deadline < best)) best = ch.deadline;
    for (const p of this.pending) if (best === null || p.deadline < best) best = p.deadline;
    return best;
  }

  takeOutput(): Uint8Array {
    if (this.out.length === 0) return new Uint8Array(0);
    if (this.out.length === 1) {
      const only = this.out[0]!;
      this.out = [];
      this.outBytes = 0;
      return only;
    }
    const all = new Uint8Array(this.outBytes);
    let at = 0;
    for (const c of this.out) {
      all.set(c, at);
      at += c.length;
    }
    this.out = [];
    this.outBytes = 0;
    return all;
  }

  /** Forget everything (the line is gone or the module left the mux); no frames are sent. */
  abandon(): void {
    for (const [dlci, ch] of this.channels) {
      if (ch.state === "closed") continue;
      ch.state = "closed";
      ch.deadline = null;
      if (dlci !== 0) this.sink.closed?.(dlci, true);
    }
    this.pending = [];
    this.out = [];
    this.outBytes = 0;
    this.ended = true;
    this.decoder.reset();
  }

  // ───────────────────────────── frames in ─────────────────────────────

  private onFrame(f: Frame, raw: Uint8Array): void {
    this.sink.trace?.("in", raw);
    // A command from the peer carries the peer's command C/R: 1 from an initiator, 0 from a responder.
    const peerIsInitiator = this.params.role === "responder";
    const isCommand = f.cr === peerIsInitiator;
    switch (f.type) {
      case "SABM":
        return this.onSabm(f.dlci);
      case "DISC":
        return this.onDisc(f.dlci);
      case "UA":
        return this.onUa(f.dlci);
      case "DM":
        return this.onDm(f.dlci);
      case "UIH":
      case "UI":
        if (f.dlci === 0) return this.onControl(f.info);
        return this.onData(f.dlci, f.info, isCommand);
    }
  }

  private onSabm(dlci: number): void {
    if (this.params.role !== "responder") {
      // We do not take channels the module opens.
      this.extra.unexpected++;
      this.emitFrame(dlci, "DM", true, false);
      return;
    }
    const ch = this.channel(dlci);
    if ((dlci !== 0 && this.state(0) !== "open") || this.sink.refuse?.(dlci)) {
      this.emitFrame(dlci, "DM", true, false);
      return;
    }
    this.emitFrame(dlci, "UA", true, false);
    if (ch.state !== "open") {
      ch.state = "open";
      ch.deadline = null;
      this.ended = false;
      this.sink.opened?.(dlci);
    }
  }

  private onDisc(dlci: number): void {
    const ch = this.channels.get(dlci);
    if (!ch || ch.state === "closed") {
      this.emitFrame(dlci, "DM", true, false);
      return;
    }
    this.emitFrame(dlci, "UA", true, false);
    ch.state = "closed";
    ch.deadline = null;
    this.channelClosed(dlci, true);
  }

  private onUa(dlci: number): void {
    const ch = this.channels.get(dlci);
    if (!ch || (ch.state !== "opening" && ch.state !== "closing")) {
      this.extra.unexpected++;
      return;
    }
    ch.deadline = null;
    if (ch.state === "opening") {
      ch.state = "open";
      this.sink.opened?.(dlci);
      // Tell the module this DLCI is ready (some modules hold data until they see an MSC).
      if (dlci !== 0 && this.params.role === "initiator") this.sendControl("MSC", mscValue(dlci, SIGNALS_READY));
      return;
    }
    ch.state = "closed";
    this.channelClosed(dlci, false);
  }

  private onDm(dlci: number): void {
    const ch = this.channels.get(dlci);
    if (!ch || ch.state === "closed") {
      this.extra.unexpected++;
      return;
    }
    const was = ch.state;
    ch.state = "closed";
    ch.deadline = null;
    if (was === "opening") this.sink.openFailed?.(dlci, "refused");
    else this.channelClosed(dlci, was !== "closing");
  }

  private onData(dlci: number, info: Uint8Array, _isCommand: boolean): void {
    const ch = this.channels.get(dlci);
    if (!ch || ch.state !== "open") {
      this.extra.unexpected++;
      return;
    }
    this.extra.infoIn += info.length;
    if (info.length > 0) this.sink.data?.(dlci, info.slice());
  }

  private onControl(info: Uint8Array): void {
    if (this.state(0) !== "open") {
      this.extra.unexpected++;
      return;
    }
    const { messages, bad } = decodeControl(info);
    this.extra.badControl += bad;
    for (const m of messages) {
      if (m.command) this.onControlCommand(m);
      else this.onControlResponse(m);
    }
  }

  private onControlCommand(m: ControlMessage): void {
    switch (m.type) {
      case "CLD":
        this.emitFrame(0, "UIH", false, true, encodeControl("CLD", false));
        this.end(true);
        return;
      case "Test":
        this.emitFrame(0, "UIH", false, true, encodeControl("Test", false, m.value));
        return;
      case "FCoff":
        this.flowOff = true;
        this.emitFrame(0, "UIH", false, true, encodeControl("FCoff", false));
        return;
      case "FCon":
        this.flowOff = false;
        this.emitFrame(0, "UIH", false, true, encodeControl("FCon", false));
        this.releaseQueues();
        return;
      case "MSC": {
        this.emitFrame(0, "UIH", false, true, encodeControl("MSC", false, m.value));
        if (m.value.length < 2) {
          this.extra.badControl++;
          return;
        }
        const dlci = m.value[0]! >> 2;
        const s = decodeSignals(m.value[1]!);
        const ch = this.channels.get(dlci);
        if (!ch || ch.state === "closed") return;
        ch.peerSignals = s;
        const wasHeld = ch.held;
        ch.held = s.fc;
        this.sink.signals?.(dlci, s);
        if (wasHeld && !s.fc) this.releaseQueues();
        return;
      }
      case "PN":
        // Parameter negotiation: accept the values proposed (we send no PN ourselves).
        this.emitFrame(0, "UIH", false, true, encodeControl("PN", false, m.value));
        return;
      default:
        // Not supported (RPN, RLS, PSC, SNC, unknown): NSC names the type (§5.4.6.3.8).
        this.emitFrame(0, "UIH", false, true, encodeControl("NSC", false, Uint8Array.of(m.rawType)));
    }
  }

  private onControlResponse(m: ControlMessage): void {
    if (!m.type) {
      this.extra.unexpected++;
      return;
    }
    const i = this.pending.findIndex((p) => p.type === m.type);
    if (i < 0) {
      if (m.type !== "NSC") this.extra.unexpected++;
      return;
    }
    const p = this.pending[i]!;
    this.pending.splice(i, 1);
    if (p.type === "Test") {
      const want = p.pattern ?? new Uint8Array(0);
      this.sink.testResult?.(want.length === m.value.length && want.every((b, k) => b === m.value[k]));
    } else if (p.type === "CLD") {
      this.end(false);
    }
  }

  // ───────────────────────────── frames out ─────────────────────────────

  private channel(dlci: number): Channel {
    let ch = this.channels.get(dlci);
    if (!ch) {
      ch = { state: "closed", deadline: null, tries: 0, peerSignals: null, held: false, queue: [], queued: 0 };
      this.channels.set(dlci, ch);
    }
    return ch;
  }

  private channelClosed(dlci: number, byPeer: boolean): void {
    const ch = this.channels.get(dlci);
    if (ch) {
      ch.queue = [];
      ch.queued = 0;
      ch.held = false;
      ch.peerSignals = null;
    }
    if (dlci === 0) this.end(byPeer);
    else this.sink.closed?.(dlci, byPeer);
  }

  /** The mux is over: every DLCI is closed without further frames. */
  private end(byPeer: boolean): void {
    if (this.ended) return;
    this.ended = true;
    for (const [dlci, ch] of this.channels) {
      const was = ch.state;
      ch.state = "closed";
      ch.deadline = null;
      ch.queue = [];
      ch.queued = 0;
      if (dlci !== 0 && was !== "closed") this.sink.closed?.(dlci, byPeer);
    }
    this.pending = [];
    this.sink.closeDown?.(byPeer);
  }

  private releaseQueues(): void {
    for (const [dlci, ch] of this.channels) {
      if (this.flowOff || ch.held || ch.queue.length === 0 || ch.state !== "open") continue;
      const q = ch.queue;
      ch.queue = [];
      ch.queued = 0;
      for (const d of q) this.emitUih(dlci, d);
    }
  }

  private sendControl(type: MsgTypeName, value: Uint8Array, pattern?: Uint8Array): void {
    if (this.state(0) !== "open") return;
    const info = encodeControl(type, true, value);
    // One outstanding command of a type: a second replaces the first (its answer would be ambiguous).
    this.pending = this.pending.filter((p) => p.type !== type);
    this.pending.push({ type, info, deadline: this.now + this.params.t2Ms, tries: 0, ...(pattern ? { pattern } : {}) });
    this.emitFrame(0, "UIH", false, true, info);
  }

  private sendCommandFrame(dlci: number, type: "SABM" | "DISC"): void {
    this.emitFrame(dlci, type, true, true);
  }

  /**
   * One frame out. `command` picks the C/R bit by role (§5.2.1.2: the
   * initiator's commands carry C/R = 1, its responses 0; the responder the
   * opposite).
   */
  private emitFrame(dlci: number, type: FrameTypeName, pf: boolean, command: boolean, info: Uint8Array = new Uint8Array(0)): void {
    const cr = command === (this.params.role === "initiator");
    const raw = encodeFrame({ dlci, cr, type, pf, info });
    this.sink.trace?.("out", raw);
    this.extra.framesOut++;
    this.push(raw);
  }

  /** UIH data frames written straight into one buffer (the PPP path: no per-frame allocation). */
  private emitUih(dlci: number, data: Uint8Array): void {
    const n1 = this.params.maxFrame;
    if (data.length === 0) return;
    const frames = Math.ceil(data.length / n1);
    let total = 0;
    for (let k = 0; k < frames; k++) total += frameSize(Math.min(n1, data.length - k * n1));
    const buf = new Uint8Array(total);
    const addr = addressOctet(dlci, this.params.role === "initiator");
    let at = 0;
    for (let off = 0; off < data.length; off += n1) {
      const len = Math.min(n1, data.length - off);
      const start = at;
      buf[at++] = FLAG;
      buf[at++] = addr;
      buf[at++] = FrameType.UIH;
      for (const o of lengthOctets(len)) buf[at++] = o;
      const headerEnd = at;
      buf.set(data.subarray(off, off + len), at);
      at += len;
      buf[at++] = fcs(buf, start + 1, headerEnd);
      buf[at++] = FLAG;
      if (this.sink.trace) this.sink.trace("out", buf.slice(start, at));
    }
    this.extra.framesOut += frames;
    this.extra.infoOut += data.length;
    this.push(buf);
  }

  private push(raw: Uint8Array): void {
    this.out.push(raw);
    this.outBytes += raw.length;
  }
}

/**
 * One AT channel of the module: the V.250 modes and the data call on them.
 *
 *   command ──ATD: CONNECT──▶ data ──+++ (guard times) / DTR with &D1──▶ online-command
 *      ▲                        ▲ │                                         │
 *      │                        │ └─ NO CARRIER: call dropped, PPP ended ──┤
 *      │                        └───────────────── ATO ────────────────────┤
 *      └──────────────── ATH, DTR with &D2, NO CARRIER ────────────────────┘
 *
 * In the command states bytes go to the AT interpreter (at-interpreter.ts);
 * in data mode to the data session behind CONNECT (data-session.ts), after
 * the "+++" detector (escape.ts). URCs are dropped in data mode (the line
 * carries PPP).
 *
 * Bytes in, bytes out through the host, like every core here. The module
 * has one channel on the whole line today; a 27.010 multiplexer would give
 * each DLCI a channel of its own, fed with that DLCI's bytes and writing
 * through a host that frames them.
 */
import { AtInterpreter } from "./at-interpreter.ts";
import { ChannelSettings } from "./at-responses.ts";
import type { AtContext, CallControl, CommandTable } from "./commands/table.ts";
import type { DataSession } from "./data-session.ts";
import { EscapeDetector } from "./escape.ts";
import type { SimEvent, SimMode } from "./events.ts";
import type { CallEndReason } from "./pdn.ts";

export type ChannelTimer = "pending" | "escape";

export interface ChannelHost {
  /** Bytes for the DTE. */
  output(bytes: Uint8Array): void;
  emit(e: SimEvent): void;
  arm(kind: ChannelTimer, at: number): void;
  disarm(kind: ChannelTimer): void;
  /** Switched off: the module says nothing, not even URCs. */
  readonly poweredOff: boolean;
  /** Frozen (the hang fault): what the data session produces does not reach the line. */
  readonly hung: boolean;
  /** CONNECT: the module's side of a new call on context `cid`; returns what runs behind it (null: data bytes are swallowed). */
  callStarting(cid: number, now: number): DataSession | null;
  /** The call's IP layer came up. */
  callIpUp(now: number): void;
  callEnded(reason: CallEndReason, now: number): void;
  /** An event of the data session (the network's side of PPP). */
  sessionEvent(e: SimEvent): void;
  /** See InterpreterHost. */
  resetModule(now: number): void;
  poweredDown(now: number): void;
  commandLineDone(now: number): void;
}

/** The module's parts the command handlers see (AtContext without what the channel adds). */
export type ModemParts = Omit<AtContext, "settings" | "call">;

export class ModemChannel implements CallControl {
  readonly settings = new ChannelSettings();
  readonly interpreter: AtInterpreter;
  private mode_: SimMode = "command";
  private session: DataSession | null = null;
  private readonly escape: EscapeDetector;
  /** When the call's IP layer came up (null: not yet in this call). */
  private ipUpAt: number | null = null;

  constructor(
    parts: ModemParts,
    table: CommandTable,
    /** +++ guard time (S12). */
    guardMs: number,
    private readonly host: ChannelHost,
  ) {
    this.escape = new EscapeDetector(guardMs);
    this.interpreter = new AtInterpreter(this.settings, table, { ...parts, settings: this.settings, call: this }, {
      output: (bytes) => host.output(bytes),
      emit: (e) => host.emit(e),
      arm: (kind, at) => host.arm(kind, at),
      disarm: (kind) => host.disarm(kind),
      urcsAllowed: () => !host.poweredOff && this.mode_ !== "data",
      connected: (cid, now) => this.startCall(cid, now),
      resetModule: (now) => host.resetModule(now),
      poweredDown: (now) => host.poweredDown(now),
      commandLineDone: (now) => host.commandLineDone(now),
    });
  }

  get mode(): SimMode {
    return this.mode_;
  }
  get inCall(): boolean {
    return this.session !== null;
  }
  get ipUp(): boolean {
    return this.session?.ipUp ?? false;
  }
  get dataSession(): DataSession | null {
    return this.session;
  }
  /** When the data session wants to be polled next. */
  get sessionDeadline(): number | null {
    return this.session?.nextDeadline() ?? null;
  }

  /** Power-on: default settings, nothing typed or running. */
  reset(): void {
    this.settings.reset();
    this.interpreter.reset();
  }

  /** Bytes from the DTE. */
  input(data: Uint8Array, now: number): void {
    if (this.mode_ === "data") this.dataInput(data, now);
    else this.interpreter.input(data, now);
  }

  urc(text: string): void {
    this.interpreter.urc(text);
  }

  /** Let the data session run its timers. */
  poll(now: number): void {
    if (!this.session) return;
    this.session.poll(now);
    this.pumpSession(now);
  }

  /** DTR went off while a call is up (V.250 §6.2.9, AT&D). */
  dtrDropped(now: number): void {
    if (this.mode_ === "command" || this.settings.andD === 0) return;
    if (this.settings.andD === 1) {
      // &D1: the call stays up, the channel goes to online-command mode.
      this.enterMode("online-command", "dtr", now);
      this.interpreter.final("OK");
    } else {
      // &D2: hang up.
      this.endCall(now, "dtr", true);
    }
  }

  /** The "+++" guard time may have passed. */
  escapeDue(now: number): void {
    if (this.mode_ !== "data" || !this.escape.poll(now)) return;
    this.enterMode("online-command", "+++", now);
    this.interpreter.final("OK");
  }

  /** The network ends the call (drop-after, network-drop): NO CARRIER. */
  dropCall(now: number, reason: "drop-after" | "network-drop"): void {
    this.endCall(now, reason, true);
  }

  /** dead-peer: the network side stops answering while the line stays up; false when there is no call. */
  silencePeer(): boolean {
    if (!this.session) return false;
    this.session.setDead(true);
    return true;
  }

  /** The module resets or switches off under the call: no NO CARRIER (the module is gone), nothing more from the session. */
  abortCall(now: number): void {
    const s = this.session;
    if (s) {
      s.hangUp(now);
      for (const e of s.takeEvents()) this.host.sessionEvent(e);
      this.session = null;
    }
    if (this.mode_ !== "command") this.enterMode("command", "reset", now);
    this.escape.reset(now);
  }

  // ---------------------------------------------------------------- CallControl (ATH, ATO)

  hangUp(now: number): void {
    this.endCall(now, "ath", false);
  }

  resume(now: number): void {
    this.escape.reset(now);
    this.enterMode("data", "ato", now);
  }

  // ---------------------------------------------------------------- the call

  private startCall(cid: number, now: number): void {
    this.session = this.host.callStarting(cid, now);
    this.ipUpAt = null;
    this.escape.reset(now);
    this.enterMode("data", "connect", now);
    this.poll(now);
  }

  private enterMode(mode: SimMode, reason: string, now: number): void {
    if (mode === this.mode_) return;
    this.mode_ = mode;
    this.host.emit({ type: "sim.mode", at: now, mode, reason });
    if (mode === "command") this.interpreter.flushUrcs();
  }

  /** Data-mode bytes: "+++" detection first, the rest to the data session. */
  private dataInput(data: Uint8Array, now: number): void {
    for (const chunk of this.escape.input(data, now)) this.toSession(chunk, now);
    const at = this.escape.deadline;
    if (at === null) this.host.disarm("escape");
    else this.host.arm("escape", at);
  }

  private toSession(bytes: Uint8Array, now: number): void {
    if (!this.session || bytes.length === 0) return;
    this.session.input(bytes, now);
    this.pumpSession(now);
  }

  /** Move what the session produced to the line and the events; notice IP up and the end of PPP. */
  private pumpSession(now: number): void {
    const s = this.session;
    if (!s) return;
    const chunks = s.takeOutput();
    if (this.mode_ === "data" && !this.host.hung) for (const c of chunks) this.host.output(c);
    for (const e of s.takeEvents()) this.host.sessionEvent(e);
    if (s.ipUp && this.ipUpAt === null) {
      this.ipUpAt = now;
      this.host.callIpUp(now);
    }
    if (s.ended && this.session === s) this.endCall(now, "ppp-terminated", true);
  }

  /** The call ends; `noCarrier` puts NO CARRIER on the line (V.250 result code). */
  private endCall(now: number, reason: CallEndReason, noCarrier: boolean): void {
    const s = this.session;
    this.session = null;
    if (s) {
      s.hangUp(now);
      const last = s.takeOutput();
      if (this.mode_ === "data") for (const c of last) this.host.output(c);
      for (const e of s.takeEvents()) this.host.sessionEvent(e);
    }
    this.host.callEnded(reason, now);
    this.host.disarm("escape");
    this.escape.reset(now);
    this.enterMode("command", reason, now);
    if (noCarrier) this.interpreter.final("NO CARRIER");
  }
}

/**
 * The virtual Quectel BG96/BG77 as a pure core: bytes and time in, bytes,
 * events and "wake me at T" out. No I/O, no clock (DESIGN rule 1). This class
 * is the module itself: its power, its one timer table, and the wiring of
 * the parts, each of which can be read (and tested) alone:
 *
 *   power:     off → booting → on (RDY and the boot URCs when booting ends);
 *              a reset goes back to booting, AT+QPOWD to off; the hang fault
 *              freezes it until a power cycle or its own watchdog
 *   channel.ts       the AT channel: V.250 modes, the data call behind CONNECT
 *   at-interpreter.ts  command lines, results, pending commands, URCs
 *   commands/        the AT personality: one handler per command, by area
 *   radio.ts         SIM, CFUN, registration, attach (the network's verdicts)
 *   pdn.ts           whether the network accepts a call; AT+CEER
 *   pdp.ts           the PDP context table
 *   faults.ts        when the scenario faults strike
 *   timers.ts        the timer table (timers are data: {kind → at})
 *
 * What the DTE sends while the module is off, booting or hung is lost (and
 * reported as sim.unheard lines, unheard.ts).
 */
import type { ChannelSettings } from "./at-responses.ts";
import type { CmdResult } from "./at-syntax.ts";
import { ModemChannel, type ModemParts } from "./channel.ts";
import { QUECTEL_COMMANDS } from "./commands/index.ts";
import { runCommand, type CallControl } from "./commands/table.ts";
import type { DataSession, DataSessionFactory } from "./data-session.ts";
import type { SimEvent, SimMode, SimPowerState } from "./events.ts";
import { CALL_FAULT_TIMERS, FaultPlan, type FaultTimer } from "./faults.ts";
import { type CallEndReason, PdnModel } from "./pdn.ts";
import { PdpContexts } from "./pdp.ts";
import { MODEL_TEXT, bootUrcs } from "./quectel-text.ts";
import { RadioModel, type RadioTimer } from "./radio.ts";
import type { SimBehaviour } from "./scenario.ts";
import { TimerTable } from "./timers.ts";
import { UnheardLines } from "./unheard.ts";
import { SimSms } from "./sms-store.ts";
import { formatModemTime } from "../at/time-text.ts";

type TimerKind = "boot" | "powerdown" | RadioTimer | "pending" | "escape" | FaultTimer;

export interface ModemCoreOptions {
  behaviour: SimBehaviour;
  /** Start time; the modem powers on at once (RDY after bootMs). */
  now: number;
  /** Builds what runs behind CONNECT. Without one, data-mode bytes are swallowed. */
  dataSession?: DataSessionFactory;
  /** Start already booted (skip the initial RDY wait), e.g. for unit tests. */
  booted?: boolean;
}

export interface ModemCounters {
  /** Command lines answered. */
  commands: number;
  /** Bytes dropped because the modem was off, booting or hung. */
  droppedBytes: number;
  boots: number;
  calls: number;
  garbageBursts: number;
}

export class ModemCore {
  readonly behaviour: SimBehaviour;
  readonly counters: ModemCounters = { commands: 0, droppedBytes: 0, boots: 0, calls: 0, garbageBursts: 0 };

  private power: SimPowerState = "off";
  private hung = false;
  /** SIM, CFUN, registration, attach (read by the CMUX responder for its URC port). */
  readonly radio: RadioModel;
  /** What the command handlers see of the module (shared by every AT port). */
  private readonly parts: ModemParts;
  private readonly pdn: PdnModel;
  private readonly contexts = new PdpContexts();
  /** SMS storage, text-mode settings and the network's clock (issue 17). */
  readonly sms = new SimSms();
  private readonly faults: FaultPlan;
  private readonly channel: ModemChannel;
  private readonly unheard = new UnheardLines();
  private readonly timers = new TimerTable<TimerKind>();
  private readonly makeSession: DataSessionFactory | undefined;
  private out: Uint8Array[] = [];
  private events: SimEvent[] = [];

  /** What each timer does when it fires. */
  private readonly onTimer: Readonly<Record<TimerKind, (at: number) => void>> = {
    boot: (at) => this.finishBoot(at, true),
    powerdown: (at) => this.switchOff(at),
    registration: (at) => this.radio.registrationStep(at),
    attach: (at) => {
      this.radio.setAttached(true, at);
      if (this.channel.interpreter.pendingKind === "cgatt") this.channel.interpreter.completePending(at, { kind: "ok" });
    },
    pending: (at) => this.channel.interpreter.pendingTimeout(at),
    escape: (at) => this.channel.escapeDue(at),
    reboot: (at) => {
      this.faults.rebootLoopFired();
      this.reboot(at, "reboot-loop");
    },
    garbage: (at) => this.garbage(at),
    drop: (at) => {
      if (this.channel.mode !== "command") this.channel.dropCall(at, "drop-after");
    },
    "hang-call": (at) => {
      // hang:call=S: the whole module freezes mid-call, PPP and AT alike, until a power cycle.
      if (this.channel.mode !== "command" && this.power === "on") this.freeze(at);
    },
    "net-drop": (at) => this.networkDrop(at),
    "call-reboot": (at) => this.reboot(at, this.faults.callRebootReason),
    dead: (at) => {
      if (this.channel.silencePeer()) this.emit({ type: "sim.ppp", at, what: "dead", detail: "dead-peer: the network stopped answering" });
    },
    "hang-recover": (at) => this.reboot(at, "hang-recover"),
  };

  constructor(opts: ModemCoreOptions) {
    const b = opts.behaviour;
    this.behaviour = b;
    this.makeSession = opts.dataSession;
    this.faults = new FaultPlan(b);
    this.pdn = new PdnModel(b);
    this.radio = new RadioModel(
      b,
      {
        arm: (kind, at) => this.timers.arm(kind, at),
        disarm: (kind) => this.timers.disarm(kind),
        urc: (text) => this.urc(text),
        emit: (e) => this.emit(e),
        attachRequested: () => this.channel.interpreter.pendingKind === "cgatt",
      },
      opts.now,
    );
    const parts = { behaviour: b, model: MODEL_TEXT[b.model], radio: this.radio, contexts: this.contexts, pdn: this.pdn, sms: this.sms };
    this.parts = parts;
    const core = this;
    this.channel = new ModemChannel(parts, QUECTEL_COMMANDS, b.guardMs, {
      output: (bytes) => this.out.push(bytes),
      emit: (e) => this.emit(e),
      arm: (kind, at) => this.timers.arm(kind, at),
      disarm: (kind) => this.timers.disarm(kind),
      get poweredOff() {
        return core.power === "off";
      },
      get hung() {
        return core.hung;
      },
      callStarting: (cid, now) => this.callStarting(cid, now),
      callIpUp: (now) => {
        const at = this.faults.deadPeerAt(now);
        if (at !== null) this.timers.arm("dead", at);
      },
      callEnded: (reason) => this.callEnded(reason),
      sessionEvent: (e) => {
        // The network side refused the login: the PDN connection fails with ESM #29 (AT+CEER).
        if (e.type === "sim.ppp" && e.what === "auth-failed") this.pdn.loginRefused();
        this.emit(e);
      },
      resetModule: (now) => this.reboot(now, "cfun-reset"),
      poweredDown: (now) => this.timers.arm("powerdown", now),
      commandLineDone: (now) => {
        this.counters.commands++;
        if (this.faults.commandAnswered(this.power === "on")) this.freeze(now);
      },
    });
    this.startBoot(opts.now, "power-on");
    if (opts.booted) this.finishBoot(opts.now, false);
  }

  // ---------------------------------------------------------------- inputs

  /** Bytes from the DTE (the agent). */
  input(data: Uint8Array, now: number): void {
    this.advance(now);
    if (this.power !== "on" || this.hung) {
      this.counters.droppedBytes += data.length;
      const state = this.hung || this.power === "on" ? "hung" : this.power;
      for (const line of this.unheard.input(data)) this.emit({ type: "sim.unheard", at: now, line, state });
      return;
    }
    this.channel.input(data, now);
  }

  /** Run whatever is due at `now`. */
  poll(now: number): void {
    this.advance(now);
  }

  /** DTR line from the DTE (only transports with modem lines; a pty has none). */
  setDtr(on: boolean, now: number): void {
    this.advance(now);
    if (on || this.power !== "on" || this.hung) return;
    this.channel.dtrDropped(now);
  }

  /** Pull the power and put it back (the test's / simulator's power-cycle hook). */
  powerCycle(now: number): void {
    this.advance(now);
    this.reboot(now, "power-cycle");
  }

  /**
   * The network delivers an SMS: stored, and announced by +CMTI when AT+CNMI
   * asks for it and the module is on. Returns the index, or null (off, or
   * the storage is full: the network would keep it).
   */
  deliverSms(from: string, text: string, now: number): number | null {
    this.advance(now);
    if (this.power !== "on") return null;
    const index = this.sms.deliver(from, text, now);
    if (index !== null && this.sms.cnmiMt === 1) this.channel.urc(`+CMTI: "SM",${index}`);
    return index;
  }

  /** The network sends NITZ: +CTZE with its zone and local time (27.007 +CTZR=2 style). */
  sendNitz(now: number): void {
    this.advance(now);
    if (this.power !== "on") return;
    this.sms.nitz = true;
    const local = formatModemTime(this.sms.networkTime(now), this.sms.zoneQuarters, true);
    const zone = local.slice(-3);
    this.channel.urc(`+CTZE: "${zone}",0,"${local.slice(0, -3)}"`);
  }

  /**
   * The `hang` fault fires once per run (a scenario describes one incident);
   * soak tests that want another incident re-arm it here.
   */
  rearmHang(): void {
    this.faults.rearmHang();
  }

  // ---------------------------------------------------------------- outputs

  /** Bytes for the DTE since the last call, concatenated. */
  takeOutput(): Uint8Array {
    const chunks = this.out;
    this.out = [];
    if (chunks.length <= 1) return chunks[0] ?? new Uint8Array(0);
    return new Uint8Array(Bun.concatArrayBuffers(chunks));
  }

  takeEvents(): SimEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  nextDeadline(): number | null {
    const t = this.timers.next();
    const s = this.channel.sessionDeadline;
    if (s === null) return t;
    return t === null || s < t ? s : t;
  }

  // ---------------------------------------------------------------- state views

  get powerState(): SimPowerState {
    return this.power;
  }
  get modeState(): SimMode {
    return this.channel.mode;
  }
  get isHung(): boolean {
    return this.hung;
  }
  get registrationStat(): number {
    return this.radio.stat;
  }
  get isAttached(): boolean {
    return this.radio.attached;
  }
  get dataSession(): DataSession | null {
    return this.channel.dataSession;
  }

  // ---------------------------------------------------------------- time

  private advance(now: number): void {
    // Fire due timers in deadline order; a handler may arm new ones.
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.timers.takeDue(now);
      if (due === null) break;
      this.onTimer[due.kind](due.at);
    }
    this.channel.poll(now);
  }

  // ---------------------------------------------------------------- power

  private startBoot(now: number, reason: string): void {
    this.power = "booting";
    this.hung = false;
    this.faults.booting();
    this.channel.reset();
    this.sms.reset();
    this.radio.reset();
    this.unheard.reset();
    this.pdn.reset();
    this.emit({ type: "sim.power", at: now, state: "booting", reason });
    this.timers.arm("boot", now + this.behaviour.bootMs);
  }

  private finishBoot(now: number, urcs: boolean): void {
    this.timers.disarm("boot");
    this.unheard.reset();
    this.power = "on";
    this.counters.boots++;
    if (this.faults.portVanishes) this.emit({ type: "sim.port", at: now, present: true });
    this.emit({ type: "sim.power", at: now, state: "on", reason: "boot" });
    if (urcs) for (const text of bootUrcs(this.behaviour.model, this.radio.sim)) this.urc(text);
    this.radio.radioOn(now);
    for (const t of this.faults.bootTimers(now)) this.timers.arm(t.kind, t.at);
  }

  /**
   * One command (as splitCommands cuts it, e.g. "+CSQ") on a second AT port:
   * the CMUX responder's polling DLCI. The same command table and module as
   * the main channel, the port's own settings, and no call behind it.
   */
  auxCommand(cmd: string, settings: ChannelSettings, now: number): CmdResult {
    return runCommand(QUECTEL_COMMANDS, cmd, { ...this.parts, settings, call: NO_CALL }, now);
  }

  /**
   * Where URCs go instead of this line when it returns true: the CMUX
   * responder's URC port (src/sim/cmux-responder.ts).
   */
  urcTap: ((text: string) => boolean) | null = null;

  /** Unsolicited result: to the CMUX URC port when one takes it, else the AT channel (held while a command runs). */
  private urc(text: string): void {
    if (this.power === "off") return;
    if (this.urcTap?.(text)) return;
    this.channel.urc(text);
  }

  /** A module reset: the line goes silent (no NO CARRIER: the module is gone), then it boots again. */
  private reboot(now: number, reason: string): void {
    this.channel.abortCall(now);
    this.timers.clear();
    if (this.faults.portVanishes) this.emit({ type: "sim.port", at: now, present: false });
    this.startBoot(now, reason);
  }

  /** AT+QPOWD has detached: off until a power cycle. */
  private switchOff(now: number): void {
    this.power = "off";
    this.channel.abortCall(now);
    this.timers.clear();
    this.emit({ type: "sim.power", at: now, state: "off", reason: "qpowd" });
  }

  /** The hang fault: nothing the DTE sends is heard and nothing is sent, until a power cycle (or recover=S). */
  private freeze(now: number): void {
    this.hung = true;
    this.channel.interpreter.dropInput();
    this.emit({ type: "sim.hang", at: now, hung: true });
    const recoverAt = this.faults.hangStruck(now);
    if (recoverAt !== null) this.timers.arm("hang-recover", recoverAt);
  }

  // ---------------------------------------------------------------- calls and the network

  private callStarting(cid: number, now: number): DataSession | null {
    this.counters.calls++;
    this.pdn.callStarted();
    const ctx = this.contexts.get(cid);
    const session = this.makeSession?.({ now, attached: this.radio.attached, cid, apn: ctx?.apn ?? "", pdpType: ctx?.type ?? "IP" }) ?? null;
    for (const t of this.faults.callTimers(now, this.timers.has("call-reboot"))) this.timers.arm(t.kind, t.at);
    return session;
  }

  private callEnded(reason: CallEndReason): void {
    this.pdn.callEnded(reason);
    for (const kind of CALL_FAULT_TIMERS) this.timers.disarm(kind);
  }

  /** network-drop: NO CARRIER, the network reports the UE detached, registration searches until it is back. */
  private networkDrop(at: number): void {
    if (this.channel.mode === "command") return;
    const backMs = this.faults.networkDropped();
    if (backMs === null) return;
    this.channel.dropCall(at, "network-drop");
    this.pdn.networkLost();
    this.radio.loseNetwork(at, backMs);
  }

  /** garbage: a burst of noise or URCs, only between commands: never inside a response, never in data mode. */
  private garbage(at: number): void {
    const next = this.faults.nextNoiseAt(at);
    if (next === null) return;
    this.timers.arm("garbage", next);
    if (this.power !== "on" || this.hung || this.channel.mode !== "command" || !this.channel.interpreter.idle) return;
    this.counters.garbageBursts++;
    const burst = this.faults.noiseBurst(this.radio.stat);
    this.out.push(burst.data);
    this.emit({ type: "sim.garbage", at, kind: burst.kind, bytes: burst.data.length });
  }

  private emit(e: SimEvent): void {
    this.events.push(e);
  }
}

/** A port with no data call behind it: ATH and ATO have nothing to act on. */
const NO_CALL: CallControl = {
  mode: "command",
  inCall: false,
  ipUp: false,
  hangUp: () => {},
  resume: () => {},
};

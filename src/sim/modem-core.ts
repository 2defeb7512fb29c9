/**
 * The AT personality of a Quectel BG96/BG77 as a pure core: bytes and time
 * in, bytes, events and "wake me at T" out. No I/O, no clock (DESIGN rule 1).
 *
 * Shape (after Zephyr's modem_cellular: state → enter / on event / leave):
 *   power:  off → booting → on            (RDY + boot URCs when booting ends)
 *   mode:   command ⇄ data ⇄ online-command (CONNECT, +++ / ATO, ATH, DTR, NO CARRIER)
 *   radio:  CFUN 0/1/4, SIM state, registration stat, packet attach (radio.ts)
 * Timers are data: one `{kind → at}` table; `nextDeadline()` is its minimum
 * (plus the data session's). Scenario faults (hang, garbage, reboot loop,
 * drop, dead peer, port vanish, reboot mid-call, network drop, APN reject,
 * T3396) are read from SimBehaviour.
 *
 * AT+CEER (27.007 §6.10) reports why the last call failed or ended: "No
 * report available" after power-on or a call the DTE ended, the ESM/EMM cause
 * where the network refused or ended it.
 *
 * Line formats (Quectel BG96 AT Commands Manual §1.4, V.250): with ATV1 an
 * information response is <CR><LF>text<CR><LF> and a final result is
 * <CR><LF>OK<CR><LF>; echo (ATE1, the default) repeats each received
 * character as it arrives.
 */
import type { DataSession, DataSessionFactory } from "./data-session.ts";
import type { SimEvent, SimMode, SimPowerState } from "./events.ts";
import { type CmdResult, type PendingCommand, maskSecrets, sRegister, splitArgs, splitCommands } from "./at-syntax.ts";
import { EscapeDetector } from "./escape.ts";
import { garbageBurst, seededRandom } from "./garbage.ts";
import { RadioModel } from "./radio.ts";
import type { SimBehaviour } from "./scenario.ts";
import { CME, CONNECT_TEXT, IMEI, MANUFACTURER, MODEL_TEXT, NUMERIC_RESULT, cmeText } from "./quectel-text.ts";

const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;
/** Longest command line we keep (BG96: 1024 characters incl. "AT"); longer input is cut. */
const MAX_LINE = 1024;

type TimerKind =
  | "boot"
  | "registration"
  | "attach"
  | "pending"
  | "escape"
  | "drop"
  | "dead"
  | "garbage"
  | "reboot"
  | "hang-recover"
  | "hang-call"
  | "call-reboot"
  | "net-drop"
  | "powerdown";

export interface ModemCoreOptions {
  behaviour: SimBehaviour;
  /** Start time; the modem powers on at once (RDY after bootMs). */
  now: number;
  /** Builds what runs behind CONNECT. Without one, data-mode bytes are swallowed. */
  dataSession?: DataSessionFactory;
  /** Start already booted (skip the initial RDY wait), e.g. for unit tests. */
  booted?: boolean;
}

interface Context {
  cid: number;
  type: string;
  apn: string;
}

/** The AT+CEER answer: the report of the last call, rendered at query time (T3396 counts down). */
type CallReport = (now: number) => string;
const NO_REPORT: CallReport = () => '+CEER: "No report available"';
const esmReport =
  (category: string, cause: number, text: string): CallReport =>
  () =>
    `+CEER: "${category}",${cause},"${text}"`;
/** TS 24.301 annex B ESM causes and annex A EMM causes the scenarios use. */
const REPORT = {
  unknownApn: esmReport("ESM reject", 27, "Missing or unknown APN"),
  authFailed: esmReport("ESM reject", 29, "User authentication or authorization failed"),
  regularDeactivation: esmReport("ESM deactivation", 36, "Regular deactivation"),
  implicitlyDetached: esmReport("EMM detach", 10, "Implicitly detached"),
};

export interface ModemCounters {
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
  private mode: SimMode = "command";
  private hung = false;
  private hangUsed = false;
  private commandsSinceBoot = 0;
  private rebootsDone = 0;
  /** Reboots armed after CONNECT (reboot-mid-call, port-vanish:S). */
  private callRebootsArmed = 0;
  /** network-drop incidents so far. */
  private netDropsDone = 0;
  /** t3396: when the ESM back-off timer started by the first dial runs out (null: not started). */
  private t3396Until: number | null = null;
  private callReport: CallReport = NO_REPORT;

  // settings (reset by boot / ATZ)
  private echo = true;
  private verbose = true;
  private quiet = false;
  private cmee = 1;
  private andD = 2;
  private ipr = 115200;

  /** SIM, CFUN, registration, attach. */
  readonly radio: RadioModel;
  private contexts = new Map<number, Context>();

  // line discipline
  private line: number[] = [];
  /** What the DTE types while nobody listens (hung, booting, off): reported as sim.unheard lines. */
  private deafLine: number[] = [];
  private lastLine = "";
  private held: number[] = [];
  private pending: PendingCommand | null = null;
  private heldUrcs: string[] = [];
  /** A command line is being executed: URCs wait until its final result. */
  private executing = false;

  // data mode
  private session: DataSession | null = null;
  private readonly escape: EscapeDetector;
  private deadSet = false;
  private ipUpAt: number | null = null;

  private timers = new Map<TimerKind, number>();
  private out: Uint8Array[] = [];
  private events: SimEvent[] = [];
  private readonly random: () => number;
  private readonly makeSession: DataSessionFactory | undefined;
  private readonly enc = new TextEncoder();
  private now: number;

  constructor(opts: ModemCoreOptions) {
    this.behaviour = opts.behaviour;
    this.makeSession = opts.dataSession;
    this.random = seededRandom(opts.behaviour.seed);
    this.escape = new EscapeDetector(opts.behaviour.guardMs);
    this.radio = new RadioModel(opts.behaviour, {
      arm: (kind, at) => this.arm(kind, at),
      disarm: (kind) => this.disarm(kind),
      urc: (text) => this.urc(text),
      emit: (e) => this.emit(e),
      attachRequested: () => this.pending?.kind === "cgatt",
    }, opts.now);
    this.now = opts.now;
    this.contexts.set(1, { cid: 1, type: "IP", apn: "" });
    this.startBoot(opts.now, "power-on");
    if (opts.booted) this.finishBoot(opts.now, false);
  }

  // ---------------------------------------------------------------- inputs

  /** Bytes from the DTE (the agent). */
  input(data: Uint8Array, now: number): void {
    this.advance(now);
    if (this.power !== "on" || this.hung) {
      this.counters.droppedBytes += data.length;
      this.unheard(data, now);
      return;
    }
    if (this.mode === "data") {
      this.dataInput(data, now);
      return;
    }
    for (const b of data) this.commandByte(b, now);
  }

  /** Run whatever is due at `now`. */
  poll(now: number): void {
    this.advance(now);
  }

  /** DTR line from the DTE (only transports with modem lines; a pty has none). */
  setDtr(on: boolean, now: number): void {
    this.advance(now);
    if (on || this.power !== "on" || this.hung) return;
    if (this.mode === "command" || this.andD === 0) return;
    if (this.andD === 1) {
      // &D1: ON→OFF switches to command mode, the call stays up (V.250 §6.2.9).
      this.enterMode("online-command", "dtr", now);
      this.final("OK");
    } else {
      // &D2: ON→OFF hangs the call up and returns to command mode.
      this.endCall(now, "dtr", true);
    }
  }

  /** Pull the power and put it back (the test's / simulator's power-cycle hook). */
  powerCycle(now: number): void {
    this.advance(now);
    this.reboot(now, "power-cycle");
  }

  // ---------------------------------------------------------------- outputs

  /** Bytes for the DTE since the last call, concatenated. */
  takeOutput(): Uint8Array {
    if (this.out.length === 0) return new Uint8Array(0);
    if (this.out.length === 1) {
      const only = this.out[0]!;
      this.out = [];
      return only;
    }
    let n = 0;
    for (const c of this.out) n += c.length;
    const all = new Uint8Array(n);
    let at = 0;
    for (const c of this.out) {
      all.set(c, at);
      at += c.length;
    }
    this.out = [];
    return all;
  }

  takeEvents(): SimEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  nextDeadline(): number | null {
    let best: number | null = null;
    for (const at of this.timers.values()) if (best === null || at < best) best = at;
    const s = this.session?.nextDeadline() ?? null;
    if (s !== null && (best === null || s < best)) best = s;
    return best;
  }

  // ---------------------------------------------------------------- state views

  get powerState(): SimPowerState {
    return this.power;
  }
  get modeState(): SimMode {
    return this.mode;
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
    return this.session;
  }

  // ---------------------------------------------------------------- time

  private advance(now: number): void {
    if (now > this.now) this.now = now;
    // Fire due timers in deadline order; a handler may arm new ones.
    for (let guard = 0; guard < 10_000; guard++) {
      let kind: TimerKind | null = null;
      let at = Number.POSITIVE_INFINITY;
      for (const [k, t] of this.timers) {
        if (t <= now && t < at) {
          kind = k;
          at = t;
        }
      }
      if (kind === null) break;
      this.timers.delete(kind);
      this.fire(kind, at);
    }
    if (this.session) {
      this.session.poll(now);
      this.pumpSession(now);
    }
  }

  private arm(kind: TimerKind, at: number): void {
    this.timers.set(kind, at);
  }
  private disarm(kind: TimerKind): void {
    this.timers.delete(kind);
  }

  private fire(kind: TimerKind, at: number): void {
    switch (kind) {
      case "boot":
        this.finishBoot(at, true);
        break;
      case "registration":
        this.radio.registrationStep(at);
        break;
      case "attach":
        this.radio.setAttached(true, at);
        if (this.pending?.kind === "cgatt") this.completePending(at, { kind: "ok" });
        break;
      case "pending":
        this.pendingTimeout(at);
        break;
      case "escape":
        this.escapeToCommand(at);
        break;
      case "drop":
        if (this.mode !== "command") this.endCall(at, "drop-after", true);
        break;
      case "dead":
        if (this.session) {
          this.session.setDead(true);
          this.deadSet = true;
          this.emit({ type: "sim.ppp", at, what: "dead", detail: "dead-peer: the network stopped answering" });
        }
        break;
      case "garbage":
        this.garbage(at);
        break;
      case "reboot":
        this.rebootsDone++;
        this.reboot(at, "reboot-loop");
        break;
      case "call-reboot":
        this.reboot(at, this.behaviour.rebootMidCall ? "reboot-mid-call" : "port-vanish");
        break;
      case "net-drop": {
        const nd = this.behaviour.networkDrop;
        if (!nd || this.mode === "command") break;
        this.netDropsDone++;
        this.endCall(at, "network-drop", true);
        this.callReport = REPORT.implicitlyDetached;
        this.radio.loseNetwork(at, nd.backMs);
        break;
      }
      case "hang-call":
        // hang:call=S: the whole module freezes mid-call, PPP and AT alike, until a power cycle.
        if (this.mode !== "command" && this.power === "on") this.freeze(at);
        break;
      case "hang-recover":
        this.reboot(at, "hang-recover");
        break;
      case "powerdown":
        this.power = "off";
        this.clearCallAndTimers(at);
        this.emit({ type: "sim.power", at, state: "off", reason: "qpowd" });
        break;
    }
  }

  // ---------------------------------------------------------------- power

  private startBoot(now: number, reason: string): void {
    this.power = "booting";
    this.hung = false;
    this.commandsSinceBoot = 0;
    this.resetSettings();
    this.radio.reset();
    this.line = [];
    this.deafLine = [];
    this.held = [];
    this.pending = null;
    this.heldUrcs = [];
    this.callReport = NO_REPORT;
    this.emit({ type: "sim.power", at: now, state: "booting", reason });
    this.arm("boot", now + this.behaviour.bootMs);
  }

  private finishBoot(now: number, urcs: boolean): void {
    this.disarm("boot");
    this.deafLine = [];
    this.power = "on";
    this.counters.boots++;
    if (this.behaviour.portVanish) this.emit({ type: "sim.port", at: now, present: true });
    this.emit({ type: "sim.power", at: now, state: "on", reason: "boot" });
    if (urcs) {
      // BG96 boot sequence on the AT port (Hardware Design §3.7 / AT manual §1.5).
      this.urc("RDY");
      this.urc("+CFUN: 1");
      if (this.radio.sim === "ready") this.urc("+CPIN: READY");
      else if (this.radio.sim === "pin") this.urc("+CPIN: SIM PIN");
      if (this.radio.sim === "ready") this.urc("+QIND: SMS DONE");
      if (this.behaviour.model === "BG77") this.urc("APP RDY");
    }
    this.radio.radioOn(now);
    const loop = this.behaviour.rebootLoop;
    if (loop && this.rebootsDone < loop.times) this.arm("reboot", now + loop.everyMs);
    if (this.behaviour.garbageEveryMs !== null) this.arm("garbage", now + this.behaviour.garbageEveryMs);
  }

  /** A module reset: the line goes silent (no NO CARRIER: the module is gone), then it boots again. */
  private reboot(now: number, reason: string): void {
    this.clearCallAndTimers(now);
    if (this.behaviour.portVanish) this.emit({ type: "sim.port", at: now, present: false });
    this.startBoot(now, reason);
  }

  private clearCallAndTimers(now: number): void {
    if (this.session) {
      this.session.hangUp(now);
      this.collectSessionEvents();
      this.session = null;
    }
    if (this.mode !== "command") this.enterMode("command", "reset", now);
    this.timers.clear();
    this.escape.reset(now);
  }

  private resetSettings(): void {
    this.echo = true;
    this.verbose = true;
    this.quiet = false;
    this.cmee = 1;
    this.andD = 2;
    this.radio.resetUrcModes();
  }

  /** Bytes nobody hears: each AT command line among them becomes a sim.unheard event (PPP bytes and noise do not). */
  private unheard(data: Uint8Array, now: number): void {
    for (const b of data) {
      if (b !== CR) {
        if (this.deafLine.length < MAX_LINE) this.deafLine.push(b);
        continue;
      }
      const text = String.fromCharCode(...this.deafLine).trim();
      this.deafLine = [];
      // The printable run at the end of the line, from its first "AT" (PPP bytes before it are not a command).
      const run = /[\x20-\x7e]*$/.exec(text)?.[0] ?? "";
      const at = run.search(/at/i);
      if (at < 0) continue;
      this.emit({ type: "sim.unheard", at: now, line: maskSecrets(run.slice(at)), state: this.hung || this.power === "on" ? "hung" : this.power });
    }
  }

  // ---------------------------------------------------------------- command mode line discipline

  private commandByte(b: number, now: number): void {
    if (this.pending) {
      // A command is executing: keep what comes until it finishes.
      this.held.push(b);
      return;
    }
    if (this.echo) this.out.push(Uint8Array.of(b));
    if (b === CR) {
      const text = String.fromCharCode(...this.line).trim();
      this.line = [];
      this.commandLine(text, now);
      return;
    }
    if (b === LF && this.line.length === 0) return;
    if (b === BS) {
      this.line.pop();
      return;
    }
    if (this.line.length === 0 && (b === 0x41 || b === 0x61)) {
      this.line.push(b);
      return;
    }
    if (this.line.length === 1 && b === 0x2f && (this.line[0] === 0x41 || this.line[0] === 0x61)) {
      // "A/" repeats the last command line at once, no CR needed (V.250 §6.2.2).
      this.line = [];
      this.commandLine(this.lastLine, now);
      return;
    }
    if (this.line.length === 0) return; // noise before "A": ignored like a real modem
    if (this.line.length < MAX_LINE) this.line.push(b);
  }

  private commandLine(text: string, now: number): void {
    if (!/^at/i.test(text)) return;
    this.lastLine = text;
    this.counters.commands++;
    const body = text.slice(2);
    const results: CmdResult[] = [];
    const cmds = splitCommands(body);
    if (cmds === null) {
      this.finishLine(text, { kind: "error" }, now);
      return;
    }
    let last: CmdResult = { kind: "ok" };
    this.executing = true;
    for (const cmd of cmds) {
      last = this.execute(cmd, now);
      results.push(last);
      if (last.kind !== "ok") break;
    }
    this.executing = false;
    // Information responses of every command, in order, then one final result.
    for (const r of results) {
      if ((r.kind === "ok" || r.kind === "final" || r.kind === "later") && r.info) this.info(r.info);
    }
    this.finishLine(text, last, now);
  }

  private finishLine(text: string, r: CmdResult, now: number): void {
    let result: string | null;
    switch (r.kind) {
      case "ok":
        result = "OK";
        break;
      case "error":
        result = "ERROR";
        break;
      case "cme":
        result = this.cmeResult(r.code);
        break;
      case "final":
        result = r.text;
        break;
      case "later":
        this.pending = r.pending;
        result = null;
        break;
      case "connect":
        result = CONNECT_TEXT;
        break;
      case "reset":
        result = "OK";
        break;
    }
    if (result !== null) this.final(result);
    this.emit({ type: "sim.command", at: now, line: maskSecrets(text), result: r.kind === "later" ? "(pending)" : result });
    if (r.kind === "connect") this.startCall(r.cid, now);
    // URCs raised while the line ran go out after its result (dropped once in data mode).
    if (!this.pending) this.flushUrcs();
    if (r.kind === "reset") this.reboot(now, "cfun-reset");
    this.afterCommand(now);
  }

  /**
   * The `hang` fault fires once per run (a scenario describes one incident);
   * soak tests that want another incident re-arm it here.
   */
  rearmHang(): void {
    this.hangUsed = false;
  }

  private afterCommand(now: number): void {
    this.commandsSinceBoot++;
    const h = this.behaviour.hang;
    if (h && h.afterConnectMs === null && !this.hangUsed && this.commandsSinceBoot >= h.afterCommands && this.power === "on") this.freeze(now);
  }

  /** The hang fault: nothing the DTE sends is heard and nothing is sent, until a power cycle (or recover=S). */
  private freeze(now: number): void {
    const h = this.behaviour.hang;
    this.hangUsed = true;
    this.hung = true;
    this.line = [];
    this.held = [];
    this.emit({ type: "sim.hang", at: now, hung: true });
    if (h && h.recoverMs !== null) this.arm("hang-recover", now + h.recoverMs);
  }

  private cmeResult(code: number): string {
    if (this.cmee === 0) return "ERROR";
    return this.cmee === 1 ? `+CME ERROR: ${code}` : `+CME ERROR: ${cmeText(code)}`;
  }

  private completePending(now: number, r: CmdResult): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.disarm("pending");
    if ((r.kind === "ok" || r.kind === "final") && r.info) this.info(r.info);
    let result: string;
    if (r.kind === "ok") result = "OK";
    else if (r.kind === "cme") result = this.cmeResult(r.code);
    else if (r.kind === "final") result = r.text;
    else if (r.kind === "connect") result = CONNECT_TEXT;
    else result = "ERROR";
    this.final(result);
    this.emit({ type: "sim.command", at: now, line: maskSecrets(p.line), result });
    if (r.kind === "connect") this.startCall(r.cid, now);
    this.flushUrcs();
    // Re-run whatever the DTE typed while we were busy.
    const held = this.held;
    this.held = [];
    for (const b of held) this.commandByte(b, now);
  }

  private pendingTimeout(now: number): void {
    const p = this.pending;
    if (!p) return;
    switch (p.kind) {
      case "cgatt":
        this.completePending(now, { kind: "cme", code: CME.noNetworkService });
        break;
      case "qpowd":
        this.pending = null;
        this.held = [];
        this.urc("POWERED DOWN");
        this.arm("powerdown", now);
        break;
    }
  }

  // ---------------------------------------------------------------- the commands

  private execute(cmd: string, now: number): CmdResult {
    const upper = cmd.toUpperCase();
    // Basic commands (V.250): one letter or &letter plus an optional number.
    if (!upper.startsWith("+")) return this.basic(upper, cmd, now);
    const m = /^(\+[A-Z0-9]+)(=\?|\?|=(.*))?$/s.exec(cmd.toUpperCase());
    if (!m) return { kind: "error" };
    const name = m[1]!;
    const form: "exec" | "read" | "test" | "set" = m[2] === undefined ? "exec" : m[2] === "?" ? "read" : m[2] === "=?" ? "test" : "set";
    // Keep the original case of the arguments (APN, PIN, password).
    const rawArgs = form === "set" ? cmd.slice(cmd.indexOf("=") + 1) : "";
    const args = form === "set" ? splitArgs(rawArgs) : [];
    return this.extended(name, form, args, now);
  }

  private basic(upper: string, original: string, now: number): CmdResult {
    if (upper === "") return { kind: "ok" };
    const letter = upper.startsWith("&") ? upper.slice(0, 2) : upper.slice(0, 1);
    const arg = upper.slice(letter.length);
    const n = arg === "" ? 0 : Number(arg);
    switch (letter) {
      case "E":
        if (n !== 0 && n !== 1) return { kind: "error" };
        this.echo = n === 1;
        return { kind: "ok" };
      case "V":
        if (n !== 0 && n !== 1) return { kind: "error" };
        this.verbose = n === 1;
        return { kind: "ok" };
      case "Q":
        this.quiet = n === 1;
        return { kind: "ok" };
      case "I":
        return { kind: "ok", info: [MANUFACTURER, this.text.model, `Revision: ${this.text.revision}`] };
      case "Z":
      case "&F":
        this.resetSettings();
        return { kind: "ok" };
      case "&W":
      case "X":
      case "&C":
        return { kind: "ok" };
      case "&D":
        if (!(n >= 0 && n <= 2)) return { kind: "error" };
        this.andD = n;
        return { kind: "ok" };
      case "S":
        if (/^\d+\?$/.test(arg)) return { kind: "ok", info: [sRegister(Number(arg.slice(0, -1)))] };
        if (/^\d+=\d+$/.test(arg)) return { kind: "ok" };
        return { kind: "error" };
      case "H":
        if (this.mode === "online-command") {
          this.endCall(now, "ath", false);
        }
        return { kind: "ok" };
      case "O":
        if (this.mode !== "online-command" || !this.session) return { kind: "final", text: "NO CARRIER" };
        this.escape.reset(now);
        this.enterMode("data", "ato", now);
        return { kind: "final", text: CONNECT_TEXT };
      case "D":
        return this.dial(original.slice(1), now);
      case "A":
        return { kind: "final", text: "NO CARRIER" };
      default:
        return { kind: "error" };
    }
  }

  private get text() {
    return MODEL_TEXT[this.behaviour.model];
  }

  private extended(name: string, form: "exec" | "read" | "test" | "set", args: string[], now: number): CmdResult {
    const ok = (info?: string[]): CmdResult => (info ? { kind: "ok", info } : { kind: "ok" });
    const bad: CmdResult = { kind: "cme", code: CME.incorrectParameters };
    const num = (i: number): number | null => {
      const a = args[i];
      return a !== undefined && /^\d+$/.test(a) ? Number(a) : null;
    };
    switch (name) {
      case "+CMEE":
        if (form === "read") return ok([`+CMEE: ${this.cmee}`]);
        if (form === "test") return ok(["+CMEE: (0-2)"]);
        if (form === "set") {
          const v = num(0);
          if (v === null || v > 2) return bad;
          this.cmee = v;
        }
        return ok();
      case "+CGMI":
      case "+GMI":
        return ok([MANUFACTURER]);
      case "+CGMM":
      case "+GMM":
        return ok([this.text.model]);
      case "+CGMR":
      case "+GMR":
        return ok([this.text.revision]);
      case "+CGSN":
      case "+GSN":
        return ok([IMEI]);
      case "+CIMI":
        return this.radio.cimi();
      case "+QCCID":
      case "+CCID":
        return this.radio.qccid();
      case "+IPR":
        if (form === "read") return ok([`+IPR: ${this.ipr}`]);
        if (form === "set") {
          const v = num(0);
          if (v === null) return bad;
          this.ipr = v;
        }
        return ok();
      case "+CPIN":
        return this.radio.cpin(form, args, now);
      case "+CFUN":
        return this.cfunCmd(form, args, now);
      case "+CREG":
      case "+CGREG":
      case "+CEREG":
        return this.radio.reg(name, form, args);
      case "+CGATT":
        return this.cgatt(form, args, now);
      case "+COPS":
        return this.radio.cops(form);
      case "+CSQ":
        return this.radio.csq(form);
      case "+QCSQ":
        return this.radio.qcsq(form);
      case "+QNWINFO":
        return this.radio.qnwinfo();
      case "+QNWCFG":
        return this.radio.qnwcfg(form, args, now);
      case "+CGDCONT":
        return this.cgdcont(form, args);
      case "+CGACT":
        if (form === "read") return ok([`+CGACT: 1,${this.session?.ipUp ? 1 : 0}`]);
        return ok();
      case "+CGPADDR":
        return ok(["+CGPADDR: 1"]);
      case "+CEER":
        if (form === "test") return ok();
        return ok([this.callReport(now)]);
      case "+QPOWD": {
        if (form === "test") return ok(["+QPOWD: (0,1)"]);
        const v = form === "set" ? num(0) : 1;
        if (v === null || v > 1) return bad;
        // QPOWD=1 (normal): OK, then "POWERED DOWN" once it has detached; QPOWD=0: at once.
        if (v === 0) return { kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD=0" } };
        this.final("OK");
        this.arm("pending", now + Math.max(1, Math.round(this.behaviour.bootMs / 2)));
        return { kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD" } };
      }
      case "+CGAUTH":
      case "+QICSGP":
        // PDP authentication set by AT command (27.007 §10.1.31 / Quectel): accepted, not checked;
        // the PPP exchange is what the network verifies.
        return ok();
      case "+CGEREP":
      case "+CTZU":
      case "+CMGF":
      case "+CSCS":
      case "+QCFG":
      case "+QURCCFG":
      case "+IFC":
      case "+QSCLK":
      case "+CPSMS":
      case "+CEDRXS":
        return ok();
      case "+CCLK":
        return ok(['+CCLK: "26/01/01,00:00:00+00"']);
      default:
        return { kind: "error" };
    }
  }

  private cfunCmd(form: string, args: string[], now: number): CmdResult {
    if (form === "read") return { kind: "ok", info: [`+CFUN: ${this.radio.cfun}`] };
    if (form === "test") return { kind: "ok", info: ["+CFUN: (0,1,4),(0-1)"] };
    if (form !== "set") return { kind: "error" };
    const fun = args[0];
    const rst = args[1] ?? "0";
    if (fun !== "0" && fun !== "1" && fun !== "4") return { kind: "cme", code: CME.incorrectParameters };
    if (rst === "1") {
      // CFUN=<fun>,1: reset the module. It answers OK, goes silent, then RDY.
      return { kind: "reset" };
    }
    return this.radio.setFun(Number(fun), now);
  }

  private cgatt(form: string, args: string[], now: number): CmdResult {
    const r = this.radio;
    if (form === "read") return { kind: "ok", info: [`+CGATT: ${r.attached ? 1 : 0}`] };
    if (form === "test") return { kind: "ok", info: ["+CGATT: (0,1)"] };
    if (form !== "set") return { kind: "error" };
    const sim = r.simCheck();
    if (sim) return sim;
    if (args[0] === "0") {
      this.disarm("attach");
      r.setAttached(false, now);
      return { kind: "ok" };
    }
    if (args[0] !== "1") return { kind: "cme", code: CME.incorrectParameters };
    if (r.attached) return { kind: "ok" };
    if (r.cfun !== 1 || r.deniedForGood) return { kind: "cme", code: CME.noNetworkService };
    // Registered: attach takes attachMs. Searching (or backing off): wait for registration, up to 140 s.
    if (r.registered) this.arm("attach", now + this.behaviour.attachMs);
    this.arm("pending", now + this.behaviour.attachTimeoutMs);
    return { kind: "later", pending: { kind: "cgatt", line: "AT+CGATT=1" } };
  }

  private cgdcont(form: string, args: string[]): CmdResult {
    if (form === "test") return { kind: "ok", info: ['+CGDCONT: (1-15),"IP",,,(0-2),(0-4),(0)', '+CGDCONT: (1-15),"IPV6",,,(0-2),(0-4),(0)', '+CGDCONT: (1-15),"IPV4V6",,,(0-2),(0-4),(0)'] };
    if (form === "read") {
      const lines = [...this.contexts.values()]
        .sort((a, b) => a.cid - b.cid)
        .map((c) => `+CGDCONT: ${c.cid},"${c.type}","${c.apn}","0.0.0.0",0,0,0`);
      return { kind: "ok", info: lines };
    }
    if (form !== "set") return { kind: "error" };
    const cid = args[0] !== undefined && /^\d+$/.test(args[0]) ? Number(args[0]) : null;
    if (cid === null || cid < 1 || cid > 15) return { kind: "cme", code: CME.incorrectParameters };
    if (args.length === 1) {
      this.contexts.delete(cid);
      return { kind: "ok" };
    }
    const type = (args[1] ?? "IP").toUpperCase();
    if (!["IP", "IPV6", "IPV4V6", "PPP", "NON-IP"].includes(type)) return { kind: "cme", code: CME.incorrectParameters };
    this.contexts.set(cid, { cid, type, apn: args[2] ?? "" });
    return { kind: "ok" };
  }

  // ---------------------------------------------------------------- dialling and data mode

  private dial(numberText: string, now: number): CmdResult {
    const number = numberText.replace(/[\s"]/g, "").toUpperCase();
    const m = /^\*99(?:\*\*\*(\d+))?#$/.exec(number);
    if (!m) return { kind: "final", text: "NO CARRIER" };
    const cid = m[1] === undefined ? 1 : Number(m[1]);
    if (this.mode !== "command") return { kind: "error" };
    return this.dialOutcome(cid, now);
  }

  /**
   * A PPP dial succeeds (CONNECT) whenever the radio is registered, attached
   * or not: the BG77 field report shows CONNECT and PAP success before the
   * network gives up on an unattached call with LCP Terminate-Request.
   * The network refuses the PDN connection (NO CARRIER at once, the ESM cause
   * in AT+CEER) for an APN it does not know (apn-rejected, ESM #27) and while
   * the session-management back-off runs (t3396, ESM #26 with T3396, TS 24.301
   * §6.5.1.4.3; the first dial starts it).
   */
  private dialOutcome(cid: number, now: number): CmdResult {
    const ctx = this.contexts.get(cid);
    if (!this.radio.canDial || !ctx) return { kind: "final", text: "NO CARRIER" };
    const b = this.behaviour;
    if (b.acceptApn !== null && ctx.apn.toLowerCase() !== b.acceptApn.toLowerCase()) {
      this.callReport = REPORT.unknownApn;
      return { kind: "final", text: "NO CARRIER" };
    }
    if (b.t3396Ms !== null) {
      if (this.t3396Until === null) this.t3396Until = now + b.t3396Ms;
      const until = this.t3396Until;
      if (now < until) {
        this.callReport = (at) => `+CEER: "ESM reject",26,"Insufficient resources, T3396 ${Math.max(0, Math.ceil((until - at) / 1000))} s"`;
        return { kind: "final", text: "NO CARRIER" };
      }
    }
    return { kind: "connect", cid };
  }

  private startCall(cid: number, now: number): void {
    this.counters.calls++;
    this.callReport = NO_REPORT;
    const ctx = this.contexts.get(cid);
    this.session = this.makeSession?.({ now, attached: this.radio.attached, cid, apn: ctx?.apn ?? "", pdpType: ctx?.type ?? "IP" }) ?? null;
    this.deadSet = false;
    this.ipUpAt = null;
    this.escape.reset(now);
    this.enterMode("data", "connect", now);
    const b = this.behaviour;
    if (b.dropAfterMs !== null) this.arm("drop", now + b.dropAfterMs);
    if (b.hang && b.hang.afterConnectMs !== null && !this.hangUsed) this.arm("hang-call", now + b.hang.afterConnectMs);
    if (b.networkDrop && this.netDropsDone < b.networkDrop.times) this.arm("net-drop", now + b.networkDrop.afterConnectMs);
    // reboot-mid-call (or port-vanish:S, once): the module resets by itself S s after CONNECT,
    // whatever the call is doing by then, as a firmware crash would.
    const pv = b.portVanish;
    const rebootPlan = b.rebootMidCall ?? (pv && pv.afterConnectMs !== null ? { afterConnectMs: pv.afterConnectMs, times: 1 } : null);
    if (rebootPlan && this.callRebootsArmed < rebootPlan.times && !this.timers.has("call-reboot")) {
      this.callRebootsArmed++;
      this.arm("call-reboot", now + rebootPlan.afterConnectMs);
    }
    if (this.session) {
      this.session.poll(now);
      this.pumpSession(now);
    }
  }

  private enterMode(mode: SimMode, reason: string, now: number): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.emit({ type: "sim.mode", at: now, mode, reason });
    if (mode === "command") this.flushUrcs();
  }

  /** Data-mode bytes: "+++" detection first (escape.ts), the rest to the data session. */
  private dataInput(data: Uint8Array, now: number): void {
    for (const chunk of this.escape.input(data, now)) this.toSession(chunk, now);
    const at = this.escape.deadline;
    if (at === null) this.disarm("escape");
    else this.arm("escape", at);
  }

  private escapeToCommand(now: number): void {
    if (this.mode !== "data" || !this.escape.poll(now)) return;
    this.enterMode("online-command", "+++", now);
    this.final("OK");
  }

  private toSession(bytes: Uint8Array, now: number): void {
    if (!this.session || bytes.length === 0) return;
    this.session.input(bytes, now);
    this.pumpSession(now);
  }

  private pumpSession(now: number): void {
    const s = this.session;
    if (!s) return;
    const chunks = s.takeOutput();
    if (this.mode === "data" && !this.hung) for (const c of chunks) this.out.push(c);
    this.collectSessionEvents();
    if (s.ipUp && this.ipUpAt === null) {
      this.ipUpAt = now;
      if (this.behaviour.deadPeerAfterMs !== null && !this.deadSet) this.arm("dead", now + this.behaviour.deadPeerAfterMs);
    }
    if (s.ended && this.session === s) this.endCall(now, "ppp-terminated", true);
  }

  private collectSessionEvents(): void {
    if (!this.session) return;
    for (const e of this.session.takeEvents()) this.sessionEvent(e);
  }

  /** The network side refused the login: the PDN connection fails with ESM #29 (what AT+CEER tells). */
  private sessionEvent(e: SimEvent): void {
    if (e.type === "sim.ppp" && e.what === "auth-failed") this.callReport = REPORT.authFailed;
    this.emit(e);
  }

  /** The call ends; `noCarrier` puts NO CARRIER on the line (V.250 result code). */
  private endCall(now: number, reason: string, noCarrier: boolean): void {
    const s = this.session;
    this.session = null;
    if (s) {
      s.hangUp(now);
      const last = s.takeOutput();
      if (this.mode === "data") for (const c of last) this.out.push(c);
      for (const e of s.takeEvents()) this.sessionEvent(e);
    }
    if (reason === "drop-after") this.callReport = REPORT.regularDeactivation;
    else if (reason === "ath" || reason === "dtr" || (reason === "ppp-terminated" && this.callReport !== REPORT.authFailed)) this.callReport = NO_REPORT;
    this.disarm("drop");
    this.disarm("hang-call");
    this.disarm("net-drop");
    this.disarm("dead");
    this.disarm("escape");
    this.escape.reset(now);
    this.enterMode("command", reason, now);
    if (noCarrier) this.final("NO CARRIER");
  }

  // ---------------------------------------------------------------- garbage

  private garbage(now: number): void {
    const every = this.behaviour.garbageEveryMs;
    if (every === null) return;
    this.arm("garbage", now + every);
    // Only between commands: never inside a response, never in data mode.
    if (this.power !== "on" || this.hung || this.mode !== "command" || this.pending || this.line.length > 0) return;
    this.counters.garbageBursts++;
    const burst = garbageBurst(this.random, this.radio.stat);
    this.out.push(burst.data);
    this.emit({ type: "sim.garbage", at: now, kind: burst.kind, bytes: burst.data.length });
  }

  // ---------------------------------------------------------------- output helpers

  /** One command's information response: <CR><LF>line<CR><LF>line...<CR><LF> (V.250 §5.7.2). */
  private info(text: readonly string[]): void {
    if (this.quiet || text.length === 0) return;
    const body = text.join("\r\n");
    this.out.push(this.enc.encode(this.verbose ? `\r\n${body}\r\n` : `${body}\r\n`));
  }

  private final(text: string): void {
    if (this.quiet || text === "") return;
    if (this.verbose) {
      this.out.push(this.enc.encode(`\r\n${text}\r\n`));
    } else {
      const head = text.startsWith("CONNECT") ? "CONNECT" : text;
      const code = NUMERIC_RESULT[head];
      this.out.push(this.enc.encode(code !== undefined ? `${code}\r` : `${text}\r\n`));
    }
  }

  /**
   * Where URCs go instead of this line when it returns true: the CMUX
   * responder's URC port (src/sim/cmux-responder.ts).
   */
  urcTap: ((text: string) => boolean) | null = null;

  /** Unsolicited result: held while a command runs, dropped in data mode (the line is PPP). */
  private urc(text: string): void {
    if (this.power === "off") return;
    if (this.urcTap?.(text)) return;
    if (this.mode === "data") return;
    if (this.pending || this.executing) {
      this.heldUrcs.push(text);
      return;
    }
    this.out.push(this.enc.encode(`\r\n${text}\r\n`));
  }

  private flushUrcs(): void {
    const u = this.heldUrcs;
    this.heldUrcs = [];
    for (const t of u) this.urc(t);
  }

  private emit(e: SimEvent): void {
    this.events.push(e);
  }
}

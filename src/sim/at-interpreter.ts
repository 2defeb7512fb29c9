/**
 * The command state of one AT channel (ITU-T V.250 §5): what the DCE does
 * with the bytes the DTE types while no call is in data mode. Bytes in,
 * response bytes out through the host; no I/O, no clock.
 *
 *   line discipline:  echo (ATE1), backspace, noise before "A" ignored,
 *                     "A/" repeats the last line, lines cut at 1024 characters
 *   a command line:   split into commands (at-syntax.ts), each run through the
 *                     command table (commands/) until one does not say OK;
 *                     every information response in order, then one final
 *                     result (at-responses.ts words it)
 *   pending command:  AT+CGATT=1 / AT+QPOWD answer later; bytes typed
 *                     meanwhile wait and run afterwards
 *   text entry:       AT+CMGS prompts "> "; what follows up to Ctrl-Z is
 *                     the message (ESC cancels), then the command answers
 *   URCs:             held while a command runs, sent after its result,
 *                     dropped where the host says none may go (data mode, off)
 */
import { type ChannelSettings, cmeResult, finalText, infoText, urcText } from "./at-responses.ts";
import { type CmdResult, MAX_LINE, type PendingCommand, maskSecrets, splitCommands } from "./at-syntax.ts";
import { type AtContext, type CommandTable, runCommand } from "./commands/table.ts";
import type { SimEvent } from "./events.ts";
import { CME, CONNECT_TEXT } from "./quectel-text.ts";

const CR = 0x0d;
const LF = 0x0a;
const BS = 0x08;
const isA = (b: number | undefined) => b === 0x41 || b === 0x61;

export interface InterpreterHost {
  /** Bytes for the DTE. */
  output(bytes: Uint8Array): void;
  emit(e: SimEvent): void;
  /** The one timer of the interpreter: when a pending command gives up. */
  arm(kind: "pending", at: number): void;
  disarm(kind: "pending"): void;
  /** May an unsolicited result code go on the line (not in data mode, not switched off)? */
  urcsAllowed(): boolean;
  /** CONNECT went out: the call on context `cid` starts. */
  connected(cid: number, now: number): void;
  /** AT+CFUN=<fun>,1 has said OK: the module resets. */
  resetModule(now: number): void;
  /** AT+QPOWD has said POWERED DOWN: the module switches off. */
  poweredDown(now: number): void;
  /** A command line has been answered (or taken as pending). */
  commandLineDone(now: number): void;
}

export class AtInterpreter {
  private line: number[] = [];
  /** For "A/"; kept across resets. */
  private lastLine = "";
  private pending: PendingCommand | null = null;
  /** What the DTE types while a command is pending. */
  private held: number[] = [];
  private heldUrcs: string[] = [];
  /** A command line is being executed: URCs wait until its final result. */
  private executing = false;
  /** After a "> " prompt: the command line, its text so far, and what answers it. */
  private entry: { line: string; text: number[]; submit: (text: string, now: number) => CmdResult } | null = null;
  private readonly enc = new TextEncoder();

  constructor(
    private readonly settings: ChannelSettings,
    private readonly table: CommandTable,
    /** What the handlers see of the modem. */
    private readonly modem: AtContext,
    private readonly host: InterpreterHost,
  ) {}

  /** Power-on: no half-typed line, no command running, nothing held. */
  reset(): void {
    this.line = [];
    this.held = [];
    this.pending = null;
    this.entry = null;
    this.heldUrcs = [];
  }

  /** The module froze (hang): what was typed is lost. */
  dropInput(): void {
    this.line = [];
    this.held = [];
    this.entry = null;
  }

  get pendingKind(): PendingCommand["kind"] | null {
    return this.pending?.kind ?? null;
  }

  /** Nothing is running and nothing half typed: the only time line noise can come (garbage). */
  get idle(): boolean {
    return this.pending === null && this.entry === null && this.line.length === 0;
  }

  /** Bytes from the DTE in command or online-command mode. */
  input(data: Uint8Array, now: number): void {
    for (const b of data) this.byte(b, now);
  }

  /** An unsolicited result code: held while a command runs. */
  urc(text: string): void {
    if (!this.host.urcsAllowed()) return;
    if (this.pending || this.executing || this.entry) {
      this.heldUrcs.push(text);
      return;
    }
    this.host.output(this.enc.encode(urcText(text)));
  }

  flushUrcs(): void {
    const held = this.heldUrcs;
    this.heldUrcs = [];
    for (const t of held) this.urc(t);
  }

  /** A final result code, worded by the settings (also the OK after +++ and the NO CARRIER of a dropped call). */
  final(text: string): void {
    const t = finalText(text, this.settings);
    if (t !== null) this.host.output(this.enc.encode(t));
  }

  /** The pending command gets its answer (AT+CGATT=1: attached). */
  completePending(now: number, r: Extract<CmdResult, { kind: "ok" | "cme" }>): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.host.disarm("pending");
    if (r.kind === "ok" && r.info) this.info(r.info);
    const result = this.resultText(r)!;
    this.final(result);
    this.host.emit({ type: "sim.command", at: now, line: maskSecrets(p.line), result });
    this.flushUrcs();
    // Run whatever the DTE typed while we were busy.
    const held = this.held;
    this.held = [];
    for (const b of held) this.byte(b, now);
  }

  /** The pending command's time ran out. */
  pendingTimeout(now: number): void {
    const p = this.pending;
    if (!p) return;
    switch (p.kind) {
      case "cgatt":
        this.completePending(now, { kind: "cme", code: CME.noNetworkService });
        break;
      case "qpowd":
        // Detached: the module says so and switches off; what was typed meanwhile is lost.
        this.pending = null;
        this.held = [];
        this.urc("POWERED DOWN");
        this.host.poweredDown(now);
        break;
    }
  }

  // ---------------------------------------------------------------- line discipline

  private byte(b: number, now: number): void {
    if (this.pending) {
      // A command is executing: keep what comes until it finishes.
      this.held.push(b);
      return;
    }
    if (this.entry) return this.textByte(b, now);
    if (this.settings.echo) this.host.output(Uint8Array.of(b));
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
    if (this.line.length === 0 && isA(b)) {
      this.line.push(b);
      return;
    }
    if (this.line.length === 1 && b === 0x2f && isA(this.line[0])) {
      // "A/" repeats the last command line at once, no CR needed (V.250 §6.2.2).
      this.line = [];
      this.commandLine(this.lastLine, now);
      return;
    }
    if (this.line.length === 0) return; // noise before "A": ignored like a real modem
    if (this.line.length < MAX_LINE) this.line.push(b);
  }

  // ---------------------------------------------------------------- command lines

  private commandLine(text: string, now: number): void {
    if (!/^at/i.test(text)) return;
    this.lastLine = text;
    const cmds = splitCommands(text.slice(2));
    if (cmds === null) {
      this.finishLine(text, { kind: "error" }, now);
      return;
    }
    const results: CmdResult[] = [];
    let last: CmdResult = { kind: "ok" };
    this.executing = true;
    for (const cmd of cmds) {
      last = this.execute(cmd, now);
      results.push(last);
      if (last.kind !== "ok") break;
    }
    this.executing = false;
    // Information responses of every command, in order, then one final result.
    for (const r of results) if ("info" in r && r.info) this.info(r.info);
    if (last.kind === "prompt") {
      this.entry = { line: text, text: [], submit: last.submit };
      this.host.output(this.enc.encode("\r\n> "));
      return;
    }
    this.finishLine(text, last, now);
  }

  /** A byte of message text after the prompt: Ctrl-Z sends, ESC cancels, the rest is kept (bounded). */
  private textByte(b: number, now: number): void {
    const e = this.entry!;
    if (b === 0x1a || b === 0x1b) {
      this.entry = null;
      const r = b === 0x1a ? e.submit(String.fromCharCode(...e.text), now) : ({ kind: "ok" } as const);
      if ("info" in r && r.info) this.info(r.info);
      this.finishLine(e.line, r, now);
      return;
    }
    if (this.settings.echo) this.host.output(Uint8Array.of(b));
    if (e.text.length < MAX_LINE) e.text.push(b);
  }

  private execute(cmd: string, now: number): CmdResult {
    const r = runCommand(this.table, cmd, this.modem, now);
    if (r.kind === "later") {
      if (r.pending.answered) this.final("OK");
      if (r.pending.timeoutAt !== undefined) this.host.arm("pending", r.pending.timeoutAt);
    }
    return r;
  }

  private finishLine(text: string, r: CmdResult, now: number): void {
    if (r.kind === "later") this.pending = r.pending;
    const result = this.resultText(r);
    if (result !== null) this.final(result);
    this.host.emit({ type: "sim.command", at: now, line: maskSecrets(text), result: r.kind === "later" ? "(pending)" : result });
    if (r.kind === "connect") this.host.connected(r.cid, now);
    // URCs raised while the line ran go out after its result (dropped once in data mode).
    if (!this.pending) this.flushUrcs();
    if (r.kind === "reset") this.host.resetModule(now);
    this.host.commandLineDone(now);
  }

  /** The final result code of a command line's last result; null while it is pending. */
  private resultText(r: CmdResult): string | null {
    switch (r.kind) {
      case "ok":
      case "reset":
        return "OK";
      case "error":
        return "ERROR";
      case "cme":
        return cmeResult(r.code, this.settings.cmee);
      case "final":
        return r.text;
      case "connect":
        return CONNECT_TEXT;
      case "later":
      case "prompt":
        return null;
    }
  }

  /** One command's information response. */
  private info(lines: readonly string[]): void {
    const t = infoText(lines, this.settings);
    if (t !== null) this.host.output(this.enc.encode(t));
  }
}

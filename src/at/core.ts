/**
 * The AT channel core: one command in flight, a queue behind it, a time limit
 * per command, final results, intermediate lines, URCs, echo, garbage, and the
 * hand-off of the byte stream to PPP on CONNECT. No I/O and no clock: bytes
 * and `now` come in, writes/responses/URCs go out through a sink, and
 * `nextDeadline()` tells the adapter when to call `tick(now)` (DESIGN.md rule 1).
 *
 * Bounded (AtLimits): at most 64 commands wait behind the one in flight; one
 * more ends as "queue-full" without being sent. A response keeps at most 256
 * intermediate lines; the rest are dropped and counted, and the command ends
 * as "too-many-lines" when its final result comes (the modem's answer is read
 * to its end, so the next command still gets its own answer). Both counted
 * in `stats`.
 */
import { commandPrefix, linePrefix, LineSplitter, parseFinal, urcName, type FinalKind } from "./lines.ts";

/**
 * "queue-full": refused, never sent (the queue holds AtLimits.maxQueued);
 * "too-many-lines": answered, but with more than AtLimits.maxLines intermediate lines.
 */
export type AtStatus = FinalKind | "timeout" | "aborted" | "queue-full" | "too-many-lines";

export interface AtLimits {
  /** Commands waiting behind the one in flight. */
  maxQueued: number;
  /** Intermediate lines kept for one command. */
  maxLines: number;
}

export const DEFAULT_AT_LIMITS: Readonly<AtLimits> = { maxQueued: 64, maxLines: 256 };

export interface AtRequest {
  /** Command text without the trailing CR, e.g. "AT+CPIN?". */
  command: string;
  /** Time limit from sending to the final result (ms). */
  timeoutMs: number;
  /**
   * Text for the modem's "> " prompt (AT+CMGS, 3GPP TS 27.005 §3.5.1): sent
   * when the prompt arrives, ended with Ctrl-Z. Ctrl-Z and ESC inside it are
   * dropped: either would end the text early or cancel it.
   */
  body?: string;
}

export interface AtResponse {
  command: string;
  status: AtStatus;
  /** Intermediate lines (information text), in order. */
  lines: string[];
  /** +CME/+CMS error text or number, CONNECT rate; "" otherwise. */
  detail: string;
  sentAt: number;
  doneAt: number;
}

export interface AtUrc {
  /** "+CEREG", "RDY", "NO CARRIER"...; null for an unsolicited line of unknown shape. */
  name: string | null;
  line: string;
  at: number;
}

/** Why data mode ended from the channel's point of view. */
export type DataEnd = "no-carrier" | "rebooted" | "resumed";

export interface AtCoreSink {
  write(bytes: Uint8Array): void;
  response(id: number, response: AtResponse): void;
  urc(urc: AtUrc): void;
  /** Bytes received in data mode (for PPP). */
  data(bytes: Uint8Array): void;
  /** CONNECT was seen: the stream now belongs to PPP. */
  dataStarted(): void;
  /** The stream is back in command mode. */
  dataEnded(why: DataEnd): void;
}

export interface AtCoreStats {
  commands: number;
  timeouts: number;
  urcs: number;
  echoes: number;
  garbageBytes: number;
  dataBytes: number;
  /** Commands refused because the queue was full. */
  queueFull: number;
  /** Commands whose response went over the line limit. */
  lineOverflows: number;
  /** Intermediate lines dropped over the limit. */
  droppedLines: number;
}

interface Pending {
  id: number;
  req: AtRequest;
}

interface InFlight extends Pending {
  sentAt: number;
  deadline: number;
  lines: string[];
  /** Intermediate lines dropped over the limit. */
  dropped: number;
  prefix: string | null;
  /** The body went out after the prompt. */
  bodySent: boolean;
}

interface Refused extends Pending {
  at: number;
}

const enc = new TextEncoder();

/*
 * Modem text in data mode. When the call ends the modem prints its result
 * code ("\r\nNO CARRIER\r\n", V.250 §5.7.1) into the same byte stream that
 * carried PPP. That text is recognised here and only here (the HDLC decoder
 * just de-frames), and only BETWEEN frames:
 *
 * - RFC 1662 §4.2: inside a frame 0x7E and 0x7D are always escaped, whatever
 *   the ACCM, so a raw 0x7E on the line is always a real flag. A payload can
 *   carry "\r\nNO CARRIER\r\n" unescaped (with ACCM 0, which cellkeep
 *   negotiates, CR and LF go out as they are), but it can never forge "flag
 *   followed by text": a ping with that pattern must not cut the link.
 * - The first octet after a flag that opens a frame is the address 0xFF or a
 *   protocol octet (RFC 1662 §3.1, RFC 1661 §2), never CR, LF or 'N'.
 *
 * So: after each raw 0x7E (and at the very start of data mode, before any
 * flag) any number of CR/LF and further flags may follow, then "NO CARRIER"
 * (or the boot URC "RDY") and CR or LF. Any other octet means a frame started: matching stops until
 * the next raw 0x7E. The data path jumps from flag to flag with indexOf and
 * looks at one octet after each; only the candidate text is held back from
 * PPP (until it matches or fails), so the text itself never reaches PPP.
 *
 * Not recognised: a frame the modem cuts off mid-frame and follows with the
 * text and then silence (no flag before the text). LCP echo (peer-dead)
 * catches that call; matching text inside a frame cannot be made safe.
 */
/**
 * The modem texts recognised between frames, and what each means: NO CARRIER
 * ends the call (V.250); RDY is the Quectel boot URC, so the module rebooted by
 * itself during the call (brown-out, firmware watchdog) and the call is gone
 * with it. Their first characters differ, so the first one picks the text.
 */
const TEXTS: ReadonlyArray<{ bytes: Uint8Array; end: DataEnd; urc: string }> = [
  { bytes: enc.encode("NO CARRIER"), end: "no-carrier", urc: "NO CARRIER" },
  { bytes: enc.encode("RDY"), end: "rebooted", urc: "RDY" },
];
const FLAG = 0x7e;
const CR = 0x0d;
const LF = 0x0a;

export class AtChannelCore {
  private queue: Pending[] = [];
  /** Submissions refused (queue full), answered on the next tick: the caller has its id by then. */
  private refused: Refused[] = [];
  private inFlight: InFlight | null = null;
  private readonly limits: AtLimits;
  private splitter = new LineSplitter();
  private nextId = 1;
  private skipLf = false;
  /** Data mode: between frames (after a raw flag, or before the first one), so modem text may come. */
  private textArmed = false;
  /** Characters of the candidate text matched; its length = waiting for its CR/LF. */
  private textPos = 0;
  /** Which of TEXTS is being matched (chosen by its first character). */
  private textIdx = 0;
  /** Candidate text (CR/LF, part of "NO CARRIER") from earlier chunks, held back from PPP. */
  private held: Uint8Array[] = [];
  private lastCommand: string | null = null;
  mode: "command" | "data" = "command";
  readonly stats: AtCoreStats = { commands: 0, timeouts: 0, urcs: 0, echoes: 0, garbageBytes: 0, dataBytes: 0, queueFull: 0, lineOverflows: 0, droppedLines: 0 };

  constructor(
    private readonly sink: AtCoreSink,
    limits: Partial<AtLimits> = {},
  ) {
    this.limits = { ...DEFAULT_AT_LIMITS, ...limits };
  }

  /**
   * Queue a command; returns its id (the sink's `response` carries it back).
   * With the queue full it is refused: "queue-full" on the next tick
   * (nextDeadline() is `now`), never sent.
   */
  submit(req: AtRequest, now: number): number {
    const id = this.nextId++;
    if (this.queue.length >= this.limits.maxQueued) {
      this.stats.queueFull++;
      this.refused.push({ id, req, at: now });
      return id;
    }
    this.queue.push({ id, req });
    this.pump(now);
    return id;
  }

  get busy(): boolean {
    return this.inFlight !== null || this.queue.length > 0;
  }

  receive(data: Uint8Array, now: number): void {
    let i = 0;
    while (i < data.length) {
      if (this.mode === "data") {
        i = this.receiveData(data, i, now);
        continue;
      }
      const line = this.splitter.pushByte(data[i]!);
      i++;
      this.stats.garbageBytes = this.splitter.garbageBytes;
      if (line !== null) this.onLine(line, now);
      else if (this.inFlight?.req.body !== undefined && !this.inFlight.bodySent && this.splitter.pending().trim() === ">") this.sendBody(this.inFlight);
    }
  }

  /** Fire time limits that are due (and answer refused submissions). */
  tick(now: number): void {
    this.answerRefused(now);
    const f = this.inFlight;
    if (f && now >= f.deadline) {
      this.stats.timeouts++;
      this.finish(f, "timeout", "", now);
    }
  }

  nextDeadline(): number | null {
    const refusedAt = this.refused[0]?.at ?? null;
    const deadline = this.inFlight?.deadline ?? null;
    if (refusedAt === null) return deadline;
    return deadline === null ? refusedAt : Math.min(refusedAt, deadline);
  }

  private answerRefused(now: number): void {
    if (this.refused.length === 0) return;
    const refused = this.refused;
    this.refused = [];
    const detail = `${this.limits.maxQueued} commands already queued`;
    for (const r of refused) this.sink.response(r.id, this.responseOf(r.req.command, "queue-full", [], detail, r.at, Math.max(r.at, now)));
  }

  /** Fail every queued and in-flight command with "aborted" (stop, port lost). */
  abortAll(now: number): void {
    const f = this.inFlight;
    const queued = this.queue;
    this.inFlight = null;
    this.queue = [];
    if (f) this.sink.response(f.id, this.responseOf(f.req.command, "aborted", [], "", f.sentAt, now));
    for (const p of queued) this.sink.response(p.id, this.responseOf(p.req.command, "aborted", [], "", now, now));
    this.answerRefused(now);
  }

  /**
   * Take the stream back after a call ended by other means (DTR drop, +++,
   * PPP terminated and the modem printed nothing we saw): parse lines again
   * from a clean slate, then send what queued up meanwhile.
   */
  resumeCommandMode(now: number): void {
    if (this.mode !== "data") return;
    this.leaveData("resumed", now);
  }

  private receiveData(data: Uint8Array, from: number, now: number): number {
    if (this.skipLf && from < data.length) {
      // "CONNECT\r\n": the line ended at CR; its LF is not PPP data.
      this.skipLf = false;
      if (data[from] === LF) from++;
    }
    const n = data.length;
    // PPP data of this chunk not handed on yet starts at `from`. The candidate
    // text (after the last flag) starts at `cand`: everything before it is PPP
    // data; from `cand` on it is held back until it matches or fails.
    let cand = from;
    let i = from;
    let armed = this.textArmed;
    let pos = this.textPos;
    let t = TEXTS[this.textIdx]!;
    while (i < n) {
      if (!armed) {
        // Inside a frame: nothing but the next raw flag matters here.
        const f = data.indexOf(FLAG, i);
        if (f < 0) {
          i = n;
          break;
        }
        armed = true;
        pos = 0;
        i = cand = f + 1;
        continue;
      }
      const b = data[i]!;
      if (b === FLAG) {
        // More flags (or CR/LF garbage then a flag): what was held is PPP's; match again after this one.
        this.releaseHeld();
        pos = 0;
        i = cand = i + 1;
      } else if (pos === 0 && (b === CR || b === LF)) {
        i++;
      } else if (pos === 0 && TEXTS.some((x) => x.bytes[0] === b)) {
        t = TEXTS.find((x) => x.bytes[0] === b)!;
        this.textIdx = TEXTS.indexOf(t);
        pos = 1;
        i++;
      } else if (pos > 0 && pos < t.bytes.length && b === t.bytes[pos]) {
        pos++;
        i++;
      } else if (pos > 0 && pos === t.bytes.length && (b === CR || b === LF)) {
        // Modem text after a flag: the call is over. PPP gets the bytes up to
        // and including that flag; the text is ours.
        this.held = [];
        this.emitData(data.subarray(from, cand));
        this.leaveData(t.end, now);
        this.sink.urc({ name: t.urc, line: t.urc, at: now });
        this.stats.urcs++;
        return i + 1;
      } else {
        // A frame started (0xFF or a protocol octet): no text until the next flag.
        this.releaseHeld();
        armed = false;
        pos = 0;
        cand = n;
        i++;
      }
    }
    this.textArmed = armed;
    this.textPos = pos;
    if (armed && cand < n) {
      // The chunk ends inside candidate text: keep it back until the next chunk decides.
      this.emitData(data.subarray(from, cand));
      this.held.push(data.slice(cand, n));
    } else this.emitData(data.subarray(from, n));
    return n;
  }

  /** Candidate text that turned out not to be modem text is PPP's after all (in order: it precedes this chunk). */
  private releaseHeld(): void {
    if (this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const h of held) this.emitData(h);
  }

  private emitData(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.stats.dataBytes += bytes.length;
    this.sink.data(bytes);
  }

  private leaveData(why: DataEnd, now: number): void {
    this.mode = "command";
    this.textArmed = false;
    this.textPos = 0;
    this.held = [];
    this.splitter.reset();
    this.sink.dataEnded(why);
    this.pump(now);
  }

  private onLine(line: string, now: number): void {
    const f = this.inFlight;
    // Echo (before ATE0, or a modem that ignores it): the command text coming back.
    if (/^AT/i.test(line) && ((f && sameCommand(line, f.req.command)) || (this.lastCommand && sameCommand(line, this.lastCommand)))) {
      this.stats.echoes++;
      return;
    }
    if (f) {
      const final = parseFinal(line);
      if (final) {
        this.finish(f, final.kind, final.detail, now);
        if (final.kind === "connect") this.enterData();
        return;
      }
      const name = urcName(line);
      // "+CEREG: ..." answers AT+CEREG?; any other known URC shape is unsolicited even mid-response.
      if (name !== null && !(f.prefix !== null && linePrefix(line) === f.prefix)) {
        this.emitUrc(name, line, now);
        return;
      }
      if (f.lines.length < this.limits.maxLines) f.lines.push(line);
      else {
        if (f.dropped === 0) this.stats.lineOverflows++;
        f.dropped++;
        this.stats.droppedLines++;
      }
      return;
    }
    // Nothing in flight: everything is unsolicited (including a late NO CARRIER or OK).
    this.emitUrc(urcName(line) ?? finalName(line), line, now);
  }

  /** The prompt "> " came (it ends no line): the text, then Ctrl-Z. */
  private sendBody(f: InFlight): void {
    f.bodySent = true;
    this.splitter.reset();
    this.sink.write(enc.encode(f.req.body!.replace(/[\x1a\x1b]/g, "") + "\x1a"));
  }

  private emitUrc(name: string | null, line: string, now: number): void {
    this.stats.urcs++;
    this.sink.urc({ name, line, at: now });
  }

  private enterData(): void {
    this.mode = "data";
    this.skipLf = true;
    // Before the first flag nothing is inside a frame: a call that fails at
    // once prints its text right after CONNECT.
    this.textArmed = true;
    this.textPos = 0;
    this.held = [];
    this.splitter.reset();
    this.sink.dataStarted();
  }

  private finish(f: InFlight, status: AtStatus, detail: string, now: number): void {
    this.inFlight = null;
    // Over the line limit: the answer is incomplete. A CONNECT stays a CONNECT (the modem is in data
    // mode whatever we kept); a timeout stays a timeout (the time limit is the rule).
    if (f.dropped > 0 && status !== "connect" && status !== "timeout") {
      const final = status in FINAL_NAMES ? FINAL_NAMES[status as FinalKind] : status;
      detail = `${f.dropped} lines over the limit of ${this.limits.maxLines} dropped; final result ${final}${detail ? ` ${detail}` : ""}`;
      status = "too-many-lines";
    }
    this.sink.response(f.id, this.responseOf(f.req.command, status, f.lines, detail, f.sentAt, now));
    if (status !== "connect") this.pump(now);
  }

  private responseOf(command: string, status: AtStatus, lines: string[], detail: string, sentAt: number, doneAt: number): AtResponse {
    return { command, status, lines, detail, sentAt, doneAt };
  }

  private pump(now: number): void {
    if (this.inFlight || this.mode !== "command") return;
    const next = this.queue.shift();
    if (!next) return;
    this.inFlight = {
      ...next,
      sentAt: now,
      deadline: now + next.req.timeoutMs,
      lines: [],
      dropped: 0,
      prefix: commandPrefix(next.req.command),
      bodySent: false,
    };
    this.lastCommand = next.req.command;
    this.stats.commands++;
    this.sink.write(enc.encode(next.req.command + "\r"));
  }
}

function sameCommand(line: string, command: string): boolean {
  return line.toUpperCase() === command.trim().toUpperCase();
}

const FINAL_NAMES: Record<FinalKind, string> = {
  ok: "OK",
  error: "ERROR",
  "cme-error": "+CME ERROR",
  "cms-error": "+CMS ERROR",
  "no-carrier": "NO CARRIER",
  busy: "BUSY",
  "no-answer": "NO ANSWER",
  "no-dialtone": "NO DIALTONE",
  connect: "CONNECT",
};

function finalName(line: string): string | null {
  const f = parseFinal(line);
  return f ? FINAL_NAMES[f.kind] : null;
}

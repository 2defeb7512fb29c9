/**
 * AT line fuzzing engine for test/at/fuzz.test.ts (fixed seed, CI-sized).
 *
 * Lines: real modem output (finals, +CME/+CMS errors, CONNECT with a rate,
 * information text, echoes, every URC shape the channel knows) unchanged,
 * mutated (byte flips, inserted CR/LF/flag/NUL/high bytes, deletions,
 * truncation, splices of two lines, case swaps, long digit runs, lines blown
 * past the splitter's limit) and purely random (printable or any byte).
 *
 * Each line goes two ways:
 * 1. Through src/at/lines.ts on its own: parseFinal, urcName, linePrefix,
 *    commandPrefix on the raw text, and a LineSplitter fed the line plus CRLF,
 *    checked against what V.250 framing allows (see checkSplit).
 * 2. Into one AtChannelCore as a byte stream (random terminators, random
 *    chunk cuts) in command mode with up to three commands queued or in
 *    flight, on a fake clock that moves a few ms per line; due time limits
 *    fire through tick(). A CONNECT (real or made up by a mutation) puts the
 *    core in data mode; the driver then ends the call the three ways it ends
 *    (NO CARRIER or RDY after a flag, or resumeCommandMode) and goes on.
 *
 * Invariants, recorded as violations rather than thrown, so one run reports
 * them all: no exception escapes; every submitted command gets exactly one
 * response, in submission order, carrying its own command text; every write
 * is the next unsent command + CR; a final never arrives after the command's
 * time limit and a timeout never before it; a command in flight is answered
 * by a clean "\r\nOK\r\n"; the driver's way out of data mode always leaves it.
 * The run is bounded by construction: a fixed number of lines, each at most a
 * few KiB, and a drain that is bounded by the number of commands left.
 */
import { AtChannelCore, type AtResponse, type AtUrc, type DataEnd } from "../../src/at/core.ts";
import { commandPrefix, LineSplitter, linePrefix, parseFinal, urcName } from "../../src/at/lines.ts";
import { Rng } from "./ppp-fuzz.ts";

/** Lines a Quectel BG96/BG77/EC25 prints, verbatim. */
export const REAL_LINES: readonly string[] = [
  "OK",
  "ERROR",
  "+CME ERROR: 10",
  "+CME ERROR: SIM not inserted",
  "+CME ERROR: 30",
  "+CMS ERROR: 500",
  "CONNECT",
  "CONNECT 150000000",
  "NO CARRIER",
  "BUSY",
  "NO ANSWER",
  "NO DIALTONE",
  "0",
  "3",
  "4",
  "RING",
  "RDY",
  "APP RDY",
  "POWERED DOWN",
  "NORMAL POWER DOWN",
  "SMS DONE",
  "PB DONE",
  '+CEREG: 2,1,"1A2B","01A2D001",7',
  "+CEREG: 0,5",
  "+CEREG: 3",
  '+CGREG: 2,1,"1A2B","01A2D001",8',
  "+CREG: 0,1",
  "+CPIN: READY",
  "+CPIN: SIM PIN",
  "+CFUN: 1",
  "+CSQ: 20,99",
  '+QIND: "csq",20,99',
  "+QIND: SMS DONE",
  "+CGEV: NW DETACH",
  "+CGEV: ME PDN ACT 1",
  "+QUSIM: 1",
  "+QNETDEVSTATUS: 1",
  '+CTZV: "+08"',
  '+CMTI: "SM",3',
  "+QCCID: 89860318740212345678",
  "+CGATT: 1",
  '+CGDCONT: 1,"IP","internet","0.0.0.0",0,0',
  '+COPS: 0,0,"Telekom.de",7',
  '+QNWINFO: "FDD LTE","26201","LTE BAND 3",1300',
  '+QCSQ: "eMTC",-80,-100,150,-10',
  "Quectel",
  "BG96",
  "Revision: BG96MAR02A07M1G",
  "862728040000000",
  "AT+CEREG?",
  "AT",
  "ATE0",
  "ATD*99#",
  "> ",
];

/** Commands the supervisor sends (their echoes are in REAL_LINES too). */
export const COMMANDS: readonly string[] = [
  "AT",
  "ATE0",
  "AT+CEREG?",
  "AT+CGREG?",
  "AT+CPIN?",
  "AT+CSQ",
  "AT+CGATT?",
  "AT+CGATT=1",
  'AT+CGDCONT=1,"IP","internet"',
  "ATI",
  "AT+QCCID",
  "ATD*99#",
];

const FINAL_KINDS = new Set(["ok", "error", "cme-error", "cms-error", "no-carrier", "busy", "no-answer", "no-dialtone", "connect"]);
/** Every status a response may carry: the final results, the channel's own, and its bounds (queue, lines per response). */
const STATUSES = new Set<string>([...FINAL_KINDS, "timeout", "aborted", "queue-full", "too-many-lines"]);
/** Bytes a mutation likes to insert: line breaks, the HDLC flag, NUL, high bytes, separators. */
const INTERESTING = [0x0d, 0x0a, 0x7e, 0x00, 0xff, 0x80, 0x09, 0x20, 0x2c, 0x22, 0x3a, 0x2b, 0x30, 0x39, 0x41];
const TERMINATORS = ["\r\n", "\r\n", "\r\n", "\r\n", "\r", "\n", "\r\r\n", "\n\r", ""].map((t) => bytesOf(t));
const NO_CARRIER_AFTER_FLAG = bytesOf("~\r\nNO CARRIER\r\n");
const RDY_AFTER_FLAG = bytesOf("~\r\nRDY\r\n");
const CLEAN_OK = bytesOf("\r\nOK\r\n");
/** The splitter's line limit (src/at/lines.ts MAX_LINE): longer input is noise, never a line. */
export const MAX_LINE = 1024;
/** Fake milliseconds per line: at most this much time passes between two lines. */
const STEP_MS = 40;

function bytesOf(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

function latin1(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export type LineKind = "real" | "mutated" | "printable" | "random";

/** One fuzz line (without its terminator) and how it was made. */
export function makeLine(rng: Rng, corpus: readonly Uint8Array[]): { kind: LineKind; bytes: Uint8Array } {
  const r = rng.int(100);
  if (r < 25) return { kind: "real", bytes: corpus[rng.int(corpus.length)]! };
  if (r < 80) return { kind: "mutated", bytes: mutate(rng, corpus) };
  const n = rng.int(80);
  const b = new Uint8Array(n);
  if (r < 92) {
    for (let i = 0; i < n; i++) b[i] = 0x20 + rng.int(0x5f);
    return { kind: "printable", bytes: b };
  }
  for (let i = 0; i < n; i++) b[i] = rng.byte();
  return { kind: "random", bytes: b };
}

function mutate(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = corpus[rng.int(corpus.length)]!.slice();
  const rounds = 1 + rng.int(3);
  for (let k = 0; k < rounds; k++) {
    const at = b.length ? rng.int(b.length + 1) : 0;
    switch (rng.int(10)) {
      case 0: // overwrite one byte with anything
        if (b.length) b[rng.int(b.length)] = rng.byte();
        break;
      case 1: // insert an interesting byte
        b = concat(concat(b.subarray(0, at), Uint8Array.of(INTERESTING[rng.int(INTERESTING.length)]!)), b.subarray(at));
        break;
      case 2: // delete a run
        b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(4))));
        break;
      case 3: // truncate
        b = b.slice(0, at);
        break;
      case 4: {
        // splice: the head of this line, the tail of another
        const o = corpus[rng.int(corpus.length)]!;
        b = concat(b.subarray(0, at), o.subarray(rng.int(o.length + 1)));
        break;
      }
      case 5: // two lines run together (a lost line break), or with one inside
        b = concat(rng.int(2) ? concat(b, bytesOf("\r\n")) : b, corpus[rng.int(corpus.length)]!);
        break;
      case 6: // case swap of letters
        b = b.map((c) => ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ? c ^ 0x20 : c));
        break;
      case 7: {
        // a long digit run (a huge CONNECT rate, error number, cell id)
        const digits = new Uint8Array(1 + rng.int(40));
        for (let i = 0; i < digits.length; i++) digits[i] = 0x30 + rng.int(10);
        b = concat(concat(b.subarray(0, at), digits), b.subarray(at));
        break;
      }
      case 8: {
        // blown up: repeated past the splitter's line limit (PPP after a missed NO CARRIER looks like this)
        if (rng.int(64) === 0 && b.length > 0) {
          const times = Math.ceil((MAX_LINE + 1 + rng.int(1500)) / b.length);
          const out = new Uint8Array(b.length * times);
          for (let i = 0; i < times; i++) out.set(b, i * b.length);
          b = out;
        }
        break;
      }
      default: // garbage before or after
        b = rng.int(2) ? concat(Uint8Array.of(rng.byte(), rng.byte()), b) : concat(b, Uint8Array.of(rng.byte()));
    }
    if (b.length > 4096) b = b.slice(0, 4096);
  }
  return b;
}

// ─────────────────────────────── 1. the line parsers ───────────────────────────────

/** What the parsers returned over the run (to show the fuzz reached every branch). */
export interface ParserCounts {
  finals: number;
  urcs: number;
  prefixes: number;
  commandPrefixes: number;
  splitLines: number;
  overlong: number;
}

/** Bytes the splitter drops (src/at/lines.ts): controls other than TAB (CR/LF end a line), DEL and 0x80..0xff. */
const NOT_IN_A_LINE = /[^\x20-\x7e\t]/g;

const HAS_NON_LINE_BYTE = /[^\x20-\x7e\t]/;

/** The V.250 parsers on one line of text: never throw, and every answer is consistent with the text. */
function checkParsers(line: string, counts: ParserCounts, bad: (what: string) => void): void {
  const f = parseFinal(line);
  if (f !== null) {
    counts.finals++;
    if (!FINAL_KINDS.has(f.kind) || typeof f.detail !== "string") bad(`parseFinal(${JSON.stringify(line)}) → ${JSON.stringify(f)}`);
    if (f.kind === "cme-error" && !(line.startsWith("+CME ERROR:") && f.detail === line.slice(11).trim())) bad(`cme ${JSON.stringify(line)}`);
    if (f.kind === "connect" && !(line === "CONNECT" || line === "1" || (line.startsWith("CONNECT ") && f.detail === line.slice(8).trim())))
      bad(`connect ${JSON.stringify(line)} → ${JSON.stringify(f)}`);
  } else if (line === "OK" || line === "ERROR" || line === "NO CARRIER" || line.startsWith("+CME ERROR:") || line.startsWith("CONNECT ")) {
    bad(`parseFinal(${JSON.stringify(line)}) → null`);
  }
  const u = urcName(line);
  if (u !== null) {
    counts.urcs++;
    if (!(u === line || (u.startsWith("+") && line.startsWith(u + ":")))) bad(`urcName(${JSON.stringify(line)}) → ${u}`);
  }
  const p = linePrefix(line);
  if (p !== null) {
    counts.prefixes++;
    if (!/^\+[A-Z0-9]+$/.test(p) || !line.startsWith(p + ":")) bad(`linePrefix(${JSON.stringify(line)}) → ${p}`);
  }
  const c = commandPrefix(line);
  if (c !== null) {
    counts.commandPrefixes++;
    if (!/^\+[A-Z0-9]+$/.test(c) || !line.toUpperCase().startsWith("AT" + c)) bad(`commandPrefix(${JSON.stringify(line)}) → ${c}`);
  }
}

/**
 * A LineSplitter with nothing pending, fed one line plus CRLF, returns the
 * pieces between CR/LF runs with bytes that cannot be in a response dropped,
 * trimmed, empty ones left out; a piece longer than MAX_LINE is noise and
 * never comes out whole (at most its last MAX_LINE characters).
 */
function checkSplit(splitter: LineSplitter, bytes: Uint8Array, text: string, counts: ParserCounts, bad: (what: string) => void): string[] {
  const got = splitter.push(bytes);
  const tail = splitter.push(TERMINATORS[0]!);
  for (const l of tail) got.push(l);
  const expected: Array<{ text: string; overlong: boolean }> = [];
  // (Most lines hold no line break and no byte to drop: one piece.)
  for (const raw of HAS_NON_LINE_BYTE.test(text) ? text.split(/[\r\n]/) : [text]) {
    const piece = raw.replace(NOT_IN_A_LINE, "");
    const trimmed = piece.trim();
    if (trimmed.length > 0) expected.push({ text: trimmed, overlong: piece.length > MAX_LINE });
  }
  if (splitter.pending() !== "") bad(`splitter holds ${JSON.stringify(splitter.pending())} after CRLF`);
  const mismatch = () => bad(`split ${JSON.stringify(text)}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected.map((x) => x.text))}`);
  if (!expected.some((e) => e.overlong)) {
    if (got.length !== expected.length || got.some((g, i) => g !== expected[i]!.text)) mismatch();
  } else {
    // What is left of an overlong piece (if anything) is a tail of it; the other pieces come out whole, in order.
    counts.overlong++;
    let j = 0;
    for (const e of expected) {
      const g = got[j];
      if (e.overlong) {
        if (g !== undefined && e.text.endsWith(g)) j++;
      } else if (g === e.text) j++;
      else mismatch();
    }
    if (j !== got.length) mismatch();
  }
  for (const l of got) {
    if (l.length === 0 || l.length > MAX_LINE || l !== l.trim()) bad(`split line ${JSON.stringify(l)}`);
    if (HAS_NON_LINE_BYTE.test(l)) bad(`split line ${JSON.stringify(l)} holds a byte that cannot be in a line`);
  }
  counts.splitLines += got.length;
  return got;
}

// ─────────────────────────────── 2. the channel core ───────────────────────────────

export interface CoreCounts {
  submitted: number;
  responses: number;
  byStatus: Record<string, number>;
  writes: number;
  urcs: number;
  namedUrcs: number;
  dataStarts: number;
  dataEnds: Record<DataEnd, number>;
  dataBytes: number;
  cleanOkChecks: number;
  aborts: number;
  maxOutstanding: number;
}

export interface AtFuzzOptions {
  seed: number;
  lines: number;
}

export interface AtFuzzReport {
  lines: number;
  bytes: number;
  kinds: Record<LineKind, number>;
  parser: ParserCounts;
  core: CoreCounts;
  /** Exceptions that escaped a parser or the core (must stay empty). */
  errors: string[];
  /** Broken invariants, the first 20 (must stay empty). */
  violations: string[];
  violationCount: number;
}

const MAX_OUTSTANDING = 3;

export function runAtFuzz(opts: AtFuzzOptions): AtFuzzReport {
  const rng = new Rng(opts.seed);
  const corpus = REAL_LINES.map(bytesOf);
  const violations: string[] = [];
  let violationCount = 0;
  const bad = (what: string) => {
    violationCount++;
    if (violations.length < 20) violations.push(what);
  };
  const errors: string[] = [];
  const parser: ParserCounts = { finals: 0, urcs: 0, prefixes: 0, commandPrefixes: 0, splitLines: 0, overlong: 0 };
  const core: CoreCounts = {
    submitted: 0,
    responses: 0,
    byStatus: {},
    writes: 0,
    urcs: 0,
    namedUrcs: 0,
    dataStarts: 0,
    dataEnds: { "no-carrier": 0, rebooted: 0, resumed: 0 },
    dataBytes: 0,
    cleanOkChecks: 0,
    aborts: 0,
    maxOutstanding: 0,
  };
  const kinds: Record<LineKind, number> = { real: 0, mutated: 0, printable: 0, random: 0 };

  // The channel and what it said.
  let now = 1_000_000;
  const submitted = new Map<number, { command: string; timeoutMs: number }>();
  const answered = new Map<number, number>();
  /** Submitted and not yet written, in order (what the next write must be). */
  const unsent: number[] = [];
  /** Written and not yet answered, in order (the first one is in flight). */
  const sent: number[] = [];
  let lastAnswered = 0;
  const ch = new AtChannelCore({
    write(bytes) {
      core.writes++;
      const id = unsent.shift();
      if (id === undefined) return bad(`write ${JSON.stringify(latin1(bytes))} with nothing queued`);
      if (latin1(bytes) !== submitted.get(id)!.command + "\r") bad(`write ${JSON.stringify(latin1(bytes))} for #${id} ${submitted.get(id)!.command}`);
      sent.push(id);
    },
    response(id: number, r: AtResponse) {
      core.responses++;
      core.byStatus[r.status] = (core.byStatus[r.status] ?? 0) + 1;
      const req = submitted.get(id);
      if (!req) return bad(`response for unknown #${id}`);
      const n = (answered.get(id) ?? 0) + 1;
      answered.set(id, n);
      if (n > 1) bad(`#${id} answered ${n} times`);
      if (id !== lastAnswered + 1) bad(`#${id} answered after #${lastAnswered}`);
      lastAnswered = Math.max(lastAnswered, id);
      if (r.command !== req.command) bad(`#${id} answered as ${r.command}`);
      if (!STATUSES.has(r.status)) bad(`#${id} status ${r.status}`);
      if (!Array.isArray(r.lines) || typeof r.detail !== "string") bad(`#${id} malformed response`);
      const wasSent = sent[0] === id;
      if (wasSent) sent.shift();
      else {
        const u = unsent.indexOf(id);
        if (u !== 0 || r.status !== "aborted") bad(`#${id} (${r.status}) answered while not in flight`);
        if (u >= 0) unsent.splice(u, 1);
      }
      if (r.status === "timeout" && (r.doneAt < r.sentAt + req.timeoutMs || r.doneAt > r.sentAt + req.timeoutMs + STEP_MS))
        bad(`#${id} timed out ${r.doneAt - r.sentAt} ms after sending, limit ${req.timeoutMs}`);
      if (r.status !== "timeout" && r.status !== "aborted" && r.doneAt - r.sentAt >= req.timeoutMs)
        bad(`#${id} ${r.status} ${r.doneAt - r.sentAt} ms after sending, past its limit ${req.timeoutMs}`);
    },
    urc(u: AtUrc) {
      core.urcs++;
      if (u.name !== null) core.namedUrcs++;
      if (u.line.length === 0 || /[\r\n]/.test(u.line) || u.at !== now) bad(`urc ${JSON.stringify(u)}`);
    },
    data(bytes) {
      core.dataBytes += bytes.length;
    },
    dataStarted() {
      core.dataStarts++;
    },
    dataEnded(why) {
      core.dataEnds[why]++;
    },
  });

  /** Read through a call: receive() changes the mode, which the compiler cannot see. */
  const inData = (): boolean => ch.mode === "data";
  const guard = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      if (errors.length < 20) errors.push(`${what}: ${(err as Error)?.stack ?? String(err)}`);
    }
  };
  const receive = (bytes: Uint8Array): void => {
    try {
      ch.receive(bytes, now);
    } catch (err) {
      if (errors.length < 20) errors.push(`receive: ${(err as Error)?.stack ?? String(err)}`);
    }
  };
  const feed = (bytes: Uint8Array): void => {
    // One time in four cut into two or three chunks at random places: lines (and modem text) cross chunk borders.
    if (rng.int(4) !== 0) return receive(bytes);
    let from = 0;
    for (let k = rng.int(2); k >= 0 && from < bytes.length; k--) {
      const to = from + rng.int(bytes.length - from + 1);
      receive(bytes.subarray(from, to));
      from = to;
    }
    receive(bytes.subarray(from));
  };
  /** The call ends: modem text after a flag (NO CARRIER, or RDY after a reboot), or the agent takes the line back. */
  const leaveData = (): void => {
    const way = rng.int(4);
    if (way === 3) {
      guard("resumeCommandMode", () => ch.resumeCommandMode(now));
    } else {
      const frame = new Uint8Array(rng.int(40));
      for (let i = 0; i < frame.length; i++) frame[i] = rng.byte();
      feed(frame);
      feed(way === 2 ? RDY_AFTER_FLAG : NO_CARRIER_AFTER_FLAG);
    }
    if (inData()) bad(`still in data mode after ${way === 3 ? "resumeCommandMode" : "modem text after a flag"}`);
  };

  let bytes = 0;
  const splitter = new LineSplitter();
  for (let n = 0; n < opts.lines; n++) {
    const { kind, bytes: line } = makeLine(rng, corpus);
    kinds[kind]++;

    // 1. The parsers, on the raw text and on what the splitter makes of it.
    guard("parsers", () => {
      const text = latin1(line);
      checkParsers(text, parser, bad);
      for (const l of checkSplit(splitter, line, text, parser, bad)) checkParsers(l, parser, bad);
    });

    // 2. The channel: time moves, due limits fire, commands queue up, the line arrives.
    now += rng.int(STEP_MS + 1);
    guard("tick", () => ch.tick(now));
    const outstanding = unsent.length + sent.length;
    if (outstanding < MAX_OUTSTANDING && rng.int(4) === 0) {
      const command = COMMANDS[rng.int(COMMANDS.length)]!;
      const timeoutMs = 50 + rng.int(2_000);
      // Ids count up from 1 (the core's contract): the write (and any answer) can come before submit returns.
      const expected = core.submitted + 1;
      submitted.set(expected, { command, timeoutMs });
      unsent.push(expected);
      core.submitted++;
      guard("submit", () => {
        const id = ch.submit({ command, timeoutMs }, now);
        if (id !== expected) bad(`submit returned #${id}, expected #${expected}`);
      });
      core.maxOutstanding = Math.max(core.maxOutstanding, unsent.length + sent.length);
    }
    const prefix = rng.int(8) === 0 ? TERMINATORS[0]! : null;
    const term = TERMINATORS[rng.int(TERMINATORS.length)]!;
    const wire = concat(prefix ? concat(prefix, line) : line, term);
    bytes += wire.length;
    feed(wire);
    if (inData()) leaveData();

    // Now and then a clean final: whatever was in flight is answered by it.
    if (rng.int(16) === 0 && !inData() && sent.length > 0) {
      const inFlight = sent[0]!;
      core.cleanOkChecks++;
      feed(CLEAN_OK);
      if (!answered.has(inFlight)) bad(`#${inFlight} in flight not answered by a clean OK`);
      if (inData()) leaveData();
    }
    // Rarely the port is lost: everything queued and in flight is aborted.
    if (rng.int(5_000) === 0) {
      core.aborts++;
      guard("abortAll", () => ch.abortAll(now));
    }
  }

  // Drain: back to command mode, then let every remaining limit run out (bounded by what is left).
  if (inData()) guard("resumeCommandMode", () => ch.resumeCommandMode(now));
  for (let left = submitted.size + 1; ch.busy && left > 0; left--) {
    const d = ch.nextDeadline();
    if (d !== null) now = Math.max(now, d);
    guard("tick", () => ch.tick(now));
  }
  if (ch.busy) bad("commands left after the drain");
  for (const id of submitted.keys()) if (answered.get(id) !== 1) bad(`#${id} answered ${answered.get(id) ?? 0} times`);

  return { lines: opts.lines, bytes, kinds, parser, core, errors, violations, violationCount };
}

/**
 * AT response lines: splitting a byte stream into lines and naming what each
 * line is. Pure functions and a small stateful splitter; no I/O, no clock.
 *
 * V.250 §5.7: responses are framed as <CR><LF>text<CR><LF> when verbose, but
 * real modems mix CR-only, LF-only and CRLF (and echo "AT\r" before ATE0), so
 * the splitter treats any run of CR/LF as one line break and drops empty lines.
 */

/** Final result codes (V.250 §5.7.1 and 3GPP TS 27.007 §9.2). */
export type FinalKind =
  | "ok"
  | "error"
  | "cme-error"
  | "cms-error"
  | "no-carrier"
  | "busy"
  | "no-answer"
  | "no-dialtone"
  | "connect";

export interface FinalResult {
  kind: FinalKind;
  /** +CME/+CMS error text or number; CONNECT rate; "" otherwise. */
  detail: string;
}

/** Returns the final result a line stands for, or null for any other line. */
export function parseFinal(line: string): FinalResult | null {
  switch (line) {
    case "OK":
    case "0": // numeric result codes (ATV0)
      return { kind: "ok", detail: "" };
    case "ERROR":
    case "4":
      return { kind: "error", detail: "" };
    case "NO CARRIER":
    case "3":
      return { kind: "no-carrier", detail: "" };
    case "BUSY":
    case "7":
      return { kind: "busy", detail: "" };
    case "NO ANSWER":
    case "8":
      return { kind: "no-answer", detail: "" };
    case "NO DIALTONE":
    case "NO DIAL TONE":
    case "6":
      return { kind: "no-dialtone", detail: "" };
    case "CONNECT":
    case "1":
      return { kind: "connect", detail: "" };
  }
  if (line.startsWith("+CME ERROR:")) return { kind: "cme-error", detail: line.slice(11).trim() };
  if (line.startsWith("+CMS ERROR:")) return { kind: "cms-error", detail: line.slice(11).trim() };
  if (line.startsWith("CONNECT ")) return { kind: "connect", detail: line.slice(8).trim() };
  return null;
}

/**
 * Lines a modem sends on its own. Some (+CEREG, +CPIN, +CFUN) are also the
 * answer to a query; the channel decides by the command in flight.
 */
const URC_PREFIXES = [
  "+CEREG:",
  "+CGREG:",
  "+CREG:",
  "+CPIN:",
  "+QIND:",
  "+CGEV:",
  "+QUSIM:",
  "+CFUN:",
  "+QSTAT:",
  "+CRING:",
  "+QNETDEVSTATUS:",
  "+CTZV:",
  "+CTZE:",
  "+QSIMSTAT:",
  "+CMTI:",
];
const URC_WORDS = new Set(["RDY", "POWERED DOWN", "NORMAL POWER DOWN", "RING", "SMS DONE", "PB DONE", "APP RDY"]);

/** The URC name ("+CEREG", "RDY") if the line has the shape of a known URC. */
export function urcName(line: string): string | null {
  if (URC_WORDS.has(line)) return line;
  for (const p of URC_PREFIXES) if (line.startsWith(p)) return p.slice(0, -1);
  return null;
}

/** "+CEREG: 1,2" → "+CEREG"; the response prefix of a line, or null. */
export function linePrefix(line: string): string | null {
  const m = /^(\+[A-Z0-9]+):/.exec(line);
  return m ? m[1]! : null;
}

/** The response prefix a command's answer lines carry: "AT+CEREG?" → "+CEREG". */
export function commandPrefix(cmd: string): string | null {
  const m = /^AT(\+[A-Z0-9]+)/i.exec(cmd);
  return m ? m[1]!.toUpperCase() : null;
}

const MAX_LINE = 1024;

/**
 * Splits bytes into lines. Bytes that cannot be in an AT response (controls
 * other than CR/LF/TAB, and 0x80..0xff) are dropped and counted as garbage.
 */
export class LineSplitter {
  private buf = "";
  garbageBytes = 0;

  /** Feed bytes; returns complete lines (trimmed, never empty). */
  push(data: Uint8Array, from = 0, to = data.length): string[] {
    const out: string[] = [];
    for (let i = from; i < to; i++) {
      const line = this.pushByte(data[i]!);
      if (line !== null) out.push(line);
    }
    return out;
  }

  /** Feed one byte; returns a line when this byte completed one. */
  pushByte(b: number): string | null {
    if (b === 0x0d || b === 0x0a) {
      const line = this.buf.trim();
      this.buf = "";
      return line.length > 0 ? line : null;
    }
    if ((b >= 0x20 && b < 0x7f) || b === 0x09) {
      if (this.buf.length >= MAX_LINE) {
        // A "line" this long is noise (e.g. PPP frames after a missed NO CARRIER).
        this.garbageBytes += this.buf.length;
        this.buf = "";
      }
      this.buf += String.fromCharCode(b);
    } else {
      this.garbageBytes++;
    }
    return null;
  }

  /** Bytes of a not yet terminated line (e.g. the "> " prompt). */
  pending(): string {
    return this.buf;
  }

  reset(): void {
    this.buf = "";
  }
}

/**
 * The comma-separated parameters of an AT command or response
 * ("1,\"IP\",\"apn\"" → ["1", "IP", "apn"]): quotes removed, commas inside
 * quotes kept, spaces around a field trimmed (a field still open in quotes at
 * the end keeps its spaces: they were inside the quotes).
 */
export function splitQuotedFields(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(quoted ? cur : cur.trim());
  return out;
}

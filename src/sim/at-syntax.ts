/**
 * AT command-line syntax (ITU-T V.250 §5): splitting a line into commands,
 * parsing one command, splitting arguments, and masking secrets before a
 * line goes into an event. Pure string functions, no state; and the shape of
 * a command's result.
 */
import { splitQuotedFields } from "../at/lines.ts";

/** Longest command line a module keeps (BG96: 1024 characters incl. "AT"); longer input is cut. */
export const MAX_LINE = 1024;

/** A command whose answer comes later (AT+CGATT=1, AT+QPOWD). */
export interface PendingCommand {
  kind: "cgatt" | "qpowd";
  line: string;
  /** When the wait ends unanswered (AtInterpreter.pendingTimeout); without one it waits until the module resets. */
  timeoutAt?: number;
  /** Its final result went out at once (AT+QPOWD=1 answers OK, then POWERED DOWN when done). */
  answered?: boolean;
}

/** Result of executing one command of a command line. */
export type CmdResult =
  | { kind: "ok"; info?: string[] }
  | { kind: "error" }
  | { kind: "cme"; code: number }
  | { kind: "final"; text: string; info?: string[] }
  | { kind: "later"; pending: PendingCommand; info?: string[] }
  | { kind: "connect"; cid: number }
  | { kind: "reset" }
  /** "> ": the DTE types text ended by Ctrl-Z (AT+CMGS, 27.005 §3.5.1); `submit` answers it. ESC cancels (OK, nothing sent). */
  | { kind: "prompt"; submit: (text: string, now: number) => CmdResult };

/**
 * Split the part after "AT" into commands: extended commands are separated
 * by ';', basic commands follow each other directly ("E0V1&D2"), and D eats
 * the rest of the line. Returns null for a malformed line.
 */
export function splitCommands(body: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body[i]!;
    if (c === ";" || c === " ") {
      i++;
      continue;
    }
    if (c === "+" || c === "$" || c === "%") {
      let j = i + 1;
      let quoted = false;
      while (j < body.length) {
        const d = body[j]!;
        if (d === '"') quoted = !quoted;
        else if (d === ";" && !quoted) break;
        j++;
      }
      out.push(body.slice(i, j));
      i = j;
      continue;
    }
    const u = c.toUpperCase();
    if (u === "D") {
      out.push(body.slice(i));
      break;
    }
    let j = i + 1;
    if (u === "&") j++;
    if (u === "S") {
      while (j < body.length && /[0-9=?]/.test(body[j]!)) j++;
    } else {
      while (j < body.length && /[0-9]/.test(body[j]!)) j++;
    }
    if (!/[A-Z&]/.test(u)) return null;
    out.push(body.slice(i, j));
    i = j;
  }
  return out;
}

export type CommandForm = "exec" | "read" | "test" | "set";

/** One command of a command line, as splitCommands cut it out. */
export interface ParsedCommand {
  /** Upper case: "E", "&D", "D", "S", "+CGATT". */
  name: string;
  /** Extended commands: +X (exec), +X? (read), +X=? (test), +X=<args> (set). Basic commands are all exec. */
  form: CommandForm;
  /** Set form of an extended command: the arguments, quotes removed, case kept (APN, PIN, password). */
  args: string[];
  /** Basic commands: what follows the name, upper case ("2" of &D2, "0?" of S0?, the number ATD dials). */
  rest: string;
}

/** Parse one command; null for an extended command that is not well formed. */
export function parseCommand(cmd: string): ParsedCommand | null {
  const upper = cmd.toUpperCase();
  if (!upper.startsWith("+")) {
    // Basic commands (V.250): one letter or &letter plus an optional number.
    const name = upper.startsWith("&") ? upper.slice(0, 2) : upper.slice(0, 1);
    return { name, form: "exec", args: [], rest: upper.slice(name.length) };
  }
  const m = /^(\+[A-Z0-9]+)(=\?|\?|=(.*))?$/s.exec(upper);
  if (!m) return null;
  const form: CommandForm = m[2] === undefined ? "exec" : m[2] === "?" ? "read" : m[2] === "=?" ? "test" : "set";
  const args = form === "set" ? splitQuotedFields(cmd.slice(cmd.indexOf("=") + 1)) : [];
  return { name: m[1]!, form, args, rest: "" };
}

/** Default S-register values (V.250 §6.2/6.3), 3-digit as modems print them. */
export function sRegister(n: number): string {
  const values: Record<number, number> = { 0: 0, 3: 13, 4: 10, 5: 8, 6: 2, 7: 0, 8: 2, 10: 15, 12: 50 };
  return String(values[n] ?? 0).padStart(3, "0");
}

/** Commands whose arguments carry a PIN or password: never shown in events or logs. */
const SECRET_COMMANDS = /(\+(?:CPIN|CPWD|CLCK|CGAUTH|QICSGP)\s*=\s*)[^;]*/gi;

/** AT+CPIN="1234" → AT+CPIN=*** (also CGAUTH/QICSGP credentials). */
export function maskSecrets(line: string): string {
  return line.replace(SECRET_COMMANDS, "$1***");
}

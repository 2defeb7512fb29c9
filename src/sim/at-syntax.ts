/**
 * AT command-line syntax (ITU-T V.250 §5): splitting a line into commands,
 * arguments, and masking secrets before a line goes into an event. Pure
 * string functions, no state; and the shape of a command's result.
 */

/** A command whose answer comes later (AT+CGATT=1, AT+QPOWD). */
export interface PendingCommand {
  kind: "cgatt" | "qpowd";
  line: string;
}

/** Result of executing one command of a command line. */
export type CmdResult =
  | { kind: "ok"; info?: string[] }
  | { kind: "error" }
  | { kind: "cme"; code: number }
  | { kind: "final"; text: string; info?: string[] }
  | { kind: "later"; pending: PendingCommand; info?: string[] }
  | { kind: "connect"; cid: number }
  | { kind: "reset" };

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

/** Split "1,\"IP\",\"apn\"" into ["1","IP","apn"] (quotes removed, commas inside quotes kept). */
export function splitArgs(s: string): string[] {
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

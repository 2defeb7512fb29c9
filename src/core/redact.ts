/**
 * AT commands whose arguments carry a PIN, PUK or password must never reach a
 * log line, an event, a cause detail or `cellkeep check` output. Two layers:
 * - by shape: `redactCommand` hides the arguments of every secret-bearing
 *   command, `redactLine` does the same for lines the modem sends (an echoed
 *   command, a read answer such as `+QICSGP: 1,"apn","user","pw",1`);
 * - by value: `commandSecrets` pulls the credentials out of the commands a
 *   person put in modem.init (AT+CGAUTH with auth.method = "none", AT+QICSGP,
 *   AT+CLCK...), and the config loader registers them as secrets, so a later
 *   echo in a shape nobody listed is masked too (src/core/log.ts).
 *
 * 3GPP TS 27.007: +CPIN/+CPIN2 (§8.3), +CLCK (§7.4), +CPWD (§7.5), +CGAUTH
 * (§10.1.31); Quectel +QICSGP (TCP/IP AT commands manual); Qualcomm $QCPDPP.
 * This module is pure text rules with no imports (src/core/mask.ts uses it).
 */
const SECRET_COMMAND = /([+$](?:CPIN2?|CLCK|CPWD|CGAUTH|QICSGP|QCPDPP)\s*=)/i;

/**
 * AT+CPIN="1234" → AT+CPIN=***. Everything after the first secret-bearing
 * command's "=" is hidden, later commands of a compound line too: a password
 * may itself contain ';' or quotes, so no attempt is made to find its end.
 * Queries ("AT+CPIN?", "AT+CLCK=?") carry nothing and are kept.
 */
export function redactCommand(command: string): string {
  const m = SECRET_COMMAND.exec(command);
  if (!m) return command;
  const end = m.index + m[0].length;
  if (/^\s*\?\s*$/.test(command.slice(end))) return command;
  return command.slice(0, end) + "***";
}

/** Read answers that print stored credentials back (the +CPIN/+CLCK answers carry only a state). */
const SECRET_ANSWER = /([+$](?:CGAUTH|QICSGP|QCPDPP)\s*:)/i;

/**
 * A line from the modem (URC, answer, echo) as it may be shown: an echoed
 * secret-bearing command as by `redactCommand`; `+QICSGP: 1,"apn","u","pw",1`
 * → `+QICSGP: ***` (the whole answer: it is one context's credentials).
 * Status lines (`+CPIN: READY`, `+CEREG: ...`, `RDY`) are kept.
 */
export function redactLine(line: string): string {
  const c = redactCommand(line);
  if (c !== line) return c;
  const m = SECRET_ANSWER.exec(line);
  if (!m) return line;
  const end = m.index + m[0].length;
  if (line.slice(end).trim() === "") return line;
  return line.slice(0, end) + " ***";
}

export interface CommandSecret {
  value: string;
  /** pin: SIM/facility PINs (usually digits; masked only as a whole value); password: a PDP password. */
  kind: "pin" | "password";
}

/** Which arguments (0-based, after "=") of each command are credentials. Usernames are not secrets. */
const CREDENTIAL_ARGS: Record<string, { kind: CommandSecret["kind"]; args: number[] }> = {
  CPIN: { kind: "pin", args: [0, 1] }, // <pin>[,<newpin>]
  CPIN2: { kind: "pin", args: [0, 1] },
  CLCK: { kind: "pin", args: [2] }, // <fac>,<mode>[,<passwd>[,<class>]]
  CPWD: { kind: "pin", args: [1, 2] }, // <fac>,<oldpwd>,<newpwd>
  CGAUTH: { kind: "password", args: [3] }, // <cid>[,<auth_prot>[,<userid>[,<password>]]]
  QICSGP: { kind: "password", args: [4] }, // <contextID>,<context_type>,<APN>,<username>,<password>[,<authentication>]
  QCPDPP: { kind: "password", args: [2] }, // <cid>,<auth_type>[,<passwd>[,<username>]]
};

/**
 * The credential values inside one AT command line (a modem.init entry),
 * e.g. `AT+CGAUTH=1,1,"user","pw"` → [{ value: "pw", kind: "password" }].
 * Every secret-bearing command of a compound line is read; quoted arguments
 * may hold ',' and ';'.
 */
export function commandSecrets(command: string): CommandSecret[] {
  const out: CommandSecret[] = [];
  const re = new RegExp(SECRET_COMMAND.source, "gi");
  let m: RegExpExecArray | null;
  while ((m = re.exec(command)) !== null) {
    const name = m[1]!.slice(1).replace(/\s*=$/, "").toUpperCase();
    const spec = CREDENTIAL_ARGS[name];
    const { args, end } = splitArgs(command, m.index + m[0].length);
    re.lastIndex = Math.max(end, m.index + m[0].length);
    if (!spec) continue;
    for (const i of spec.args) {
      const v = args[i];
      if (v !== undefined && v !== "" && v !== "?") out.push({ value: v, kind: spec.kind });
    }
  }
  return out;
}

/** Arguments from `from` up to an unquoted ';' or the end; quotes and unquoted blanks removed. */
function splitArgs(text: string, from: number): { args: string[]; end: number } {
  const args: string[] = [];
  let cur = "";
  let quoted = false;
  let i = from;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') quoted = !quoted;
    else if (quoted) cur += ch; // kept as written: a password may start or end with a space
    else if (ch === ",") {
      args.push(cur);
      cur = "";
    } else if (ch === ";") break;
    else if (!/\s/.test(ch)) cur += ch;
  }
  args.push(cur);
  return { args, end: i };
}

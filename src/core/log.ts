/**
 * Logging with secret redaction. Secrets (passwords, tokens, PINs) are
 * registered once when the config is loaded; every line written through a
 * Logger has every registered secret replaced by "***" before it leaves the
 * process, so a stray detail string can never leak one.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * How a registered secret is found in outgoing text:
 * - "anywhere": 3 or more characters, not all digits (a password, a token):
 *   every occurrence, as a substring.
 * - "standalone": 3 or more digits: where it stands alone. Inside a longer
 *   number (a millisecond timestamp, a byte counter) it is not the secret, and
 *   masking it would corrupt every JSON body and metric holding those digits.
 * - "value": shorter than 3 characters, or registered `wholeValueOnly` (PIN
 *   digits from modem.init): only where the text shows it as a whole value.
 *   A 1-2 character secret ("x", "ok", "7") cannot be told from ordinary text
 *   as a substring or even as a word: masking it there would turn "link up",
 *   `"stat":1` or `cellkeep_up 1` into *** and break JSON and /metrics. So it
 *   is masked only where something marks it as a value (`valueContexts`):
 *   a quoted string that is exactly the secret ("x", 'x', or \"x\" inside a
 *   JSON string, as in an AT argument `,"x",`), the value of a credential-named
 *   key (`password=x`, `pin: x`), and the password of a URL (`//user:x@`).
 *   Where else it could stand, the owner masks by shape: AT commands and
 *   modem lines by src/at/redact.ts, secret-named event fields are dropped
 *   (src/core/mask.ts), PAP/CHAP in the pcap by src/ppp/pcap.ts.
 */
type SecretMatch = "anywhere" | "standalone" | "value";

const secrets = new Map<string, SecretMatch>();
/**
 * "value" secrets first, while the quotes and key names that mark them are intact (a
 * password "pass" would otherwise turn `password=x` into `***word=x` first); then longest
 * first, so a secret that contains a shorter one is replaced whole.
 */
let ordered: { text: string; match: SecretMatch; re: RegExp | null }[] | null = null;

export interface SecretOptions {
  /** Mask only where the text shows it as a whole value (see SecretMatch "value"), whatever its length. */
  wholeValueOnly?: boolean;
}

/** Register a value that must never be printed (see SecretMatch for how it is found). */
export function registerSecret(value: string | undefined | null, opts: SecretOptions = {}): void {
  if (!value) return;
  const match: SecretMatch = opts.wholeValueOnly || value.length < 3 ? "value" : /^\d+$/.test(value) ? "standalone" : "anywhere";
  add(value, match);
  // JSON output (json logs, quoted text-log fields, HTTP bodies) writes a quote, backslash or
  // control character escaped: that spelling is the same secret.
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) add(escaped, match);
  ordered = null;
}

function add(text: string, match: SecretMatch): void {
  const had = secrets.get(text);
  // A value registered both ways is masked the broader way.
  const rank = { value: 0, standalone: 1, anywhere: 2 };
  if (had === undefined || rank[match] > rank[had]) secrets.set(text, match);
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
/** Key names whose value is a credential, in any letter case (the secret itself is matched case-sensitively). */
const CREDENTIAL_KEY = ["password", "passwd", "pass", "pwd", "secret", "token", "pin", "puk"]
  .map((w) => [...w].map((c) => `[${c}${c.toUpperCase()}]`).join(""))
  .join("|");

/**
 * Where a "value" secret S counts as a whole value. A quote pair counts only
 * when it opens after a separator and closes before one, so a punctuation
 * secret ("," or ":") never matches the `","` between two JSON strings.
 */
function valueContexts(s: string): RegExp {
  const S = escapeRe(s);
  const open = `(?<=^|[\\s\\[{(,:=])`;
  const close = `(?=$|[\\s\\]}),;])`;
  return new RegExp(
    [
      // "S" or 'S' as a whole quoted string (JSON value, AT argument, metrics label).
      `${open}(["'])${S}\\1${close}`,
      // \"S\" : a quoted argument inside a JSON string (an AT line in /events or a json log line).
      `(?<=^|[\\s\\[{(,:="])(\\\\")${S}\\\\"(?=$|[\\s\\]}),;"\\\\])`,
      // password=S, auth.password = S, pin: S (a text log field, a URL query).
      `(?<![A-Za-z])((?:${CREDENTIAL_KEY})\\s*[=:]\\s*)${S}(?=$|[\\s,;&)\\]}])`,
      // scheme://user:S@host
      `(?<=:\\/\\/[^\\s/@:]*:)${S}(?=@)`,
    ].join("|"),
    "g",
  );
}

export function redact(text: string): string {
  ordered ??= [...secrets]
    .sort((a, b) => Number(b[1] === "value") - Number(a[1] === "value") || b[0].length - a[0].length)
    .map(([t, match]) => ({
      text: t,
      match,
      re: match === "anywhere" ? null : match === "standalone" ? new RegExp(`(?<!\\d)${escapeRe(t)}(?!\\d)`, "g") : valueContexts(t),
    }));
  let out = text;
  for (const s of ordered) {
    if (!out.includes(s.text)) continue;
    if (s.re === null) out = out.split(s.text).join("***");
    else if (s.match === "standalone") out = out.replace(s.re, "***");
    // Keep what marked it as a value (the quotes, "password="), replace only the secret.
    else out = out.replace(s.re, (_m, quote?: string, escQuote?: string, key?: string) => {
      if (quote !== undefined) return `${quote}***${quote}`;
      if (escQuote !== undefined) return `${escQuote}***${escQuote}`;
      return `${key ?? ""}***`;
    });
  }
  return out;
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(component: string): Logger;
}

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => process.stderr.write(line + "\n") };

/** Collects lines in memory; tests grep it for secrets. */
export class MemorySink implements LogSink {
  lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  sink?: LogSink;
  clock?: () => number;
  component?: string;
}

export function createLogger(opts: LoggerOptions): Logger {
  const sink = opts.sink ?? stderrSink;
  const clock = opts.clock ?? Date.now;
  const min = LEVELS[opts.level];
  const make = (component: string | undefined): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (LEVELS[level] < min) return;
      const ts = new Date(clock()).toISOString();
      let line: string;
      if (opts.format === "json") {
        line = JSON.stringify({ ts, level, ...(component ? { component } : {}), msg, ...fields });
      } else {
        const extra = fields
          ? Object.entries(fields)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}=${typeof v === "string" ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
              .join(" ")
          : "";
        line = `${ts} ${level.toUpperCase().padEnd(5)} ${component ? `[${component}] ` : ""}${msg}${extra ? " " + extra : ""}`;
      }
      sink.write(redact(line));
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (c) => make(component ? `${component}.${c}` : c),
    };
  };
  return make(opts.component);
}

/** A logger that drops everything (for cores under test that want one). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => nullLogger,
};

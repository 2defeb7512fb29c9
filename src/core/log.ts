/**
 * Logging with secret redaction. Secrets (passwords, tokens, PINs) are
 * registered once when the config is loaded; every line written through a
 * Logger has every registered secret replaced by "***" before it leaves the
 * process, so a stray detail string can never leak one.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secrets = new Set<string>();
/** Longest first, so a secret that contains a shorter one is replaced whole. */
let ordered: string[] | null = null;

/** Register a value that must never be printed. Short values (< 3 chars) are ignored to avoid mangling logs. */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 3) return;
  secrets.add(value);
  // JSON output (json logs, quoted text-log fields, HTTP bodies) writes a quote, backslash or
  // control character escaped: that spelling is the same secret.
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
  ordered = null;
}

export function redact(text: string): string {
  ordered ??= [...secrets].sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of ordered) {
    if (!out.includes(s)) continue;
    // An all-digit secret is replaced only where it stands alone: inside a longer number
    // (a millisecond timestamp, a byte counter) it is not the secret, and masking it would
    // corrupt every JSON body and metric that happens to contain those digits.
    out = /^\d+$/.test(s) ? out.replace(new RegExp(`(?<!\\d)${s}(?!\\d)`, "g"), "***") : out.split(s).join("***");
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

/**
 * Personal data in views. IMSI and ICCID identify a subscriber; the status
 * page and /status show only enough to tell SIMs apart (the first 5 digits,
 * i.e. MCC+MNC for an IMSI or the issuer prefix of an ICCID, and the last 2).
 * Registered secrets (passwords, tokens) are removed by `redact` from
 * src/core/log.ts on every response body as a second line of defence.
 */
import { redact } from "./log.ts";
// Pure text rules (no imports of its own): which AT commands and modem answers carry credentials.
import { redactLine } from "./redact.ts";

/** Keep the first 5 and last 2 characters; shorter values are masked entirely. */
export function maskId(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value);
  if (s.length <= 8) return "*".repeat(s.length);
  return s.slice(0, 5) + "*".repeat(s.length - 7) + s.slice(-2);
}

/** Field names whose values are personal identifiers in any event. */
const MASKED_KEYS = new Set(["imsi", "iccid"]);
/** Field names that must never leave the process at all. */
const DROPPED_KEYS = new Set(["password", "secret", "token", "pin", "puk"]);
/**
 * Field names whose value is a line of AT text: a URC or answer (`modem.urc`
 * line), a command (`modem.command-failed` command). Shown through
 * `redactLine`, so `+QICSGP: 1,"apn","u","pw",1` or an echoed `AT+CPIN="1234"`
 * is masked by its shape even when the value was never registered (a
 * credential stored in the module by someone else). Not applied to free text
 * such as `detail`: "AT+CPIN=***: timeout" would lose its tail.
 */
const AT_TEXT_KEYS = new Set(["line", "command"]);

/**
 * A deep copy of an event (or any JSON value) safe to show: IMSI/ICCID masked,
 * secret-named fields dropped, AT lines masked by shape, bounded depth. Other
 * strings are not redacted here; the serialised text is (see `safeJson`).
 */
export function sanitize(value: unknown, depth = 0): unknown {
  if (depth > 8) return "[deep]";
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "function" || typeof value === "symbol") return undefined;
    return value;
  }
  if (Array.isArray(value)) return value.slice(0, 256).map((v) => sanitize(v, depth + 1));
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = k.toLowerCase();
    if (DROPPED_KEYS.has(key)) continue;
    if (AT_TEXT_KEYS.has(key) && typeof v === "string") out[k] = redactLine(v);
    else out[k] = MASKED_KEYS.has(key) && (typeof v === "string" || v === null) ? maskId(v) : sanitize(v, depth + 1);
  }
  return out;
}

/** JSON text with IMSI/ICCID masked and every registered secret replaced by ***. */
export function safeJson(value: unknown, space?: number): string {
  return redact(JSON.stringify(sanitize(value), null, space));
}

/**
 * Personal data in views. IMSI and ICCID identify a subscriber; the status
 * page and /status show only enough to tell SIMs apart (the first 5 digits,
 * i.e. MCC+MNC for an IMSI or the issuer prefix of an ICCID, and the last 2).
 * Registered secrets (passwords, tokens) are removed by `redact` from
 * src/core/log.ts on every response body as a second line of defence.
 */
import { redact } from "./log.ts";

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
 * A deep copy of an event (or any JSON value) safe to show: IMSI/ICCID masked,
 * secret-named fields dropped, bounded depth. Strings are not redacted here;
 * the serialised text is (see `safeJson`).
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
    out[k] = MASKED_KEYS.has(key) && (typeof v === "string" || v === null) ? maskId(v) : sanitize(v, depth + 1);
  }
  return out;
}

/** JSON text with IMSI/ICCID masked and every registered secret replaced by ***. */
export function safeJson(value: unknown, space?: number): string {
  return redact(JSON.stringify(sanitize(value), null, space));
}

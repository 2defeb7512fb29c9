/**
 * Bearer-token check for POST /actions/*. The comparison runs in constant
 * time: both sides are hashed to fixed-length SHA-256 digests first, so
 * neither the content nor the length of the configured token leaks through
 * timing (crypto.timingSafeEqual needs equal lengths).
 */
import { createHash, timingSafeEqual } from "node:crypto";

export type AuthResult = "ok" | "no-token-configured" | "missing" | "wrong";

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

export function tokensEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Check an Authorization header against the configured token (null = actions disabled). */
export function checkBearer(header: string | null | undefined, token: string | null): AuthResult {
  if (token === null || token === "") return "no-token-configured";
  if (!header) return "missing";
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m) return "missing";
  return tokensEqual(m[1]!, token) ? "ok" : "wrong";
}

/** Read http.token_file contents: the first line, trimmed; empty → null. */
export function parseTokenFile(text: string): string | null {
  const first = text.split(/\r?\n/, 1)[0]?.trim() ?? "";
  return first === "" ? null : first;
}

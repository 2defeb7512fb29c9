/**
 * Bearer-token check for POST /actions/*. The comparison runs in constant
 * time: both sides are hashed to fixed-length SHA-256 digests first, so
 * neither the content nor the length of the configured token leaks through
 * timing (crypto.timingSafeEqual needs equal lengths).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readSecretFile } from "../config/files.ts";
import { CellkeepError } from "../core/cause.ts";

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

/**
 * Shortest token accepted. A token that can reset the modem is guessed
 * online against a rate-unlimited 401; 16 random characters put that out
 * of reach, while "admin" or a PIN-like value would not be.
 */
export const MIN_TOKEN_LENGTH = 16;

export type TokenFileResult = { ok: true; token: string } | { ok: false; message: string };

/**
 * Read and check http.token_file. The message names the file, never the
 * token (it goes to the log and the terminal). An empty first line is refused
 * too: whoever set token_file meant to enable actions. Permissions of the
 * file are checked with the other secret files in src/config/.
 */
export function readTokenFile(path: string): TokenFileResult {
  // Bounded like every secret file (1 MiB): a token file swapped for /dev/zero after the config
  // check must not hang the start.
  const read = readSecretFile(path, "token file");
  if (!read.ok) return { ok: false, message: `${path}: ${read.message}` };
  const text = new TextDecoder().decode(read.bytes);
  const token = parseTokenFile(text);
  const hint = "create one with: head -c 24 /dev/urandom | base64 > FILE";
  if (token === null) return { ok: false, message: `${path}: the token (first line) is empty; at least ${MIN_TOKEN_LENGTH} characters are needed; ${hint}` };
  const length = [...token].length;
  if (length < MIN_TOKEN_LENGTH) {
    return { ok: false, message: `${path}: the token (first line) has ${length} characters; at least ${MIN_TOKEN_LENGTH} are needed; ${hint}` };
  }
  return { ok: true, token };
}

/** The action token of a config: null without http.token_file; a bad file is a config error (exit 2 path). */
export function tokenFromConfig(config: { http: { token_file?: string | undefined } }): string | null {
  const path = config.http.token_file;
  if (path === undefined) return null;
  const r = readTokenFile(path);
  if (!r.ok) throw new CellkeepError("config-invalid", `http.token_file: ${r.message}`);
  return r.token;
}

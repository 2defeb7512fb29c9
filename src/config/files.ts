/**
 * Reading the config file and the files that hold secrets (auth.password_file,
 * http.token_file): bounded in size, decoded strictly, and checked for modes
 * that let other users read a secret.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats } from "node:fs";

/** No config or secret file may be larger: a real one is a few KiB; a bigger one is a mistake or an attack. */
export const MAX_FILE_BYTES = 1024 * 1024;

export type BoundedRead =
  | { ok: true; bytes: Uint8Array; stat: Stats }
  /** `size` is the file's size when known (a regular file), else null ("more than the limit"). */
  | { ok: false; reason: "too-large"; size: number | null; limit: number }
  | { ok: false; reason: "error"; code: string; message: string };

/**
 * Read at most `limit` bytes of a file: fstat first (a regular file that is too
 * large is refused without reading it), then read no more than `limit` + 1
 * bytes, so a device or a file that grows (`/dev/zero`) is refused too.
 */
export function readBounded(path: string, limit = MAX_FILE_BYTES): BoundedRead {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return ioError(err);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { ok: false, reason: "error", code: "EISDIR", message: "is a directory" };
    if (stat.isFile() && stat.size > limit) return { ok: false, reason: "too-large", size: stat.size, limit };
    // One byte more than the limit tells "exactly at the limit" from "over it".
    let buf = new Uint8Array(Math.min(limit + 1, Math.max(stat.size + 1, 4096)));
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (buf.length > limit) break;
        const bigger = new Uint8Array(Math.min(limit + 1, buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got > limit) return { ok: false, reason: "too-large", size: stat.isFile() ? Math.max(stat.size, got) : null, limit };
    return { ok: true, bytes: buf.subarray(0, got), stat };
  } catch (err) {
    return ioError(err);
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* nothing to do */
    }
  }
}

function ioError(err: unknown): { ok: false; reason: "error"; code: string; message: string } {
  const e = err as NodeJS.ErrnoException;
  return { ok: false, reason: "error", code: e.code ?? "EIO", message: e.message ?? String(err) };
}

/**
 * A file that holds a secret (password, token), read bounded; a failure is
 * one message for a person naming the file and what it is for, never its
 * content.
 */
export function readSecretFile(path: string, what: string): { ok: true; bytes: Uint8Array; stat: Stats } | { ok: false; message: string } {
  const read = readBounded(path);
  if (read.ok) return read;
  return { ok: false, message: read.reason === "too-large" ? tooLargeMessage(`the ${what} ${path}`, read.size) : `cannot read the ${what}: ${read.code}` };
}

/** "the config file is too large: 2097152 bytes; the limit is 1 MiB (1048576 bytes)" */
export function tooLargeMessage(what: string, size: number | null, limit = MAX_FILE_BYTES): string {
  const max = `${formatBytes(limit)} (${limit} bytes)`;
  return size === null ? `${what} is too large: more than the limit of ${max}` : `${what} is too large: ${size} bytes; the limit is ${max}`;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${trim(n / (1024 * 1024))} MiB`;
  if (n >= 1024) return `${trim(n / 1024)} KiB`;
  return `${n} bytes`;
}

function trim(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

export type Decoded = { ok: true; text: string } | { ok: false; line: number; column: number; message: string };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 text (TOML must be UTF-8), or the line and column of the first invalid byte. A leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array): Decoded {
  try {
    return { ok: true, text: strictUtf8.decode(bytes) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const hex = (bytes[at] ?? 0).toString(16).padStart(2, "0");
    return { ok: false, line, column: at - lineStart + 1, message: `not valid UTF-8 text (byte 0x${hex} at offset ${at}); TOML files must be UTF-8` };
  }
}

/** Offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629), or bytes.length. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && b[j]! >= lo && b[j]! <= hi;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) i += 1;
    else if (c >= 0xc2 && c <= 0xdf && cont(i + 1)) i += 2;
    else if (c === 0xe0 && cont(i + 1, 0xa0) && cont(i + 2)) i += 3;
    else if (((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) && cont(i + 1) && cont(i + 2)) i += 3;
    else if (c === 0xed && cont(i + 1, 0x80, 0x9f) && cont(i + 2)) i += 3;
    else if (c === 0xf0 && cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3)) i += 4;
    else if (c >= 0xf1 && c <= 0xf3 && cont(i + 1) && cont(i + 2) && cont(i + 3)) i += 4;
    else if (c === 0xf4 && cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3)) i += 4;
    else return i;
  }
  return i;
}

export interface Reader {
  uid: number;
  gids: readonly number[];
}

/** The user cellkeep runs as (for advice that must not lock cellkeep out of its own files). */
export function currentReader(): Reader {
  const uid = process.getuid?.() ?? 0;
  const gids = process.getgroups?.() ?? [];
  const gid = process.getgid?.();
  return { uid, gids: gid === undefined ? gids : [gid, ...gids] };
}

/**
 * A warning when a file holding a secret is readable by other users, with the
 * command that fixes it, or null when its mode is tight enough.
 *
 * The advice is `chmod 600 <file>` whenever cellkeep reads the file as its owner
 * or as root (it runs as root to open the TUN device and the serial port): the
 * group bit is then never needed, so a group-readable secret is warned about.
 * `chmod 640` is advised only when cellkeep itself reads the file through its
 * group (a file owned by root, group cellkeep): there the group bit is the
 * intended setup and only a world-readable mode is warned about, since 600
 * would lock cellkeep out.
 */
export function permissionWarning(
  file: string,
  holds: string,
  stat: { mode: number; uid: number; gid: number },
  reader: Reader = currentReader(),
): string | null {
  const groupReadable = (stat.mode & 0o040) !== 0;
  const worldReadable = (stat.mode & 0o004) !== 0;
  const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
  const quoted = shellQuote(file);
  const viaGroup = reader.uid !== 0 && reader.uid !== stat.uid && reader.gids.includes(stat.gid);
  if (viaGroup) {
    if (!worldReadable) return null;
    return `${file} holds ${holds} and is readable by other users (every user, mode ${mode}); run: chmod 640 ${quoted}`;
  }
  if (!groupReadable && !worldReadable) return null;
  const who = worldReadable && groupReadable ? "its group and every user" : worldReadable ? "every user" : "its group";
  const owner = reader.uid !== 0 && reader.uid !== stat.uid ? `chown ${reader.uid} ${quoted} && ` : "";
  return `${file} holds ${holds} and is readable by other users (${who}, mode ${mode}); run: ${owner}chmod 600 ${quoted}`;
}

/** A path as one shell word: bare when it is plain, else in single quotes. */
export function shellQuote(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    const plain = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2f || c === 0x2e || c === 0x5f || c === 0x2d || c === 0x2b || c === 0x3a;
    if (!plain) return `'${path.split("'").join(`'\\''`)}'`;
  }
  return path.length > 0 ? path : "''";
}

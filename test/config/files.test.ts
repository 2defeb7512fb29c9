/** Bounded reads, strict UTF-8 and the permission advice for files that hold secrets (src/config/files.ts). */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { MAX_FILE_BYTES, decodeUtf8, firstInvalidUtf8, permissionWarning, readBounded, shellQuote, tooLargeMessage } from "../../src/config/files.ts";

const dir = mkdtempSync(join(tmpdir(), "ck-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readBounded", () => {
  test("a file at the limit is read whole; one byte more is refused with its size", () => {
    const at = join(dir, "at");
    writeFileSync(at, Buffer.alloc(MAX_FILE_BYTES, 0x61));
    const ok = readBounded(at);
    expect(ok.ok && ok.bytes.length).toBe(MAX_FILE_BYTES);
    const over = join(dir, "over");
    writeFileSync(over, Buffer.alloc(MAX_FILE_BYTES + 1, 0x61));
    expect(readBounded(over)).toEqual({ ok: false, reason: "too-large", size: MAX_FILE_BYTES + 1, limit: MAX_FILE_BYTES });
  });

  test("an endless device is refused after limit + 1 bytes instead of being read forever", () => {
    const r = readBounded("/dev/zero");
    expect(r).toEqual({ ok: false, reason: "too-large", size: null, limit: MAX_FILE_BYTES });
  });

  test("small files, empty files, a small limit", () => {
    const f = join(dir, "small");
    writeFileSync(f, "hello\n");
    const r = readBounded(f);
    expect(r.ok && new TextDecoder().decode(r.bytes)).toBe("hello\n");
    writeFileSync(join(dir, "empty"), "");
    const e = readBounded(join(dir, "empty"));
    expect(e.ok && e.bytes.length).toBe(0);
    expect(readBounded(f, 5)).toMatchObject({ ok: false, reason: "too-large", size: 6 });
    expect(readBounded(f, 6).ok).toBe(true);
  });

  test("a missing file and a directory are errors with a code", () => {
    expect(readBounded(join(dir, "nope"))).toMatchObject({ ok: false, reason: "error", code: "ENOENT" });
    expect(readBounded(dir)).toMatchObject({ ok: false, reason: "error", code: "EISDIR" });
  });

  test("the message says how large and what the limit is", () => {
    expect(tooLargeMessage("the config file", 2 * 1024 * 1024)).toBe("the config file is too large: 2097152 bytes; the limit is 1 MiB (1048576 bytes)");
    expect(tooLargeMessage("the token file /t", null)).toBe("the token file /t is too large: more than the limit of 1 MiB (1048576 bytes)");
  });
});

describe("decodeUtf8", () => {
  test("valid text, a BOM dropped", () => {
    expect(decodeUtf8(new TextEncoder().encode("a = \"é €😀\"\n"))).toEqual({ ok: true, text: "a = \"é €😀\"\n" });
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]))).toEqual({ ok: true, text: "a" });
  });

  test("the first invalid byte is located by line and column", () => {
    const bytes = new Uint8Array([...new TextEncoder().encode("[network]\napn = \"a"), 0xff, 0x22, 0x0a]);
    const r = decodeUtf8(bytes);
    expect(r).toMatchObject({ ok: false, line: 2, column: 9 });
    if (!r.ok) expect(r.message).toContain("not valid UTF-8");
  });

  test.each([
    ["lone continuation", [0x80], 0],
    ["overlong 2-byte", [0x41, 0xc0, 0x80], 1],
    ["overlong 3-byte", [0xe0, 0x80, 0x80], 0],
    ["surrogate", [0xed, 0xa0, 0x80], 0],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
    ["truncated at the end", [0x61, 0xe2, 0x82], 1],
    ["valid 4-byte then bad", [0xf0, 0x9f, 0x98, 0x80, 0xfe], 4],
  ])("%s", (_name, bytes, at) => {
    const b = new Uint8Array(bytes as number[]);
    expect(firstInvalidUtf8(b)).toBe(at as number);
    expect(decodeUtf8(b).ok).toBe(false);
  });
});

describe("permissionWarning", () => {
  const root = { uid: 0, gids: [0] };
  const file = (mode: number, uid = 0, gid = 0) => ({ mode: 0o100000 | mode, uid, gid });

  test("as root or as the owner: group- or world-readable → chmod 600", () => {
    expect(permissionWarning("/etc/ck/pw", "the PPP password", file(0o644), root)).toBe(
      "/etc/ck/pw holds the PPP password and is readable by other users (its group and every user, mode 0644); run: chmod 600 /etc/ck/pw",
    );
    expect(permissionWarning("/etc/ck/pw", "x", file(0o640), root)).toContain("(its group, mode 0640); run: chmod 600 /etc/ck/pw");
    expect(permissionWarning("/etc/ck/pw", "x", file(0o604), root)).toContain("(every user, mode 0604); run: chmod 600 /etc/ck/pw");
    expect(permissionWarning("/etc/ck/pw", "x", file(0o600), root)).toBeNull();
    expect(permissionWarning("/etc/ck/pw", "x", file(0o400), root)).toBeNull();
    const owner = { uid: 1000, gids: [1000] };
    expect(permissionWarning("/home/ck/pw", "x", file(0o640, 1000, 1000), owner)).toContain("run: chmod 600 /home/ck/pw");
    expect(permissionWarning("/home/ck/pw", "x", file(0o600, 1000, 1000), owner)).toBeNull();
  });

  test("reading through the file's group (root:cellkeep 0640) is the intended setup: only world-readable warns, with chmod 640", () => {
    const cellkeep = { uid: 998, gids: [998] };
    expect(permissionWarning("/etc/ck/pw", "x", file(0o640, 0, 998), cellkeep)).toBeNull();
    expect(permissionWarning("/etc/ck/pw", "x", file(0o644, 0, 998), cellkeep)).toContain("run: chmod 640 /etc/ck/pw");
  });

  test("reading only through the world bit: make cellkeep's user the owner", () => {
    expect(permissionWarning("/etc/ck/pw", "x", file(0o644, 0, 0), { uid: 998, gids: [998] })).toContain("run: chown 998 /etc/ck/pw && chmod 600 /etc/ck/pw");
  });

  test("paths are quoted for the shell", () => {
    expect(shellQuote("/etc/cellkeep/token")).toBe("/etc/cellkeep/token");
    expect(shellQuote("/tmp/my file")).toBe("'/tmp/my file'");
    expect(shellQuote("/tmp/it's")).toBe("'/tmp/it'\\''s'");
    expect(permissionWarning("/tmp/a b", "x", file(0o644), root)).toEndWith("run: chmod 600 '/tmp/a b'");
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CellkeepError } from "../../src/core/cause.ts";
import { checkBearer, MIN_TOKEN_LENGTH, parseTokenFile, readTokenFile, tokenFromConfig, tokensEqual } from "../../src/http/auth.ts";

describe("bearer token", () => {
  test("parseTokenFile takes the first line, trimmed; empty means no token", () => {
    expect(parseTokenFile("  abc123  \nsecond line\n")).toBe("abc123");
    expect(parseTokenFile("tok\r\n")).toBe("tok");
    expect(parseTokenFile("")).toBeNull();
    expect(parseTokenFile("\n\n")).toBeNull();
  });

  test("tokensEqual compares content of any lengths", () => {
    expect(tokensEqual("abc", "abc")).toBe(true);
    expect(tokensEqual("abc", "abd")).toBe(false);
    expect(tokensEqual("abc", "abcd")).toBe(false);
    expect(tokensEqual("", "x")).toBe(false);
  });

  test("checkBearer distinguishes disabled, missing and wrong", () => {
    expect(checkBearer("Bearer t0k", null)).toBe("no-token-configured");
    expect(checkBearer("Bearer t0k", "")).toBe("no-token-configured");
    expect(checkBearer(undefined, "t0k")).toBe("missing");
    expect(checkBearer("Bearer", "t0k")).toBe("missing");
    expect(checkBearer("Token t0k", "t0k")).toBe("missing");
    expect(checkBearer("Bearer t0K", "t0k")).toBe("wrong");
    expect(checkBearer("Bearer t0k extra", "t0k")).toBe("missing");
    expect(checkBearer("bearer t0k", "t0k")).toBe("ok");
  });
});

describe("readTokenFile (http.token_file)", () => {
  const dir = mkdtempSync(join(tmpdir(), "ck-token-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };

  test("a token of 16 characters or more is read (first line, trimmed)", () => {
    expect(readTokenFile(write("ok", "0123456789abcdef\nignored\n"))).toEqual({ ok: true, token: "0123456789abcdef" });
  });

  test(`a token shorter than ${MIN_TOKEN_LENGTH} characters is refused, naming the file but never echoing the token`, () => {
    const path = write("short", "abc123-short\n");
    const r = readTokenFile(path);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain(path);
    expect(r.message).toContain("12 characters");
    expect(r.message).toContain("at least 16");
    expect(r.message).not.toContain("abc123-short");
  });

  test("an empty first line is refused too: the file was meant to enable actions", () => {
    const r = readTokenFile(write("empty", "\nsecond-line-token-value\n"));
    expect(r).toMatchObject({ ok: false });
    expect((r as { message: string }).message).toContain("empty");
  });

  test("an unreadable file is a message, not a throw", () => {
    const r = readTokenFile(join(dir, "absent"));
    expect(r).toMatchObject({ ok: false });
    expect((r as { message: string }).message).toContain("ENOENT");
  });

  test("tokenFromConfig throws config-invalid naming http.token_file and the file; null without token_file", () => {
    const path = write("short2", "tiny\n");
    let caught: unknown = null;
    try {
      tokenFromConfig({ http: { token_file: path } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CellkeepError);
    expect((caught as CellkeepError).causeInfo.code).toBe("config-invalid");
    expect((caught as CellkeepError).causeInfo.detail).toContain(`http.token_file: ${path}`);
    expect((caught as CellkeepError).message).not.toContain("tiny");
    expect(tokenFromConfig({ http: {} })).toBeNull();
    expect(tokenFromConfig({ http: { token_file: write("long", "a-long-enough-token-1234\n") } })).toBe("a-long-enough-token-1234");
  });
});

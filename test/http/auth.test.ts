import { describe, expect, test } from "bun:test";
import { checkBearer, parseTokenFile, tokensEqual } from "../../src/http/auth.ts";

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

import { describe, expect, test } from "bun:test";
import { createLogger, MemorySink, redact, registerSecret } from "../../src/core/log.ts";
import { safeJson } from "../../src/core/mask.ts";

describe("secret redaction", () => {
  // Generated passwords often hold quotes and backslashes; JSON (json logs, text-log fields
  // with spaces, every HTTP body) writes them escaped, and the escaped form must go too.
  const SECRET = 'Pw"q\\7-x9';

  test("a password with a quote and a backslash is redacted from json and text logs", () => {
    registerSecret(SECRET);
    for (const format of ["json", "text"] as const) {
      const sink = new MemorySink();
      const log = createLogger({ level: "debug", format, sink });
      log.warn(`peer said: bad password ${SECRET}`, { detail: `the peer echoed "${SECRET}" back` });
      const out = sink.lines.join("\n");
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain(JSON.stringify(SECRET).slice(1, -1));
      expect(out).toContain("***");
    }
  });

  test("... and from JSON response bodies", () => {
    registerSecret(SECRET);
    const body = safeJson({ type: "ppp.notice", detail: `auth failed for ${SECRET}` });
    expect(body).not.toContain(JSON.stringify(SECRET).slice(1, -1));
    expect(redact(JSON.stringify({ m: SECRET }))).not.toContain("q\\\\7");
  });
});

describe("redaction never corrupts numbers (a 4-digit SIM PIN inside a timestamp)", () => {
  test("with modem.pin = 1234 loaded, /status-like JSON with numbers that contain 1234 still parses and keeps them", async () => {
    const { loadConfigText } = await import("../../src/config/load.ts");
    const r = loadConfigText(`[network]\napn = "internet"\n[modem]\npin = "1234"\n[auth]\nmethod = "pap"\nusername = "u"\npassword = "98765"\n`);
    expect(r.ok).toBe(true);
    const value = { at: 1795247123456, bytesIn: 51234, bytesOut: 987650, rttMs: 12.345 };
    const body = safeJson(value);
    expect(JSON.parse(body)).toEqual(value);
    // ...while the PIN and the password themselves are still hidden where they could leak.
    expect(redact('sent AT+CPIN="1234"')).not.toContain("1234");
    expect(redact(JSON.stringify({ line: 'AT+CPIN="1234"' }))).not.toContain("1234");
    expect(redact("PAP password 98765 rejected")).not.toContain("98765");
  });
});

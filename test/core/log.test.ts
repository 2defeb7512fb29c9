import { describe, expect, test } from "bun:test";
import { createLogger, MemorySink, redact, registerSecret } from "../../src/core/log.ts";
import { safeJson } from "../../src/http/mask.ts";

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

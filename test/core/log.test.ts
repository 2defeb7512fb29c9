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

describe("short secrets (1 or 2 characters) are masked where they stand as a whole value", () => {
  // Registered process-wide for the rest of this test run: values no other test prints. Other
  // tests register "pass" and the like (masked anywhere), so key names here avoid such words.
  const TWO = "Zj";
  const ONE = "~";

  test("quoted, JSON-escaped inside a quoted string, after a credential key, in a URL", () => {
    registerSecret(TWO);
    expect(redact('+QICSGP: 1,"internet","gw","Zj",1')).toBe('+QICSGP: 1,"internet","gw","***",1');
    const json = JSON.stringify({ type: "modem.urc", line: '+QICSGP: 1,"internet","gw","Zj",1', value: "Zj" });
    const red = redact(json);
    expect(red).not.toContain(TWO);
    expect(JSON.parse(red)).toEqual({ type: "modem.urc", line: '+QICSGP: 1,"internet","gw","***",1', value: "***" });
    expect(redact("auth pwd=Zj user=gw")).toBe("auth pwd=*** user=gw");
    expect(redact("auth.PIN = Zj")).toBe("auth.PIN = ***");
    expect(redact("http_token: Zj")).toBe("http_token: ***");
    expect(redact("probe https://gw:Zj@example.net/ok failed")).toBe("probe https://gw:***@example.net/ok failed");
    expect(redact("label{pw='Zj'}")).toBe("label{pw='***'}");
  });

  test("never as a piece of other text: words, identifiers, other values", () => {
    registerSecret(TWO);
    registerSecret(ONE);
    const unrelated = [
      "Zjx xZj Zj-1 the Zj word", // free text: a 1-2 character secret cannot be told from ordinary text
      '{"a":"Zjx","b":"xZj","c":["~~","a~"],"d":"~/x"}',
      'detail="Zj is fine" user=gw~',
      "https://example.net/~user/Zj",
    ];
    for (const t of unrelated) expect(redact(t)).toBe(t);
    // A quote pair that is not one string ("a","~","b" has a quoted ~ between strings) is still masked only as a value.
    expect(redact('["a","~","b"]')).toBe('["a","***","b"]');
    expect(redact('["~","a"]')).toBe('["***","a"]');
  });

  test("punctuation secrets do not eat JSON structure", () => {
    registerSecret(",");
    registerSecret(":");
    const body = JSON.stringify({ a: "x", b: ["y", "z"], c: { d: 1 } });
    expect(redact(body)).toBe(body);
    expect(JSON.parse(redact(JSON.stringify({ k: ",", list: [":", "x"] })))).toEqual({ k: "***", list: ["***", "x"] });
  });

  test("a short all-digit secret leaves JSON numbers and metrics intact", () => {
    registerSecret("42");
    const value = { at: 1700000000042, rttMs: 42, counts: [42, 420], cid: 42 };
    expect(JSON.parse(redact(JSON.stringify(value)))).toEqual(value);
    const metrics = "cellkeep_ppp_mru 1500\ncellkeep_dial_attempts_total 42\n";
    expect(redact(metrics)).toBe(metrics);
    expect(redact('AT+CPIN="42"')).toBe('AT+CPIN="***"');
  });

  test("log lines in both formats: a 2-character password as a field and inside an echoed AT line", () => {
    registerSecret(TWO);
    for (const format of ["json", "text"] as const) {
      const sink = new MemorySink();
      const log = createLogger({ level: "debug", format, sink });
      log.debug("modem.urc", { line: '+QICSGP: 1,"internet","gw","Zj",1', pwd: TWO });
      log.info("probe", { target: "https://gw:Zj@example.net/" });
      const out = sink.lines.join("\n");
      expect(out).not.toContain(TWO);
      expect(out).toContain("***");
    }
  });
});

describe("registerSecret with wholeValueOnly (PIN digits from modem.init)", () => {
  test("masked as a value, never inside numbers or as bare digits", () => {
    registerSecret("9753", { wholeValueOnly: true });
    expect(redact('AT+CLCK="SC",1,"9753"')).toBe('AT+CLCK="SC",1,"***"');
    expect(redact("pin=9753")).toBe("pin=***");
    const value = { cell: 9753, at: 1700000097530, tac: "97531" };
    expect(JSON.parse(redact(JSON.stringify(value)))).toEqual(value);
  });
});

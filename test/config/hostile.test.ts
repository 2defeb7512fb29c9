/**
 * Hostile config text: whatever a config file holds, the loader ends in a valid
 * config or a clean config error (key, line, exit 2) — never an escaped
 * exception, never a hang of `check`, `run` or a SIGHUP reload (issue 18).
 *
 * Time bounds here are the one place these tests look at the clock (the issue
 * asks for "bounded in time" tests of hostile input). They are deliberately
 * generous: each case must finish in under BOUND_MS = 2 s even on a loaded CI
 * machine, where the backtracking bug took seconds to minutes (a "[" and 8,000
 * spaces: ~30 s; 100,000 spaces: hours) and a config of /dev/zero never ended.
 * On an idle machine each case below takes milliseconds.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { seededRandom } from "../../src/sim/garbage.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { KeyLines } from "../../src/config/lines.ts";
import { formatIssue, loadConfigBytes, loadConfigFile, loadConfigText, renderEffectiveConfig, type LoadResult } from "../../src/config/load.ts";
import { MAX_FILE_BYTES } from "../../src/config/files.ts";

const BOUND_MS = 2_000;
const MIN = `[network]\napn = "internet"\n`;
const dir = mkdtempSync(join(tmpdir(), "ck-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bounded<T>(fn: () => T): T {
  const started = performance.now();
  const out = fn();
  expect(performance.now() - started).toBeLessThan(BOUND_MS);
  return out;
}

/** A clean outcome: a usable config, or issues that each name a line and print as one bounded line. */
function expectClean(r: LoadResult): void {
  if (r.ok) {
    expect(r.config.network.apn.length).toBeGreaterThan(0);
    bounded(() => renderEffectiveConfig(r.config)); // what `check` prints next
    return;
  }
  expect(r.issues.length).toBeGreaterThan(0);
  for (const issue of r.issues.slice(0, 100)) {
    expect(typeof issue.path).toBe("string");
    expect(Number.isInteger(issue.line) && issue.line >= 0).toBe(true);
    const printed = formatIssue("c.toml", issue);
    expect(printed.length).toBeLessThan(1_000);
    expect(printed.includes("\n")).toBe(false);
  }
}

/** Through the text loader and, as bytes in a file, through the file loader `check` and `run` use. */
function loadBoth(text: string | Uint8Array): { text: LoadResult | null; file: LoadResult } {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const path = join(dir, "hostile.toml");
  writeFileSync(path, bytes);
  chmodSync(path, 0o600);
  const fromText = typeof text === "string" ? bounded(() => loadConfigText(text, "c.toml")) : null;
  const fromFile = bounded(() => loadConfigFile(path));
  if (fromText) expectClean(fromText);
  expectClean(fromFile);
  return { text: fromText, file: fromFile };
}

describe("KeyLines: linear time on hostile lines", () => {
  // Before the fix the table-header regex backtracked: 2,000 spaces 0.6 s, 8,000 ~28 s (×8 per doubling).
  for (const n of [2_000, 8_000, 100_000, MAX_FILE_BYTES]) {
    test(`a "[" and ${n} spaces`, () => {
      const lines = bounded(() => new KeyLines(`[network]\napn = "x"\n[${" ".repeat(n)}\n[modem]\nport = "auto"\n`));
      expect(lines.lineOf("network.apn")).toBe(2);
      expect(lines.lineOf("modem.port")).toBe(5);
    });
  }

  test("the same line inside a valid multi-line string (a config that passes the TOML parser)", () => {
    const { text, file } = loadBoth(`${MIN}[modem]\ninit = ["""\n[${" ".repeat(100_000)}\n"""]\nport = "auto"\n`);
    expect(text!.ok && text!.config.modem.port).toBe("auto");
    expect(file.ok).toBe(true);
  });

  test.each([
    ["[[ + spaces", `[[${" ".repeat(200_000)}`],
    ["[ + spaces + ]", `[${" ".repeat(200_000)}x${" ".repeat(200_000)}`],
    ["dotted header, no ]", `[${"a . ".repeat(200_000)}`],
    ["dotted key, no =", "a . ".repeat(200_000)],
    ["quotes", '"'.repeat(500_000)],
    ["key then spaces", `${"k".repeat(100_000)}${" ".repeat(500_000)}`],
    ["brackets", "[".repeat(500_000) + "]".repeat(500_000)],
    ["triple quotes", '"""'.repeat(300_000)],
    ["backslashes", `a = "${"\\".repeat(900_000)}`],
  ])("%s", (_name, text) => {
    const l = bounded(() => new KeyLines(text));
    expect(l.lineOf("x.y")).toBeGreaterThanOrEqual(1);
  });
});

describe("hostile TOML through the loader: a clean error or a valid config, in bounded time", () => {
  const N = 10_000;
  const cases: Array<[string, string]> = [
    ["arrays 10,000 deep", `${MIN}[modem]\ninit = ${"[".repeat(N)}${"]".repeat(N)}\n`],
    ["inline tables 10,000 deep", `${MIN}x = ${"{a=".repeat(N)}1${"}".repeat(N)}\n`],
    ["unclosed arrays 10,000 deep", `${MIN}[modem]\ninit = ${"[".repeat(N)}\n`],
    ["a table header 10,000 keys deep", `${MIN}[${Array(N).fill("a").join(".")}]\nk = 1\n`],
    ["a dotted key 10,000 parts deep", `${MIN}${Array(N).fill("a").join(".")} = 1\n`],
    ["a dotted key in a known table", `${MIN}[modem]\n${Array(N).fill("a").join(".")} = 1\n`],
    ["arrays of tables 10,000 times", `${MIN}${"[[modem.init]]\n".repeat(N)}`],
    ["a string just under the cap", `[network]\napn = "${"x".repeat(MAX_FILE_BYTES - 100)}"\n`],
    ["a multi-line string just under the cap", `[network]\napn = """${"x\n".repeat((MAX_FILE_BYTES - 100) / 2)}"""\n`],
    ["a key just under the cap", `${MIN}[modem]\n${"k".repeat(MAX_FILE_BYTES - 100)} = 1\n`],
    ["a quoted key just under the cap", `${MIN}"${"k.".repeat((MAX_FILE_BYTES - 100) / 2)}" = 1\n`],
    ["a comment line just under the cap", `${MIN}#${"#".repeat(MAX_FILE_BYTES - 100)}\n`],
    ["a value line of spaces", `${MIN}[modem]\nport = "auto"${" ".repeat(MAX_FILE_BYTES - 100)}\n`],
    // 50,000 unknown keys or tables: 50,000 errors, each with a line and a "did you mean" search (~0.4 s here).
    ["50,000 keys in a known table", `${MIN}[modem]\n${Array.from({ length: 50_000 }, (_, i) => `k${i} = 1`).join("\n")}\n`],
    ["50,000 tables", `${MIN}${Array.from({ length: 50_000 }, (_, i) => `[t${i}]`).join("\n")}\n`],
    // Not AT+CPIN: a valid config registers its credentials for log redaction in the whole test process.
    ["100,000 init commands", `${MIN}[modem]\ninit = [${Array(100_000).fill('"AT+QCFG=1"').join(",")}]\n`],
    ["an unterminated string", `${MIN}[modem]\nport = "${"x".repeat(500_000)}`],
    ["an unterminated literal string", `${MIN}[modem]\nport = '${"x".repeat(500_000)}`],
    ["an unterminated multi-line string", `${MIN}[modem]\nport = """${"x\n".repeat(400_000)}`],
    ["an unterminated multi-line literal", `${MIN}[modem]\nport = '''${"x\n".repeat(400_000)}`],
    ["an unterminated table header", `${MIN}[modem`],
    ["an unterminated inline table", `${MIN}x = { a = 1, b = [1, 2`],
    ["a NUL in a string", `${MIN}[modem]\nport = "/dev/tty\0USB2"\n`],
    ["a NUL in a comment", `${MIN}# \0\n`],
    ["a NUL in a key", `${MIN}[modem]\npo\0rt = "x"\n`],
    ["a NUL alone", "\0"],
    ["NULs to just under the cap", "\0".repeat(MAX_FILE_BYTES - 1)],
    ["control characters", `${MIN}${Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("")}\n`],
    ["a lone surrogate", `${MIN}[modem]\nport = "\ud800"\n`],
    ["a huge listen address", `${MIN}[http]\nlisten = "[${":".repeat(900_000)}"\n`],
    ["a huge host list", `${MIN}[http]\nallowed_hosts = ["${"a-".repeat(400_000)}!"]\n`],
    ["a huge host name", `${MIN}[http]\nallowed_hosts = ["${"a.".repeat(400_000)}-"]\n`],
    ["a huge IPv4 target", `${MIN}[health]\ntargets = ["${"1.".repeat(400_000)}"]\n`],
    ["a huge cron pattern", `${MIN}[health]\nschedule = "${"*/5,".repeat(200_000)} * * * *"\n`],
    ["a huge URL", `${MIN}[health]\nhttp_url = "http://u:${"%".repeat(400_000)}@h/"\n`],
    ["a huge duration", `${MIN}[ppp]\necho_interval = "${"1.1".repeat(300_000)}s"\n`],
    ["a huge duration list", `${MIN}[recovery]\nbackoff = [${Array(100_000).fill('"1s"').join(",")}]\n`],
    ["a huge PIN", `${MIN}[modem]\npin = "${"1".repeat(900_000)}"\n`],
    ["a huge interface name", `${MIN}[link]\ninterface = "${"a".repeat(900_000)}"\n`],
    ["a huge number", `${MIN}[modem]\nbaud = ${"9".repeat(900_000)}\n`],
    ["a huge float exponent", `${MIN}[ppp]\nmru = 1e${"9".repeat(900_000)}\n`],
    ["a huge date fraction", `${MIN}x = 1979-05-27T07:32:00.${"9".repeat(900_000)}Z\n`],
    ["many escapes", `[network]\napn = "${"\\u00e9".repeat(150_000)}"\n`],
    ["CR only line ends", `${MIN}${"\r".repeat(500_000)}`],
    ["CRLF to the cap", `${MIN}${"\r\n".repeat(500_000)}`],
    ["a password just under the cap", `${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword = "${"p".repeat(MAX_FILE_BYTES - 200)}"\n`],
  ];
  for (const [name, text] of cases) test(name, () => void loadBoth(text));

  test("over the cap: the file loader refuses it before parsing, as a config error", () => {
    for (const text of [`[network]\napn = "${"x".repeat(5 * MAX_FILE_BYTES)}"\n`, `${MIN}${"k".repeat(3 * MAX_FILE_BYTES)} = 1\n`, `[${" ".repeat(4 * MAX_FILE_BYTES)}`]) {
      const { text: t, file } = loadBoth(text);
      for (const r of [t!, file]) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.issues[0]!.message).toContain("the config file is too large");
      }
    }
  });

  test("invalid UTF-8 at the start, the middle and the end", () => {
    const head = new TextEncoder().encode(MIN);
    for (const bytes of [
      new Uint8Array([0xff, ...head]),
      new Uint8Array([...head, 0x23, 0xc3, 0x28, 0x0a]),
      new Uint8Array([...head, 0x23, 0xe2, 0x82]),
      new Uint8Array(MAX_FILE_BYTES).fill(0x80),
    ]) {
      const { file } = loadBoth(bytes);
      expect(file.ok).toBe(false);
      if (!file.ok) expect(file.issues[0]!.message).toContain("not valid UTF-8");
    }
  });
});

/** mulberry32 (the simulator's): a fixed seed makes every run try the same inputs, so a failure can be replayed. */
const prng = seededRandom;

describe("seeded fuzz of the config loader", () => {
  // The example config, without the commented secret lines: a mutation that uncomments one would register a
  // fuzzed "password" for log redaction in this process and mask text in unrelated tests.
  const example = readFileSync(join(import.meta.dir, "../../config.example.toml"), "utf8")
    .split("\n")
    .filter((l) => !/password|pin =|http_url|token_file/.test(l))
    .join("\n");
  const seed = new TextEncoder().encode(example);
  const FRAGMENTS = ["[", "]", "[[", "]]", "{", "}", '"', "'", '"""', "'''", "=", ".", ",", "#", "\n", "\r\n", "\\", "\\u", " ", "\t", "\0",
    "[modem]", "[auth]", "[http]", "[recovery.maintenance]", "a.b.c", "1e999", "-0", "inf", "nan", "true", "1979-05-27", "0x1f", "\u00e9", "\u{1f600}"];
  const TOTAL = 20_000;

  test(`${TOTAL} random and mutated variants of config.example.toml: no escaped exception`, () => {
    const rnd = prng(18);
    const int = (n: number) => Math.floor(rnd() * n);
    const enc = new TextEncoder();
    let slowest = 0;
    let slowestCase = -1;
    let ok = 0;
    for (let i = 0; i < TOTAL; i++) {
      let bytes: Uint8Array;
      if (i % 4 === 0) {
        // Random: TOML punctuation, fragments and raw bytes (invalid UTF-8 included).
        const parts: Uint8Array[] = [];
        for (let n = int(60); n > 0; n--) {
          const r = rnd();
          parts.push(r < 0.6 ? enc.encode(FRAGMENTS[int(FRAGMENTS.length)]!) : r < 0.9 ? enc.encode(String.fromCharCode(0x20 + int(95)).repeat(1 + int(5))) : new Uint8Array([int(256)]));
        }
        bytes = concat(parts);
      } else {
        bytes = seed;
        for (let m = 1 + int(4); m > 0; m--) bytes = mutate(bytes, rnd, int, enc, FRAGMENTS);
      }
      const started = performance.now();
      let r: LoadResult;
      try {
        r = loadConfigBytes(bytes, "fuzz.toml");
        if (r.ok) renderEffectiveConfig(r.config);
        else for (const issue of r.issues) formatIssue("fuzz.toml", issue);
      } catch (err) {
        throw new Error(`case ${i} threw ${(err as Error)?.stack ?? err}\ninput: ${JSON.stringify(new TextDecoder().decode(bytes)).slice(0, 2000)}`);
      }
      const took = performance.now() - started;
      if (took > slowest) [slowest, slowestCase] = [took, i];
      if (r.ok) ok++;
      else if (r.issues.length === 0 || r.issues.some((x) => !Number.isInteger(x.line) || x.line < 0)) throw new Error(`case ${i}: malformed issues ${JSON.stringify(r.issues)}`);
    }
    // Each input must finish well within the bound (see the file comment); the slowest one is named on failure.
    expect({ slowestCase, under: slowest < BOUND_MS }).toEqual({ slowestCase, under: true });
    expect(ok).toBeGreaterThan(100); // the mutations leave enough inputs valid to reach the schema and the renderer
  }, 300_000);
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function mutate(b: Uint8Array, rnd: () => number, int: (n: number) => number, enc: TextEncoder, fragments: string[]): Uint8Array {
  const at = int(b.length + 1);
  switch (int(8)) {
    case 0: // delete a span
      return concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(200)))]);
    case 1: { // copy a span elsewhere
      const from = int(b.length);
      return concat([b.subarray(0, at), b.subarray(from, from + 1 + int(300)), b.subarray(at)]);
    }
    case 2: // insert a fragment
      return concat([b.subarray(0, at), enc.encode(fragments[int(fragments.length)]!), b.subarray(at)]);
    case 3: { // flip a byte
      const c = b.slice();
      if (c.length > 0) c[int(c.length)] = int(256);
      return c;
    }
    case 4: // truncate
      return b.subarray(0, at);
    case 5: // repeat a fragment many times (long lines, deep nesting)
      return concat([b.subarray(0, at), enc.encode(fragments[int(fragments.length)]!.repeat(1 + int(3000))), b.subarray(at)]);
    case 6: { // swap two lines
      const lines = new TextDecoder().decode(b).split("\n");
      const i = int(lines.length);
      const j = int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return enc.encode(lines.join("\n"));
    }
    default: // drop the comment mark of a line (uncommented examples), or add one
      {
        const text = new TextDecoder().decode(b);
        const hash = text.indexOf("# ", at);
        return hash >= 0 && rnd() < 0.7 ? enc.encode(text.slice(0, hash) + text.slice(hash + 2)) : enc.encode(text.slice(0, at) + "# " + text.slice(at));
      }
  }
}

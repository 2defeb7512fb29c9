import { describe, expect, test } from "bun:test";
import { redact } from "../../src/core/log.ts";
import { loadConfigText, formatIssue, renderEffectiveConfig, closest } from "../../src/config/load.ts";
import { parseDuration, formatDuration } from "../../src/config/duration.ts";
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadConfigFile } from "../../src/config/load.ts";

const MIN = `[network]\napn = "internet"\n`;

/** Each case: TOML text, the exact key path, the exact line, and a fragment of the message. */
const BAD: Array<{ name: string; toml: string; path: string; line: number; message: string }> = [
  { name: "missing apn", toml: `[network]\ncid = 1\n`, path: "network.apn", line: 1, message: "expected a non-empty string" },
  { name: "empty apn", toml: `[modem]\nport = "auto"\n\n[network]\napn = "  "\n`, path: "network.apn", line: 5, message: "expected a non-empty string" },
  { name: "apn wrong type", toml: `[network]\napn = 5\n`, path: "network.apn", line: 2, message: "expected a non-empty string" },
  { name: "unknown key with suggestion", toml: `${MIN}[modem]\nbuad = 9600\n`, path: "modem.buad", line: 4, message: 'did you mean "baud"?' },
  { name: "unknown table with suggestion", toml: `${MIN}[helth]\nevery = "30s"\n`, path: "helth", line: 3, message: 'did you mean "health"?' },
  { name: "unknown key no suggestion", toml: `${MIN}[ppp]\nzzzzzzzz = 1\n`, path: "ppp.zzzzzzzz", line: 4, message: "unknown key in [ppp]" },
  { name: "bad duration", toml: `${MIN}[ppp]\necho_interval = "5 minutes"\n`, path: "ppp.echo_interval", line: 4, message: 'got "5 minutes"' },
  { name: "duration as number", toml: `${MIN}[health]\ntimeout = 5\n`, path: "health.timeout", line: 4, message: "expected a duration" },
  { name: "duration too short", toml: `${MIN}[ppp]\necho_interval = "10ms"\n`, path: "ppp.echo_interval", line: 4, message: "at least 1000 ms" },
  { name: "bad backoff element", toml: `${MIN}[recovery]\nbackoff = ["0s", "ten minutes"]\n`, path: "recovery.backoff.1", line: 4, message: "expected a duration" },
  { name: "decreasing backoff", toml: `${MIN}[recovery]\nbackoff = ["10m", "1m"]\n`, path: "recovery.backoff", line: 4, message: "never decrease" },
  { name: "password and password_file", toml: `${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword = "p"\npassword_file = "/etc/x"\n`, path: "auth.password_file", line: 7, message: "not both" },
  { name: "pap without username", toml: `${MIN}[auth]\nmethod = "pap"\npassword = "p"\n`, path: "auth.username", line: 3, message: "needs a username" },
  { name: "bad auth method", toml: `${MIN}[auth]\nmethod = "mschap"\n`, path: "auth.method", line: 4, message: 'expected one of: "none", "pap", "chap", "auto"' },
  { name: "bad listen address", toml: `${MIN}[http]\nlisten = "localhost"\n`, path: "http.listen", line: 4, message: "host:port" },
  { name: "listen port out of range", toml: `${MIN}[http]\nlisten = "127.0.0.1:70000"\n`, path: "http.listen", line: 4, message: "host:port" },
  { name: "baud not integer", toml: `${MIN}[modem]\nbaud = "fast"\n`, path: "modem.baud", line: 4, message: "expected an integer" },
  { name: "baud fractional", toml: `${MIN}[modem]\nbaud = 9600.5\n`, path: "modem.baud", line: 4, message: "expected an integer" },
  { name: "bad profile", toml: `${MIN}[modem]\nprofile = "bg96"\n`, path: "modem.profile", line: 4, message: '"quectel-bg96"' },
  { name: "pin not digits", toml: `${MIN}[modem]\npin = "12ab"\n`, path: "modem.pin", line: 4, message: "4 to 8 digits" },
  { name: "pdp_type lower case", toml: `[network]\napn = "a"\npdp_type = "ipv4"\n`, path: "network.pdp_type", line: 3, message: '"IPV4V6"' },
  { name: "cid out of range", toml: `[network]\napn = "a"\ncid = 0\n`, path: "network.cid", line: 3, message: "from 1 to 24" },
  { name: "mru too small", toml: `${MIN}[ppp]\nmru = 64\n`, path: "ppp.mru", line: 4, message: "from 128 to 16384" },
  { name: "bad target address", toml: `${MIN}[health]\ntargets = ["8.8.8.8", "8.8.8.256"]\n`, path: "health.targets.1", line: 4, message: "IPv4 address" },
  { name: "schedule and every", toml: `${MIN}[health]\nschedule = "*/5 * * * *"\nevery = "30s"\n`, path: "health.every", line: 5, message: "not both" },
  { name: "bad cron pattern", toml: `${MIN}[health]\nschedule = "every five minutes"\n`, path: "health.schedule", line: 4, message: "cron pattern" },
  { name: "bad link mode", toml: `${MIN}[link]\nmode = "ppp"\n`, path: "link.mode", line: 4, message: '"tun", "none"' },
  { name: "interface name too long", toml: `${MIN}[link]\ninterface = "a-very-long-interface-name"\n`, path: "link.interface", line: 4, message: "1 to 15" },
  { name: "table given as value", toml: `log = "debug"\n${MIN}`, path: "log", line: 1, message: "expected a table" },
  { name: "bad log level", toml: `${MIN}[log]\nlevel = "verbose"\n`, path: "log.level", line: 4, message: '"debug"' },
  // The serial binding sets only the kernel's standard rates: 100000 would pass a range check and then fail every open at runtime.
  { name: "baud the tty cannot be set to", toml: `${MIN}[modem]\nbaud = 100000\n`, path: "modem.baud", line: 4, message: "115200" },
  { name: "init not a list", toml: `${MIN}[modem]\ninit = "AT+QCFG"\n`, path: "modem.init", line: 4, message: "list of AT command strings" },
  { name: "maintenance without schedule", toml: `${MIN}[recovery.maintenance]\naction = "redial"\n`, path: "recovery.maintenance.schedule", line: 3, message: "required key is missing" },
];

describe("config: bad inputs name the key and the line", () => {
  for (const c of BAD) {
    test(c.name, () => {
      const r = loadConfigText(c.toml, "cellkeep.toml");
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const hit = r.issues.find((i) => i.path === c.path);
      expect(hit, `issues were: ${JSON.stringify(r.issues)}`).toBeDefined();
      expect(hit!.line).toBe(c.line);
      expect(hit!.message).toContain(c.message);
      expect(formatIssue("cellkeep.toml", hit!)).toBe(`cellkeep.toml:${c.line}: ${c.path}: ${hit!.message}`);
    });
  }

  test("TOML syntax error gives line and column", () => {
    const r = loadConfigText(`[network]\napn = "x"\n\n[modem]\nport = \n`, "c.toml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]!.line).toBe(5);
    expect(r.issues[0]!.column).toBeGreaterThan(0);
    expect(formatIssue("c.toml", r.issues[0]!)).toMatch(/^c\.toml:5:\d+: TOML syntax error: /);
  });

  test("duplicate key is a syntax error with its line", () => {
    const r = loadConfigText(`[network]\napn = "x"\napn = "y"\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.line).toBe(3);
  });

  test("all errors are listed at once, in line order", () => {
    const r = loadConfigText(`[modem]\nbaud = "x"\nprot = 1\n[network]\napn = ""\n[auth]\nmethod = "chap"\n`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path)).toEqual(["modem.baud", "modem.prot", "network.apn", "auth.username"]);
    expect(r.issues.map((i) => i.line)).toEqual([2, 3, 5, 6]);
  });
});

describe("config: valid input", () => {
  test("defaults are filled and durations become milliseconds", () => {
    const r = loadConfigText(MIN);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.modem.port).toBe("auto");
    expect(r.config.ppp.echo_interval).toBe(30_000);
    expect(r.config.recovery.backoff).toEqual([0, 600_000, 1_800_000, 3_600_000]);
    expect(r.config.health.every).toBe(60_000);
    expect(r.config.http.listen).toBe("127.0.0.1:8080");
    expect(r.config.auth.password).toBe("");
  });

  test("password_file is read and the effective config redacts it", () => {
    const dir = mkdtempSync(join(tmpdir(), "ck-cfg-"));
    try {
      writeFileSync(join(dir, "pw"), "s3cret-from-file\n");
      const r = loadConfigText(`${MIN}[auth]\nmethod = "chap"\nusername = "u"\npassword_file = "${join(dir, "pw")}"\n`);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.config.auth.password).toBe("s3cret-from-file");
      const shown = renderEffectiveConfig(r.config);
      expect(shown).not.toContain("s3cret-from-file");
      expect(shown).toContain('password = "***"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the effective config masks credentials inside modem.init commands (PIN, CGAUTH, QICSGP)", () => {
    const r = loadConfigText(
      `${MIN}[modem]\ninit = ["AT+QCFG=\\"band\\",0,80000", "AT+CGAUTH=1,1,\\"user\\",\\"netSecret7\\"", "AT+QICSGP=1,1,\\"apn\\",\\"u\\",\\"qiSecret8\\",1", "AT+CLCK=\\"SC\\",0,\\"9876\\""]\n`,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const shown = renderEffectiveConfig(r.config);
    expect(shown).toContain("AT+QCFG");
    expect(shown).toContain("AT+CGAUTH=***");
    for (const secret of ["netSecret7", "qiSecret8", "9876"]) expect(shown).not.toContain(secret);
  });

  test("a password in health.http_url is a secret: masked in the effective config, redacted from logs", () => {
    const r = loadConfigText(`${MIN}[health]\nhttp_url = "https://probe:Http-S3cret-9@health.example.com/ping"\n`);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.health.http_url).toBe("https://probe:Http-S3cret-9@health.example.com/ping");
    const shown = renderEffectiveConfig(r.config);
    expect(shown).not.toContain("Http-S3cret-9");
    expect(shown).toContain("health.example.com");
    expect(redact("GET https://probe:Http-S3cret-9@health.example.com/ping failed")).not.toContain("Http-S3cret-9");
  });

  test("a backoff whose last step is 0s passes, with a warning: resets would repeat without a pause", () => {
    const r = loadConfigText(`${MIN}[recovery]\nbackoff = ["0s"]\n`);
    expect(r.ok && r.warnings.some((w) => w.includes("recovery.backoff") && w.includes("without a pause"))).toBe(true);
    const ok = loadConfigText(`${MIN}[recovery]\nbackoff = ["10m"]\n`);
    expect(ok.ok && ok.warnings).toEqual([]);
    const dflt = loadConfigText(MIN);
    expect(dflt.ok && dflt.warnings).toEqual([]);
  });

  test("unreadable password_file names the key", () => {
    const r = loadConfigText(`${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "/nonexistent/pw"\n`);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues[0]!.path).toBe("auth.password_file");
      expect(r.issues[0]!.line).toBe(6);
      expect(r.issues[0]!.message).toContain("ENOENT");
    }
  });

  test("a world-readable file holding a password gets a warning", () => {
    const dir = mkdtempSync(join(tmpdir(), "ck-cfg-"));
    try {
      const f = join(dir, "c.toml");
      writeFileSync(f, `${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword = "pw-visible"\n`);
      chmodSync(f, 0o644);
      const loose = loadConfigFile(f);
      expect(loose.ok && loose.warnings).toEqual([
        `${f} holds auth.password and is readable by other users (its group and every user, mode 0644); run: chmod 600 ${f}`,
      ]);
      chmodSync(f, 0o640); // group-readable alone is warned about too (cellkeep runs as root or as the owner: 600 is enough)
      const group = loadConfigFile(f);
      expect(group.ok && group.warnings.some((w) => w.includes("(its group, mode 0640)") && w.endsWith(`chmod 600 ${f}`))).toBe(true);
      chmodSync(f, 0o600);
      const tight = loadConfigFile(f);
      expect(tight.ok && tight.warnings.length).toBe(0);
      // Without a secret in it, a readable config is fine.
      writeFileSync(f, MIN);
      chmodSync(f, 0o644);
      const plain = loadConfigFile(f);
      expect(plain.ok && plain.warnings).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the example config is valid", () => {
    const r = loadConfigFile(join(import.meta.dir, "../../config.example.toml"));
    expect(r.ok).toBe(true);
  });
});

describe("durations", () => {
  test.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["0", 0],
    ["1.5s", 1500],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(["", "5", "5 s", "abc", "10x", "s"])("%p is not a duration", (text) => expect(parseDuration(text)).toBeNull());
  test("format round-trips", () => {
    for (const ms of [0, 500, 30_000, 600_000, 5_400_000, 90_500]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  test("closest suggests near keys only", () => {
    expect(closest("listn", ["listen", "token_file"])).toBe("listen");
    expect(closest("qqqqqq", ["listen", "token_file"])).toBeNull();
  });
});

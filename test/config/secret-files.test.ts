/**
 * Size caps and permission warnings for the config file and the files that hold
 * secrets (issue 18): a file over 1 MiB is a config error naming the key (or the
 * file) and its line; a secret readable by other users is a warning with the
 * chmod to run. Secrets never appear in either.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { formatIssue, loadConfigFile, loadConfigText } from "../../src/config/load.ts";
import { MAX_FILE_BYTES } from "../../src/config/files.ts";

const MIN = `[network]\napn = "internet"\n`;
const dir = mkdtempSync(join(tmpdir(), "ck-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe("size caps", () => {
  test("a config file over 1 MiB is refused without parsing it; the message names the file and the limit", () => {
    const f = file("big.toml", MIN + "#".repeat(MAX_FILE_BYTES));
    const r = loadConfigFile(f);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toHaveLength(1);
    expect(formatIssue(f, r.issues[0]!)).toBe(`${f}: the config file is too large: ${MAX_FILE_BYTES + MIN.length} bytes; the limit is 1 MiB (1048576 bytes)`);
  });

  test("a config file of exactly 1 MiB is read and checked", () => {
    const body = `${MIN}# `;
    const f = file("at-limit.toml", body + "x".repeat(MAX_FILE_BYTES - body.length - 1) + "\n");
    const r = loadConfigFile(f);
    expect(r.ok).toBe(true);
  });

  test("config text over 1 MiB given directly is refused as well", () => {
    const r = loadConfigText(MIN + `# ${"é".repeat(MAX_FILE_BYTES / 2)}\n`, "c.toml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.message).toContain("the config file is too large");
  });

  test("an endless device as the config file is refused, not read forever", () => {
    const r = loadConfigFile("/dev/zero");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]!.message).toBe("the config file is too large: more than the limit of 1 MiB (1048576 bytes)");
  });

  test("auth.password_file over 1 MiB names the key and its line, and shows no content", () => {
    const pw = file("big-pw", "Secret-Head-" + "p".repeat(MAX_FILE_BYTES));
    const r = loadConfigText(`${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`, "c.toml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([
      { path: "auth.password_file", line: 6, message: `the password file ${pw} is too large: ${MAX_FILE_BYTES + 12} bytes; the limit is 1 MiB (1048576 bytes)` },
    ]);
    expect(JSON.stringify(r.issues)).not.toContain("Secret-Head");
  });

  test("http.token_file over 1 MiB names the key and its line", () => {
    const tok = file("big-token", "t".repeat(MAX_FILE_BYTES + 1));
    const r = loadConfigText(`${MIN}[http]\ntoken_file = "${tok}"\n`, "c.toml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: "http.token_file", line: 4, message: `the token file ${tok} is too large: ${MAX_FILE_BYTES + 1} bytes; the limit is 1 MiB (1048576 bytes)` }]);
  });

  test("a password_file that is not UTF-8 is an error that shows no byte of it", () => {
    const pw = file("latin1-pw", new Uint8Array([0x70, 0xe4, 0x73, 0x73]));
    const r = loadConfigText(`${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`, "c.toml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: "auth.password_file", line: 6, message: `the password file ${pw} is not valid UTF-8 text` }]);
  });

  test("a config file that is not UTF-8 names the line and column of the bad byte", () => {
    const f = file("latin1.toml", new Uint8Array([...new TextEncoder().encode(`${MIN}[modem]\nport = "/dev/tty`), 0xb5, 0x22, 0x0a]));
    const r = loadConfigFile(f);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toHaveLength(1);
      expect(formatIssue(f, r.issues[0]!)).toBe(`${f}:4:17: not valid UTF-8 text (byte 0xb5 at offset 51); TOML files must be UTF-8`);
    }
  });
});

describe("permission warnings for files that hold a secret", () => {
  test("auth.password_file readable by others: a warning naming the file and chmod 600; none at 0600", () => {
    const pw = file("pw", "Pw-Not-In-Warnings\n", 0o644);
    const toml = `${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`;
    const loose = loadConfigText(toml, "c.toml");
    expect(loose.ok && loose.warnings).toEqual([
      `${pw} holds the PPP password (auth.password_file) and is readable by other users (its group and every user, mode 0644); run: chmod 600 ${pw}`,
    ]);
    chmodSync(pw, 0o600);
    const tight = loadConfigText(toml, "c.toml");
    expect(tight.ok && tight.warnings).toEqual([]);
    expect(tight.ok && tight.config.auth.password).toBe("Pw-Not-In-Warnings");
  });

  test("http.token_file readable by its group: a warning with chmod 600", () => {
    const tok = file("token", "abcdefghijklmnopqrstuvwx\n", 0o640);
    const loose = loadConfigText(`${MIN}[http]\ntoken_file = "${tok}"\n`, "c.toml");
    expect(loose.ok && loose.warnings).toEqual([
      `${tok} holds the HTTP action token (http.token_file) and is readable by other users (its group, mode 0640); run: chmod 600 ${tok}`,
    ]);
    chmodSync(tok, 0o600);
    const tight = loadConfigText(`${MIN}[http]\ntoken_file = "${tok}"\n`, "c.toml");
    expect(tight.ok && tight.warnings).toEqual([]);
  });

  test("a config file holding modem.pin, or a password inside health.http_url, is a secret file too", () => {
    // Secrets unique to this file: loading registers them for log redaction in the whole test process.
    const pin = file("pin.toml", `${MIN}[modem]\npin = "80471"\n`, 0o604);
    const r = loadConfigFile(pin);
    expect(r.ok && r.warnings).toEqual([`${pin} holds modem.pin and is readable by other users (every user, mode 0604); run: chmod 600 ${pin}`]);
    const url = file("url.toml", `${MIN}[modem]\npin = "80471"\n[auth]\npassword = "Inline-Pw-31"\n[health]\nhttp_url = "https://u:Url-Pw-5521@example.com/"\n`, 0o644);
    const u = loadConfigFile(url);
    expect(u.ok && u.warnings.length).toBe(1);
    expect(u.ok && u.warnings[0]).toStartWith(`${url} holds auth.password, modem.pin and a password in health.http_url and is readable by other users`);
    for (const w of u.ok ? u.warnings : []) for (const secret of ["80471", "Inline-Pw-31", "Url-Pw-5521"]) expect(w).not.toContain(secret);
  });

  test("a config whose password comes from password_file does not hold it: only the password file is checked", () => {
    const pw = file("pw2", "From-File-Pw-64\n", 0o600);
    const f = file("uses-file.toml", `${MIN}[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`, 0o644);
    const r = loadConfigFile(f);
    expect(r.ok && r.warnings).toEqual([]);
  });
});

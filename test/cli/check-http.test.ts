/** `cellkeep check` and the status endpoint's hardening (issue 18): listen exposure, token length, allowed_hosts. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { checkCommand } from "../../src/cli/check.ts";

const dir = mkdtempSync(join(tmpdir(), "ck-check-http-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function check(path: string): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const code = checkCommand(path, { out: (t) => (out += t + "\n"), err: (t) => (err += t + "\n") });
  return { code, out, err };
}

const base = `[network]\napn = "internet"\n`;

describe("cellkeep check: [http]", () => {
  test("a non-loopback http.listen is a warning on stderr; the exit code stays 0", () => {
    const r = check(file("wide.toml", `${base}[http]\nlisten = "0.0.0.0:8080"\n`));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^warning: http\.listen = "0\.0\.0\.0:8080" is not a loopback address/m);
    expect(r.out).toContain("is valid");
  });

  test("loopback and unix-socket listens: no such warning", () => {
    for (const listen of ["127.0.0.1:8080", "[::1]:8080", "/run/cellkeep/http.sock"]) {
      const r = check(file("narrow.toml", `${base}[http]\nlisten = "${listen}"\n`));
      expect(r.code).toBe(0);
      expect(r.err).not.toContain("loopback");
    }
  });

  test("a token shorter than 16 characters is a config error naming the line, http.token_file and the file; exit 2", () => {
    const token = file("token", "short-token\n");
    const cfg = file("short-token.toml", `${base}[http]\ntoken_file = "${token}"\n`);
    const r = check(cfg);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${cfg}:4: http.token_file: ${token}: `);
    expect(r.err).toContain("at least 16");
    expect(r.err).not.toContain("short-token\n");
    expect(r.out).toBe("");
  });

  test("a token of 16 characters or more passes and is never printed", () => {
    const token = file("token-ok", "0123456789abcdef-ok\n");
    const r = check(file("token-ok.toml", `${base}[http]\ntoken_file = "${token}"\n`));
    expect(r.code).toBe(0);
    expect(r.out + r.err).not.toContain("0123456789abcdef-ok");
  });

  test("http.allowed_hosts: a list of host names, shown in the effective config", () => {
    const r = check(file("hosts.toml", `${base}[http]\nallowed_hosts = ["gateway.lan", "192.168.1.5:8080", "[fd00::1]"]\n`));
    expect(r.code).toBe(0);
    expect(r.out).toContain('allowed_hosts = [ "gateway.lan", "192.168.1.5:8080", "[fd00::1]" ]');
  });

  test("http.allowed_hosts: a bad entry or a non-list is an error naming the key and line", () => {
    for (const [value, bad] of [
      [`["gateway.lan", "evil example"]`, "http.allowed_hosts.1"],
      [`[""]`, "http.allowed_hosts.0"],
      [`["http://gateway.lan/"]`, "http.allowed_hosts.0"],
      [`["fd00::1"]`, "http.allowed_hosts.0"],
      [`"gateway.lan"`, "http.allowed_hosts"],
    ] as const) {
      const cfg = file("bad-hosts.toml", `${base}[http]\nallowed_hosts = ${value}\n`);
      const r = check(cfg);
      expect([value, r.code]).toEqual([value, 2]);
      expect(r.err).toContain(`${cfg}:4: ${bad}: expected`);
    }
  });
});

describe("cellkeep run: a short token is a bad config (exit 2) before anything is touched", () => {
  test("run exits 2 and names http.token_file; the modem port is never opened", async () => {
    const token = file("run-token", "short-token\n");
    const cfg = file(
      "run-short-token.toml",
      `[modem]\nport = "${join(dir, "no-such-tty")}"\n[network]\napn = "internet"\n[http]\nlisten = "127.0.0.1:18097"\ntoken_file = "${token}"\n[recovery]\nstate_file = "${join(dir, "recovery.json")}"\n`,
    );
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "src", "main.ts"), "run", "--config", cfg], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect(code).toBe(2);
    expect(out + err).toContain("http.token_file");
    expect(out + err).not.toContain("short-token\n");
    expect(out + err).not.toContain("port-not-found");
  }, 20_000);
});

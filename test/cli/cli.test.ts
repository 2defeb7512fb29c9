/** The command line as a user meets it: spawned as a process, exit codes and output checked. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { VERSION } from "../../src/version.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "ck-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cellkeep(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

function file(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe("cellkeep CLI", () => {
  test("version prints the package version", async () => {
    const r = await cellkeep("version");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`cellkeep ${VERSION}`);
  });

  test("help lists every verb and the exit codes", async () => {
    const r = await cellkeep("--help");
    expect(r.code).toBe(0);
    for (const verb of ["run", "check", "simulate", "demo", "ports", "status", "version"]) expect(r.out).toContain(`cellkeep ${verb}`);
    expect(r.out).toMatch(/Exit codes:[\s\S]*2\s+bad configuration/);
    expect(r.out).toMatch(/Exit codes:[\s\S]*70\s+internal error/);
    const same = await cellkeep("help");
    expect(same.out).toBe(r.out);
  });

  test("no verb prints help and exits 2", async () => {
    const r = await cellkeep();
    expect(r.code).toBe(2);
    expect(r.out).toContain("Usage:");
  });

  test("unknown verb and unknown option exit 2 with a message", async () => {
    const a = await cellkeep("frobnicate");
    expect(a.code).toBe(2);
    expect(a.err).toContain('unknown command "frobnicate"');
    const b = await cellkeep("check", "--confg", "x.toml");
    expect(b.code).toBe(2);
    expect(b.err).toContain("unknown option --confg");
    const c = await cellkeep("check");
    expect(c.code).toBe(2);
    expect(c.err).toContain("--config FILE");
  });

  test("check on a valid config exits 0 and never prints the password", async () => {
    const cfg = file("good.toml", `[network]\napn = "internet"\n[auth]\nmethod = "chap"\nusername = "user"\npassword = "hunter2-very-secret"\n`);
    const r = await cellkeep("check", "--config", cfg);
    expect(r.code).toBe(0);
    expect(r.out).toContain('password = "***"');
    expect(r.out + r.err).not.toContain("hunter2-very-secret");
  });

  test("password file world-readable: check warns with the chmod to run; at 0600 no warning", async () => {
    const pw = file("pw-loose", "pw-from-file-abcdef\n", 0o644);
    const cfg = file("pwfile.toml", `[network]\napn = "internet"\n[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`);
    const loose = await cellkeep("check", "--config", cfg);
    expect(loose.code).toBe(0);
    expect(loose.err).toContain(`warning: ${pw} holds the PPP password (auth.password_file) and is readable by other users (its group and every user, mode 0644); run: chmod 600 ${pw}\n`);
    expect(loose.out + loose.err).not.toContain("pw-from-file-abcdef");
    chmodSync(pw, 0o600);
    const tight = await cellkeep("check", "--config", cfg);
    expect(tight.code).toBe(0);
    expect(tight.err).not.toContain(pw);
    expect(tight.err).not.toContain("readable by other users");
  });

  test("check warns when the config file holding a password is world-readable", async () => {
    const cfg = file("loose.toml", `[network]\napn = "internet"\n[auth]\nmethod = "pap"\nusername = "u"\npassword = "pw-abcdef"\n`, 0o644);
    const r = await cellkeep("check", "--config", cfg);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`${cfg} holds auth.password and is readable by other users`);
    expect(r.err).toContain(`run: chmod 600 ${cfg}`);
    expect(r.out + r.err).not.toContain("pw-abcdef");
  });

  test("check on a config file over 1 MiB exits 2 with the size and the limit", async () => {
    const cfg = file("huge.toml", `[network]\napn = "internet"\n#${"x".repeat(1024 * 1024)}\n`);
    const r = await cellkeep("check", "--config", cfg);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${cfg}: the config file is too large: `);
    expect(r.err).toContain("the limit is 1 MiB");
  });

  test("check on a bad config names file, line and key, exits 2", async () => {
    const cfg = file("bad.toml", `[modem]\nbuad = 9600\n\n[network]\napn = ""\n`);
    const r = await cellkeep("check", "--config", cfg);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${cfg}:2: modem.buad: unknown key in [modem]; did you mean "baud"?`);
    expect(r.err).toContain(`${cfg}:5: network.apn: expected a non-empty string`);
    expect(r.err).toContain("2 errors; nothing was started");
    expect(r.out).toBe("");
  });

  test("check on a missing file exits 2", async () => {
    const r = await cellkeep("check", "--config", join(dir, "nope.toml"));
    expect(r.code).toBe(2);
    expect(r.err).toContain("cannot read the config file");
  });

  test("run with a bad config exits 2 before touching anything", async () => {
    const cfg = file("bad-run.toml", `[network]\napn = 1\n[auth]\npassword = "pw-should-not-show"\n`);
    const r = await cellkeep("run", "--config", cfg);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${cfg}:2: network.apn`);
    expect(r.out + r.err).not.toContain("pw-should-not-show");
  });
});

/**
 * The secret-file warnings as a person meets them: `cellkeep run` logs them at
 * start and again on a SIGHUP reload (`cellkeep check` is covered in
 * test/cli/cli.test.ts). The password itself never reaches the log.
 */
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "ck-warn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("run logs the permission warning of a world-readable password file at start and on SIGHUP", async () => {
  const pw = join(dir, "password");
  writeFileSync(pw, "Run-Secret-Pw-77\n");
  chmodSync(pw, 0o644);
  const cfg = join(dir, "run.toml");
  writeFileSync(
    cfg,
    [
      "[network]", 'apn = "internet"',
      "[modem]", `port = "${join(dir, "no-such-tty")}"`, 'control_port = "none"',
      "[auth]", 'method = "pap"', 'username = "u"', `password_file = "${pw}"`,
      "[recovery]", `state_file = "${join(dir, "recovery.json")}"`,
      "[http]", `listen = "${join(dir, "http.sock")}"`,
    ].join("\n") + "\n",
  );
  chmodSync(cfg, 0o600);
  const warning = `WARN  ${pw} holds the PPP password (auth.password_file) and is readable by other users (its group and every user, mode 0644); run: chmod 600 ${pw}`;

  const p = Bun.spawn([process.execPath, MAIN, "run", "--config", cfg], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let log = "";
  const reader = p.stderr.getReader();
  const pump = (async () => {
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      log += dec.decode(value, { stream: true });
    }
  })();
  const waitFor = async (pred: () => boolean) => {
    for (let i = 0; i < 400 && !pred(); i++) await Bun.sleep(50);
    expect(pred()).toBe(true);
  };
  try {
    await waitFor(() => log.includes("started"));
    expect(log.split(warning).length - 1).toBe(1);
    // The warning comes before the agent starts (it is about the config, not the link).
    expect(log.indexOf(warning)).toBeLessThan(log.indexOf("started"));
    p.kill("SIGHUP");
    await waitFor(() => log.split(warning).length - 1 === 2);
  } finally {
    p.kill("SIGTERM");
    await p.exited;
    await pump;
  }
  expect(log).not.toContain("Run-Secret-Pw-77");
}, 60_000);

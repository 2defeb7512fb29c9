/**
 * `cellkeep ports --config FILE`: besides the discovered ports, what the agent
 * will do with the configured ones (with CMUX, what each DLCI carries); a bad
 * config is reported like `check` does, exit 2.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { configuredPortsText } from "../../src/cli/ports.ts";
import { parseConfig } from "../support/agent-rig.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
const dir = mkdtempSync(join(tmpdir(), "ck-ports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (mux: string) => `[modem]\nport = "/dev/ttyS0"\ncontrol_port = "none"\nmux = "${mux}"\n[network]\napn = "internet"\n`;

test("the configured ports, and with CMUX what each DLCI carries", () => {
  expect(configuredPortsText(parseConfig(base("none")))).toBe('configured: modem.port = "/dev/ttyS0", modem.control_port = "none", modem.mux = "none"');
  const cmux = configuredPortsText(parseConfig(base("cmux"))).split("\n");
  expect(cmux).toHaveLength(2);
  expect(cmux[1]).toContain("DLCI 1 carries AT polling and URCs, DLCI 2 the dial and PPP");
  const auto = configuredPortsText(parseConfig(base("auto"))).split("\n");
  expect(auto[1]).toStartWith("  CMUX when no control port is found and the modem accepts AT+CMUX");
});

async function ports(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, MAIN, "ports", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

test("ports --config prints the discovery report and then the configured ports; a bad config exits 2 with its line", async () => {
  const good = join(dir, "good.toml");
  writeFileSync(good, base("cmux"), { mode: 0o600 });
  const r = await ports("--config", good);
  expect(r.code).toBe(0);
  expect(r.out).toContain('configured: modem.port = "/dev/ttyS0", modem.control_port = "none", modem.mux = "cmux"');
  const plain = await ports();
  expect(plain.code).toBe(0);
  expect(plain.out).not.toContain("configured:");
  const bad = join(dir, "bad.toml");
  writeFileSync(bad, base("sometimes"), { mode: 0o600 });
  const b = await ports("--config", bad);
  expect(b.code).toBe(2);
  expect(b.out + b.err).toMatch(/bad\.toml:4: modem\.mux/);
});

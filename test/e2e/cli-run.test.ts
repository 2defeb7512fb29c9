/**
 * `cellkeep run --config FILE` against `cellkeep simulate --pty PATH`, both
 * as child processes, as a user dry-runs a config before a site visit:
 * connected on /status; SIGHUP with a broken config keeps the running one;
 * SIGTERM exits 0; simulate stops on SIGINT with 0.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Child, configToml, freePort, pollStatus, processExists, stopAllRigs, tempDir } from "./harness.ts";

setDefaultTimeout(40_000);

let children: Child[] = [];
let dirs: string[] = [];
afterEach(async () => {
  for (const c of children.reverse()) await c.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await stopAllRigs();
  children = [];
  dirs = [];
});

test("run + simulate: connected, SIGHUP with an invalid edit is rejected and the link stays up, SIGTERM exits 0", async () => {
  const dir = tempDir();
  dirs.push(dir);
  const pty = join(dir, "ttySIM");
  const sim = new Child(["simulate", "--pty", pty, "--time-scale", "0.05", "--username", "e2e", "--password", "e2e-secret"]);
  children.push(sim);
  // The first line on stdout is the path to open.
  const first = await sim.waitForOutput(/^(\S+)\n/, 15_000);
  expect(first[1]).toBe(pty);
  expect(existsSync(pty)).toBe(true);

  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const file = join(dir, "cellkeep.toml");
  const good = configToml({
    port: pty,
    stateFile: join(dir, "recovery.json"),
    tables: { http: `listen = "127.0.0.1:${port}"`, log: 'level = "info"', health: 'every = "2s"' },
  });
  writeFileSync(file, good);
  chmodSync(file, 0o600);

  const run = new Child(["run", "--config", file]);
  children.push(run);
  const status = await pollStatus(url, (s) => s.state === "connected", 25_000);
  const since = status.since;
  expect((status.ppp as { ipv4?: { local?: string } }).ipv4?.local).toMatch(/^10\.64\.0\.\d+$/);

  // An edit with an error: echo_interval below the 1 s minimum and a misspelt key.
  writeFileSync(file, good.replace('echo_interval = "1s"', 'echo_interval = "10ms"').replace("[link]\n", "[link]\nmdoe = \"tun\"\n"));
  run.signal("SIGHUP");
  await run.waitForOutput(/reload rejected: .*echo_interval/, 10_000);
  await run.waitForOutput(/keeping the previous configuration/, 10_000);
  // Still the same connection: connected since the same moment, no redial.
  const after = await pollStatus(url, (s) => s.state === "connected", 5_000);
  expect(after.since).toBe(since);
  expect(run.stderr).not.toMatch(/connected → /);

  run.signal("SIGTERM");
  expect(await run.exited).toBe(0);
  expect(processExists(run.pid)).toBe(false);
  expect(run.stderr).toMatch(/received SIGTERM, shutting down/);
  expect(run.stdout + run.stderr).not.toContain("e2e-secret");

  sim.signal("SIGINT");
  expect(await sim.exited).toBe(0);
  expect(existsSync(pty)).toBe(false); // simulate removed its symlink
  expect(sim.stdout + sim.stderr).not.toContain("e2e-secret");
});

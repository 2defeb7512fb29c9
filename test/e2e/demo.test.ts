/**
 * The README's first line: `cellkeep demo` as a user runs it, in a child
 * process. It must reach connected (seen on /status), stop on Ctrl-C (SIGINT)
 * with exit status 0, leave no process or pty directory behind, and never
 * print the demo's PPP password.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { Child, freePort, pollStatus, processExists } from "./harness.ts";

setDefaultTimeout(30_000);

let children: Child[] = [];
afterEach(async () => {
  for (const c of children) await c.kill();
  children = [];
});

test("demo: connected on /status, SIGINT exits 0, nothing left behind, password never logged", async () => {
  const port = freePort();
  const demo = new Child(["demo", "--listen", `127.0.0.1:${port}`]);
  children.push(demo);
  const url = `http://127.0.0.1:${port}`;

  const banner = await demo.waitForOutput(/virtual modem .* on (\S+); Ctrl-C to stop/, 15_000);
  const ptyPath = banner[1]!;
  expect(existsSync(ptyPath)).toBe(true);

  const status = await pollStatus(url, (s) => s.state === "connected", 20_000);
  expect((status.ppp as { ipv4?: { local?: string } }).ipv4?.local).toMatch(/^10\.64\.0\.\d+$/);
  // The readable bring-up log of the issue: sync → SIM → registered → CONNECT → PPP → IPCP → first ping.
  await demo.waitForOutput(/probe icmp \S+ ok/, 15_000);
  for (const step of [/syncing → sim/, /registration: home/, /dial attempt 1: CONNECT/, /link up: IPCP 10\.64\./, /negotiating → connected/]) {
    expect(demo.stderr).toMatch(step);
  }

  demo.signal("SIGINT");
  expect(await demo.exited).toBe(0);
  expect(demo.proc.signalCode).toBeNull();
  expect(processExists(demo.pid)).toBe(false);
  // The demo removed its pty symlink and temp directory.
  expect(existsSync(dirname(ptyPath))).toBe(false);
  // Ctrl-C stopped it the clean way: PPP terminated, the supervisor stopped.
  expect(demo.stderr).toMatch(/received SIGINT, shutting down/);
  expect(demo.stderr).toMatch(/→ stopped/);
  expect(demo.stdout + demo.stderr).not.toContain("demo-secret");
  // And the port is closed again.
  await expect(fetch(`${url}/status`, { signal: AbortSignal.timeout(1_000) })).rejects.toThrow();
});

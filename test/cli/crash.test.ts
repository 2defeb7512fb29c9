/**
 * `cellkeep run` when cellkeep itself fails: an uncaught exception, an
 * unhandled rejection, or the supervisor's main loop throwing. Each is logged
 * with the cause agent-crashed, the agent stops cleanly (the call is hung up,
 * the port and its lock released), and the process exits 70 so the service
 * manager restarts it.
 *
 * The real `src/main.ts run` against the virtual modem on a pty; the fault is
 * provoked by a `bun --preload` file (test/cli/fixtures/) that shares the
 * process with the agent, so the shipped CLI has no test switch.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EXIT } from "../../src/cli/exit-codes.ts";
import { lockNameFor, DEFAULT_LOCK_DIR } from "../../src/serial/lockfile.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { startSimulatorOnPty, type SimulatorHandle } from "../../src/sim/simulate.ts";
import { configToml } from "../support/agent-rig.ts";

setDefaultTimeout(60_000);

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src", "main.ts");
const FIXTURES = join(import.meta.dir, "fixtures");

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Crashed {
  code: number;
  stderr: string;
  simEvents: SimEvent[];
  /** The UUCP lock file of the agent's port, as it was named while the agent ran. */
  lockFile: string;
}

/** The simulator on a pty, `cellkeep run` with `preload`, until the process exits (bounded). */
async function runWithFault(preload: string, scenarios: string[] = []): Promise<Crashed> {
  const dir = mkdtempSync(join(tmpdir(), "cellkeep-crash-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sim: SimulatorHandle = startSimulatorOnPty({
    link: join(dir, "ttySIM"),
    scenarios,
    timeScale: 0.02,
    behaviour: { auth: { username: "e2e", password: "e2e-secret" } },
  });
  cleanups.push(() => sim.stop());
  const simEvents: SimEvent[] = [];
  cleanups.push(sim.modem.events.on((e) => simEvents.push(e)));
  const lockFile = join(DEFAULT_LOCK_DIR, lockNameFor(sim.path));
  const file = join(dir, "cellkeep.toml");
  writeFileSync(
    file,
    configToml({
      port: sim.path,
      stateFile: join(dir, "recovery.json"),
      tables: { http: `listen = ${JSON.stringify(join(dir, "http.sock"))}`, log: 'level = "info"', health: 'every = "5s"' },
    }),
  );
  chmodSync(file, 0o600);
  const proc = Bun.spawn([process.execPath, "--preload", join(FIXTURES, preload), MAIN, "run", "--config", file], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NOTIFY_SOCKET: "", WATCHDOG_USEC: "" },
  });
  // A bound, not a speed check: a run that never exits is killed and fails the test below.
  const guard = setTimeout(() => proc.kill("SIGKILL"), 45_000);
  cleanups.push(() => {
    clearTimeout(guard);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(guard);
  return { code, stderr: stdout + stderr, simEvents, lockFile };
}

/** The modem left data mode after the last time it entered it: the call was hung up. */
function hungUpAfterCall(events: SimEvent[]): boolean {
  const modes = events.filter((e): e is Extract<SimEvent, { type: "sim.mode" }> => e.type === "sim.mode");
  const lastData = modes.map((m) => m.mode).lastIndexOf("data");
  return lastData >= 0 && modes.slice(lastData + 1).some((m) => m.mode === "command");
}

describe("cellkeep run: an internal error stops the agent cleanly and exits 70", () => {
  test("an uncaught exception: logged with a cause, call hung up, port released, exit 70", async () => {
    const r = await runWithFault("fault-uncaught.ts");
    expect(r.code).toBe(EXIT.CRASH);
    expect(r.code).toBe(70);
    expect(r.stderr).toContain("crashed: agent-crashed (uncaught exception: Error: injected fault: a timer callback threw); hint: ");
    expect(r.stderr).toMatch(/connected/);
    expect(hungUpAfterCall(r.simEvents)).toBe(true);
    expect(existsSync(r.lockFile)).toBe(false);
    expect(r.stderr).not.toContain("e2e-secret");
  });

  test("an unhandled rejection: the same", async () => {
    const r = await runWithFault("fault-rejection.ts");
    expect(r.code).toBe(EXIT.CRASH);
    expect(r.stderr).toContain("crashed: agent-crashed (unhandled rejection: Error: injected fault: nobody handled this rejection)");
    expect(hungUpAfterCall(r.simEvents)).toBe(true);
    expect(existsSync(r.lockFile)).toBe(false);
  });

  test("the supervisor's loop throws (the policy fails on a lost link): reported as a crash, not left in stopped", async () => {
    // The network drops the call after 30 s (0.6 s at this time scale): the policy is asked and throws.
    const r = await runWithFault("fault-policy.ts", ["drop-after:30"]);
    expect(r.code).toBe(EXIT.CRASH);
    expect(r.stderr).toContain("supervisor crashed");
    expect(r.stderr).toContain("crashed: agent-crashed (Error: injected fault: the policy threw on a lost link)");
    expect(existsSync(r.lockFile)).toBe(false);
  });
});

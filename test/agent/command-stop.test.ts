/**
 * The agent's wiring of recovery.power_cycle (src/sys/command.ts): a helper
 * that hangs holds neither the supervisor nor the shutdown. On stop, its
 * whole process group (the shell and what it started) is killed.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { is, startRig, stopAllRigs, tempDir, type Rig } from "../e2e/harness.ts";
import { PidFiles, alive, until } from "../support/processes.ts";

setDefaultTimeout(30_000);

const pidFiles = new PidFiles();
const pidFrom = (file: string) => pidFiles.read(file);
afterEach(async () => {
  pidFiles.killAll();
  await stopAllRigs();
});

test("agent.stop while the power-cycle helper hangs: its process group is killed and the stop completes", async () => {
  const dir = tempDir();
  // A hung module: the hardware rung (power_cycle) follows at once, and the helper hangs with a grandchild.
  const script = `echo $$ > ${dir}/sh.pid; sleep 1000 & echo $! > ${dir}/gc.pid; wait`;
  const rig: Rig = await startRig({
    dir,
    scenarios: ["hang"],
    tables: { recovery: `backoff = ["0s"]\npower_cycle = ${JSON.stringify(script)}\ncommand_timeout = "1h"` },
    timing: { profileLimits: { hungAfter: 1_000, cfun: 500 }, bootTimeoutMs: 800 },
  });
  await rig.events.waitFor(is.action("power-cycle"), 20_000);
  const sh = await pidFrom(join(dir, "sh.pid"));
  const gc = await pidFrom(join(dir, "gc.pid"));
  expect(alive(sh)).toBe(true);
  expect(rig.agent.state()).toBe("recovering");
  await rig.stop({ keepDir: true });
  expect(rig.agent.state()).toBe("stopped");
  expect(alive(sh)).toBe(false);
  expect(await until(() => !alive(gc))).toBe(true);
  // The stop is not a failure of the helper: no command-failed was reported.
  expect(rig.events.all.some((e) => (e as { cause?: { code?: string } | null }).cause?.code === "command-failed")).toBe(false);
});

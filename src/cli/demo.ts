/**
 * `cellkeep demo`: the agent against the built-in virtual modem on a real
 * pseudo-terminal, with link.mode = "none" (no root), until Ctrl-C. The demo
 * config is TOML validated like any user's, so what runs is what a user gets.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText } from "../config/load.ts";
import { reportConfigIssues } from "./check.ts";
import { startSimulatorOnPty } from "../sim/simulate.ts";
import { formatSimEvent } from "../sim/simulate.ts";
import { parseArgs, lastOption } from "./args.ts";
import type { Output } from "./check.ts";
import { runCommandWithConfig } from "./run.ts";

export function demoConfigToml(o: { port: string; stateFile: string; listen: string; every: string }): string {
  return `# cellkeep demo: the virtual modem on a pty, no root needed
[modem]
port = "${o.port}"
control_port = "none"
profile = "auto"

[network]
apn = "internet.demo"
pdp_type = "IP"

[auth]
method = "pap"
username = "demo"
password = "demo-secret"

[ppp]
echo_interval = "10s"
echo_failures = 3

[link]
mode = "none"

[health]
every = "${o.every}"
targets = ["8.8.8.8", "1.1.1.1"]
timeout = "2s"
failures = 3

[recovery]
state_file = "${o.stateFile}"

[http]
listen = "${o.listen}"

[log]
level = "info"
format = "text"
`;
}

export async function demoCommand(argv: readonly string[], io: Output): Promise<number> {
  const args = parseArgs(argv, { options: ["listen", "scenario", "time-scale", "every"], flags: ["sim-log"] });
  const scenarios = args.options.get("scenario") ?? ["healthy"];
  const timeScale = Number(lastOption(args, "time-scale") ?? "0.5");
  const dir = mkdtempSync(join(tmpdir(), "cellkeep-demo-"));
  const sim = startSimulatorOnPty({
    link: join(dir, "ttySIM"),
    scenarios,
    timeScale,
    behaviour: { auth: { username: "demo", password: "demo-secret" } },
    ...(args.flags.has("sim-log") ? { onEvent: (e) => io.err(`[sim] ${formatSimEvent(e)}`) } : {}),
  });
  try {
    const toml = demoConfigToml({
      port: sim.path,
      stateFile: join(dir, "recovery.json"),
      listen: lastOption(args, "listen") ?? "127.0.0.1:8080",
      every: lastOption(args, "every") ?? "15s",
    });
    const loaded = loadConfigText(toml, "demo.toml");
    if (!loaded.ok) return reportConfigIssues("demo.toml", loaded.issues, io);
    io.err(`cellkeep demo: virtual modem (${scenarios.join(", ")}, time scale ${timeScale}) on ${sim.path}; Ctrl-C to stop`);
    return await runCommandWithConfig(loaded.config, "demo.toml", []);
  } finally {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

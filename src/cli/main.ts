/**
 * The command line: one verb per capability. Each verb returns an exit code
 * (src/cli/exit-codes.ts); only src/main.ts calls process.exit.
 */
import { HELP } from "./help.ts";
import { EXIT } from "./exit-codes.ts";
import { parseArgs, lastOption, UsageError } from "./args.ts";
import { checkCommand, stdio, type Output } from "./check.ts";
import { VERSION } from "../version.ts";

export async function main(argv: readonly string[], io: Output = stdio): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(HELP);
        return verb === undefined ? EXIT.USAGE : EXIT.OK;
      case "version":
      case "--version":
        io.out(`cellkeep ${VERSION}`);
        return EXIT.OK;
      case "check": {
        const args = parseArgs(rest, { options: ["config"] });
        const file = lastOption(args, "config") ?? args.positionals[0];
        if (!file) throw new UsageError("check needs --config FILE");
        return checkCommand(file, io);
      }
      case "run": {
        const args = parseArgs(rest, { options: ["config"] });
        const file = lastOption(args, "config") ?? args.positionals[0];
        if (!file) throw new UsageError("run needs --config FILE");
        const { runCommand } = await import("./run.ts");
        return await runCommand(file, io);
      }
      case "demo": {
        const { demoCommand } = await import("./demo.ts");
        return await demoCommand(rest, io);
      }
      case "simulate": {
        const { runSimulate } = await import("../sim/simulate.ts");
        return await runSimulate([...rest]);
      }
      case "ports": {
        const args = parseArgs(rest, { options: ["config"] });
        const { portsVerb } = await import("./ports.ts");
        return portsVerb(lastOption(args, "config") ?? args.positionals[0], io);
      }
      case "doctor": {
        const { doctorCommand } = await import("./doctor.ts");
        return doctorCommand(rest, io);
      }
      case "status": {
        const { statusCommand } = await import("./status.ts");
        return await statusCommand([...rest]);
      }
      case "fleet": {
        const { fleetCommand } = await import("../mqtt/fleet-command.ts");
        return await fleetCommand([...rest]);
      }
      default:
        throw new UsageError(`unknown command "${verb}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`cellkeep: ${err.message}\nRun \`cellkeep help\` for usage.`);
      return EXIT.USAGE;
    }
    throw err;
  }
}

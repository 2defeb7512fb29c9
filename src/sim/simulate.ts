/**
 * The virtual modem on a real pseudo-terminal, for end-to-end tests, the
 * demo, and `cellkeep simulate`:
 *
 *   cellkeep simulate --pty /tmp/ttySIM [--scenario NAME]... [--time-scale X]
 *
 * The agent opens the pty's slave (through the symlink at --pty) exactly
 * like /dev/ttyUSB2 on a real gateway. A pty has no DTR/DCD wires (TIOCM*
 * answer ENOTTY), so DTR-drop hang-up cannot be exercised here; use +++/ATH
 * or LCP Terminate, or the in-process modem whose pipe carries DTR.
 *
 * port-vanish: when the modem reboots, the pty is closed and the symlink
 * removed (the agent's reads fail: port-vanished); when it has booted, a new
 * pty is created and the symlink points at it again (same path, new
 * /dev/pts/N), as a USB modem re-enumerates.
 *
 * Power-cycle hook for the hang scenario over a pty: `kill -USR1 <pid>` (the
 * simulate process) or `handle.powerCycle()` in-process.
 */
import { CellkeepError } from "../core/cause.ts";
import { RealScheduler, type Scheduler } from "../core/clock.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../serial/pty.ts";
import type { SimEvent } from "./events.ts";
import { SCENARIO_HELP, SCENARIO_NAMES, type ScenarioSpec, parseScenarios } from "./scenario.ts";
import { VirtualModem, type VirtualModemOptions } from "./virtual-modem.ts";

/** Real-time delay between the modem's last output and the pty vanishing. */
const PORT_SETTLE_MS = 30;

export interface SimulatorOnPtyOptions extends Omit<VirtualModemOptions, "scheduler" | "scenarios"> {
  /** Symlink the agent opens (e.g. /tmp/ttySIM). Without it the path is /dev/pts/N and changes on port-vanish. */
  link?: string;
  scenarios?: readonly (string | ScenarioSpec)[];
  scheduler?: Scheduler;
  /** Every modem event, as it happens (the simulate CLI prints them). */
  onEvent?: (e: SimEvent) => void;
}

export interface SimulatorHandle {
  /** What the agent opens: the link if given, else the current slave path. */
  readonly path: string;
  readonly modem: VirtualModem;
  /** Is the port there right now (false between a port-vanish reboot and the end of boot)? */
  readonly portPresent: boolean;
  powerCycle(): void;
  /** Stop the modem, close the pty and remove the symlink. Idempotent. */
  stop(): Promise<void>;
}

export function startSimulatorOnPty(opts: SimulatorOnPtyOptions = {}): SimulatorHandle {
  const scheduler = opts.scheduler ?? new RealScheduler();
  const modem = new VirtualModem({ ...opts, scheduler });
  let pair: PtyPair | null = null;
  let stopped = false;

  const openPort = (): void => {
    pair = openPtyPair(opts.link ? { link: opts.link } : {});
    modem.attach(ptyMasterPipe(pair));
  };
  const closePort = (settleMs = 0): void => {
    modem.detach();
    const p = pair;
    pair = null;
    // Give the last bytes (OK to AT+CFUN=1,1) time to leave the master before
    // the port disappears, as a module finishes its answer before resetting.
    if (settleMs > 0) setTimeout(() => p?.close(), settleMs);
    else p?.close();
  };

  const unsub = modem.events.on((e) => {
    if (e.type === "sim.port" && !stopped) {
      if (!e.present && pair) closePort(PORT_SETTLE_MS);
      else if (e.present && !pair) openPort();
    }
    opts.onEvent?.(e);
  });

  try {
    openPort();
  } catch (err) {
    modem.stop();
    unsub();
    throw err;
  }
  const firstPath = pair!.path;

  return {
    get path() {
      return opts.link ?? (pair as PtyPair | null)?.path ?? firstPath;
    },
    modem,
    get portPresent() {
      return pair !== null;
    },
    powerCycle() {
      modem.powerCycle();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      unsub();
      modem.stop();
      closePort();
    },
  };
}

const USAGE = `usage: cellkeep simulate --pty PATH [--scenario NAME]... [--time-scale X] [--model BG96|BG77]
                         [--username U --password P]

Runs a virtual Quectel modem on a pseudo-terminal and prints the path to open.
Stops on SIGINT/SIGTERM. SIGUSR1 power-cycles the modem (the way out of "hang").

Scenarios (combine with several --scenario; parameters as NAME:VALUE or NAME:k=v,k=v):
${SCENARIO_NAMES.map((n) => `  ${n.padEnd(20)} ${SCENARIO_HELP[n]}`).join("\n")}
`;

interface SimulateArgs {
  pty: string;
  scenarios: string[];
  timeScale: number;
  model: "BG96" | "BG77";
  username?: string;
  password?: string;
  help: boolean;
}

function parseSimulateArgs(argv: readonly string[]): SimulateArgs {
  const a: SimulateArgs = { pty: "", scenarios: [], timeScale: 1, model: "BG96", help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      a.help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") ? (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)) : "";
    const value = (): string => {
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new CellkeepError("config-invalid", `--${name} needs a value`);
      return v;
    };
    switch (name) {
      case "pty":
        a.pty = value();
        break;
      case "scenario":
        a.scenarios.push(value());
        break;
      case "time-scale": {
        const v = value();
        a.timeScale = Number(v);
        if (!(a.timeScale > 0)) throw new CellkeepError("config-invalid", `--time-scale must be a number > 0, got "${v}"`);
        break;
      }
      case "model": {
        const v = value().toUpperCase();
        if (v !== "BG96" && v !== "BG77") throw new CellkeepError("config-invalid", `--model must be BG96 or BG77, got "${v}"`);
        a.model = v;
        break;
      }
      case "username":
        a.username = value();
        break;
      case "password":
        a.password = value();
        break;
      default:
        throw new CellkeepError("config-invalid", `unknown argument "${arg}"`);
    }
  }
  if (!a.help && a.pty === "") throw new CellkeepError("config-invalid", "--pty PATH is required");
  if ((a.username === undefined) !== (a.password === undefined)) throw new CellkeepError("config-invalid", "--username and --password go together");
  return a;
}

/** One readable line per event (no secrets: events never carry passwords or PINs). */
export function formatSimEvent(e: SimEvent): string {
  const t = new Date(e.at).toISOString().slice(11, 23);
  const { type, at: _at, ...rest } = e;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${t} ${type} ${fields}`;
}

/**
 * `cellkeep simulate`: returns the exit code (0 after SIGINT/SIGTERM, 2 on a
 * bad command line, 1 if the pty cannot be created). The first line on
 * stdout is the path to open; events go to stderr.
 */
export async function runSimulate(argv: string[]): Promise<number> {
  let args: SimulateArgs;
  try {
    args = parseSimulateArgs(argv);
    parseScenarios(args.scenarios);
  } catch (err) {
    process.stderr.write(`cellkeep simulate: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let handle: SimulatorHandle;
  try {
    handle = startSimulatorOnPty({
      link: args.pty,
      scenarios: args.scenarios.length > 0 ? args.scenarios : ["healthy"],
      timeScale: args.timeScale,
      behaviour: {
        model: args.model,
        ...(args.username !== undefined && args.password !== undefined ? { auth: { username: args.username, password: args.password } } : {}),
      },
      onEvent: (e) => process.stderr.write(`${formatSimEvent(e)}\n`),
    });
  } catch (err) {
    process.stderr.write(`cellkeep simulate: cannot create the pty at ${args.pty}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`${handle.path}\n`);
  process.stderr.write(
    `cellkeep simulate: virtual ${args.model} on ${handle.path} (scenarios: ${args.scenarios.join(", ") || "healthy"}; time scale ${args.timeScale}); SIGUSR1 power-cycles, Ctrl-C stops\n`,
  );
  return await new Promise<number>((resolve) => {
    const onUsr1 = () => handle.powerCycle();
    const finish = () => {
      process.off("SIGINT", finish);
      process.off("SIGTERM", finish);
      process.off("SIGUSR1", onUsr1);
      void handle.stop().then(() => resolve(0));
    };
    process.on("SIGINT", finish);
    process.on("SIGTERM", finish);
    process.on("SIGUSR1", onUsr1);
  });
}

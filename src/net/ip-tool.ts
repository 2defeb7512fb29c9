/**
 * Runs the `ip` command (iproute2, or busybox's applet) to configure the
 * interface. Why a command and not netlink: `ip` does IPv4 and IPv6
 * addresses, peer addresses, routes with metrics and namespaces with one
 * well-known syntax, its errors are readable, and both iproute2 and busybox
 * ship it on gateways. The runner is an interface so tests can record the
 * exact commands without root.
 */
import { CellkeepError } from "../core/cause.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  /** Run `argv` (argv[0] is the program); `input` goes to stdin. Never throws for a non-zero exit. */
  run(argv: string[], input?: string): Promise<CommandResult>;
  /** Absolute path of `program`, or null when it is not installed. */
  which(program: string): string | null;
}

/** Spawns real processes with Bun.spawn. */
export const systemRunner: CommandRunner = {
  async run(argv, input) {
    const proc = Bun.spawn(argv, {
      stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  },
  which(program) {
    return Bun.which(program) ?? (["/sbin", "/usr/sbin", "/bin", "/usr/bin"].map((d) => `${d}/${program}`).find((p) => Bun.file(p).size > 0) ?? null);
  },
};

export interface IpToolOptions {
  runner?: CommandRunner;
  /** Run every command inside this network namespace (`ip -n NS ...`); tests use it. */
  netns?: string;
}

/** `ip` with typed failures. */
export class IpTool {
  readonly runner: CommandRunner;
  readonly netns: string | undefined;
  private path: string | null = null;

  constructor(opts: IpToolOptions = {}) {
    this.runner = opts.runner ?? systemRunner;
    this.netns = opts.netns;
  }

  /** Find `ip` or throw the named cause ip-tool-missing. Call at start. */
  ensure(): string {
    if (this.path) return this.path;
    const p = this.runner.which("ip");
    if (!p) throw new CellkeepError("ip-tool-missing", "no `ip` command on PATH, /sbin or /usr/sbin (install iproute2 or busybox)");
    this.path = p;
    return p;
  }

  /** Run `ip ARGS`; returns the result (non-zero exits are returned, not thrown). */
  async exec(args: string[]): Promise<CommandResult> {
    const ip = this.ensure();
    const ns = this.netns ? ["-n", this.netns] : [];
    return this.runner.run([ip, ...ns, ...args]);
  }

  /** Run `ip ARGS` and throw a named cause on failure. */
  async must(args: string[]): Promise<string> {
    const r = await this.exec(args);
    if (r.code !== 0) throw ipFailure(args, r);
    return r.stdout;
  }
}

/** Map an `ip` failure to a cause: EPERM → permission-denied, anything else → tun-unavailable with the message. */
export function ipFailure(args: string[], r: CommandResult): CellkeepError {
  const msg = (r.stderr || r.stdout).trim().split("\n")[0] ?? "";
  if (/Operation not permitted|Permission denied/i.test(msg)) {
    return new CellkeepError("permission-denied", `ip ${args.join(" ")}: ${msg}`);
  }
  return new CellkeepError("tun-unavailable", `ip ${args.join(" ")} failed (exit ${r.code}): ${msg}`);
}

export interface DefaultRoute {
  dev: string | null;
  via: string | null;
  /** Kernel default metric is 0 when none is printed. */
  metric: number;
  /** The route as `ip route` printed it, to re-add it exactly. */
  spec: string[];
}

/** Parse `ip -4 route show default` output (one route per line). */
export function parseDefaultRoutes(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("default")) continue;
    const words = line.split(/\s+/);
    const field = (k: string): string | null => {
      const i = words.indexOf(k);
      return i >= 0 && i + 1 < words.length ? words[i + 1]! : null;
    };
    const metric = Number(field("metric") ?? "0");
    // `linkdown`, `dead`, `offload`... are flags ip prints but does not accept back.
    const spec: string[] = ["default"];
    for (const k of ["via", "dev", "proto", "metric", "src", "scope", "table"]) {
      const v = field(k);
      if (v !== null) spec.push(k, v);
    }
    out.push({ dev: field("dev"), via: field("via"), metric: Number.isFinite(metric) ? metric : 0, spec });
  }
  return out;
}

/**
 * Network-namespace test harness: unique namespace names, commands run inside
 * them, tracked child processes and root-namespace interfaces, and one
 * cleanup() that removes everything (call it in afterAll; it never throws).
 * Traffic stays between the namespaces a test creates.
 */
import * as fs from "node:fs";
import type { Subprocess } from "bun";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** true when this process can create namespaces and TUN devices (root + tools). */
export function canUseNetns(): boolean {
  return process.getuid?.() === 0 && fs.existsSync("/dev/net/tun") && Bun.which("ip") !== null;
}

let counter = 0;

/** A short unique name (interface names are limited to 15 bytes). */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}${(process.pid % 100000).toString(36)}${counter.toString(36)}${Math.floor(Math.random() * 36 * 36).toString(36)}`.slice(0, 15);
}

export async function run(argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn(argv, {
    stdin: opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export class NetnsHarness {
  readonly namespaces: string[] = [];
  private readonly procs = new Set<Subprocess>();
  private readonly links = new Set<string>();
  private readonly cleanups: Array<() => unknown> = [];

  /** Create a namespace with loopback up; returns its unique name. */
  async create(prefix = "ckns"): Promise<string> {
    const name = uniqueName(prefix);
    const r = await run(["ip", "netns", "add", name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.namespaces.push(name);
    await this.exec(name, ["ip", "link", "set", "lo", "up"]);
    return name;
  }

  /** Run a command inside `ns` and wait for it (killed after timeoutMs). */
  exec(ns: string, argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Start a long-running command inside `ns` (or the root namespace with ns = null); killed by cleanup(). */
  spawn(ns: string | null, argv: string[], opts: { stdout?: "pipe" | "ignore"; stderr?: "pipe" | "ignore"; env?: Record<string, string | undefined> } = {}): Subprocess<"ignore", "pipe" | "ignore", "pipe" | "ignore"> {
    const full = ns === null ? argv : ["ip", "netns", "exec", ns, ...argv];
    const proc = Bun.spawn(full, { stdin: "ignore", stdout: opts.stdout ?? "ignore", stderr: opts.stderr ?? "ignore", ...(opts.env ? { env: opts.env } : {}) });
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** Remember a root-namespace interface to delete in cleanup (if it still exists). */
  trackLink(name: string): void {
    this.links.add(name);
  }

  /** Extra cleanup step (closing fds, pty pairs...), run first, in reverse order. */
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  /** Remove everything; safe to call more than once; never throws. */
  async cleanup(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error("netns harness: cleanup step failed:", err);
      }
    }
    for (const p of this.procs) {
      try {
        p.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.all([...this.procs].map((p) => p.exited.catch(() => 0)));
    this.procs.clear();
    for (const l of this.links) await run(["ip", "link", "del", "dev", l]).catch(() => null);
    this.links.clear();
    for (const ns of this.namespaces.splice(0)) {
      // Kill anything still running in the namespace, then delete it.
      const pids = await run(["ip", "netns", "pids", ns]).catch(() => null);
      for (const pid of (pids?.stdout ?? "").split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // gone
        }
      }
      await run(["ip", "netns", "del", ns]).catch(() => null);
    }
  }
}

/** Does `ip -n ns ...` print anything matching? (for "address/route gone" assertions) */
export async function ipShow(ns: string | null, args: string[]): Promise<string> {
  const r = await run(ns === null ? ["ip", ...args] : ["ip", "-n", ns, ...args]);
  return r.stdout;
}

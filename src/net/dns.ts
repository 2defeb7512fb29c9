/**
 * DNS servers learned from IPCP (RFC 1877) handed to the system, per
 * link.dns: "none" leaves the system alone, "resolvconf" gives them to
 * `resolvconf -a <iface>` (removed with `resolvconf -d <iface>`), and any
 * other value is a file path where a resolv.conf fragment is written
 * atomically (temp file + rename) and removed on teardown.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CommandRunner } from "./ip-tool.ts";

export const DNS_MARKER = "# written by cellkeep";

export type DnsMode = { kind: "none" } | { kind: "resolvconf" } | { kind: "file"; path: string };

export function dnsMode(setting: string): DnsMode {
  if (setting === "none" || setting === "") return { kind: "none" };
  if (setting === "resolvconf") return { kind: "resolvconf" };
  return { kind: "file", path: setting };
}

export function resolvConfText(iface: string, servers: string[]): string {
  return `${DNS_MARKER} for ${iface}; removed when the link goes down\n${servers.map((s) => `nameserver ${s}\n`).join("")}`;
}

/** Write `text` to `file` so a reader sees the old or the new content, never half. */
export function writeAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.cellkeep-${process.pid}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

export interface DnsResult {
  applied: boolean;
  detail?: string;
}

export class DnsConfigurator {
  private applied = false;

  constructor(
    private readonly iface: string,
    private readonly mode: DnsMode,
    private readonly runner: CommandRunner,
  ) {}

  get isApplied(): boolean {
    return this.applied;
  }

  async apply(servers: string[]): Promise<DnsResult> {
    const list = servers.filter((s) => s && s !== "0.0.0.0");
    switch (this.mode.kind) {
      case "none":
        return { applied: false };
      case "resolvconf": {
        if (list.length === 0) return { applied: false, detail: "the peer gave no DNS servers" };
        const rc = this.runner.which("resolvconf");
        if (!rc) return { applied: false, detail: "link.dns = \"resolvconf\" but no resolvconf command is installed" };
        const r = await this.runner.run([rc, "-a", this.iface], resolvConfText(this.iface, list));
        if (r.code !== 0) return { applied: false, detail: `resolvconf -a ${this.iface} failed: ${r.stderr.trim()}` };
        this.applied = true;
        return { applied: true };
      }
      case "file": {
        if (list.length === 0) return { applied: false, detail: "the peer gave no DNS servers" };
        try {
          writeAtomic(this.mode.path, resolvConfText(this.iface, list));
        } catch (err) {
          return { applied: false, detail: `cannot write ${this.mode.path}: ${(err as Error).message}` };
        }
        this.applied = true;
        return { applied: true };
      }
    }
  }

  /** Undo apply(). `force` also removes leftovers of a crashed run (stale cleanup). */
  async remove(force = false): Promise<void> {
    if (!this.applied && !force) return;
    this.applied = false;
    switch (this.mode.kind) {
      case "none":
        return;
      case "resolvconf": {
        const rc = this.runner.which("resolvconf");
        if (rc) await this.runner.run([rc, "-d", this.iface]);
        return;
      }
      case "file": {
        try {
          // Only remove a file we wrote: never someone's hand-made resolv.conf.
          const text = fs.readFileSync(this.mode.path, "utf8");
          if (text.startsWith(DNS_MARKER)) fs.unlinkSync(this.mode.path);
        } catch {
          // not there
        }
        return;
      }
    }
  }
}

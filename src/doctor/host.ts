/**
 * What `cellkeep doctor` reads about the host, behind roots that tests point
 * at fake trees: /proc (processes, open files, capabilities), /sys (USB
 * devices, network interfaces, RTCs), /dev (device nodes), the lock directory,
 * /etc (users, groups, systemd units). Nothing here changes the host.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface HostRoots {
  proc: string;
  sys: string;
  dev: string;
  /** UUCP lock files (LCK..ttyUSB2). */
  lock: string;
  /** passwd, group, systemd/system. */
  etc: string;
  /** Where the package puts units (/lib/systemd/system). */
  unitDirs: readonly string[];
}

export const REAL_ROOTS: HostRoots = {
  proc: "/proc",
  sys: "/sys",
  dev: "/dev",
  lock: "/var/lock",
  etc: "/etc",
  unitDirs: ["/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"],
};

/** Who cellkeep runs as: the identity every permission is judged for. */
export interface RunUser {
  name: string;
  uid: number;
  gids: readonly number[];
  /** How the doctor chose it, for the report. */
  how: string;
}

export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4 && f[0] && !f[0].startsWith("#"))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }))
    .filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

export function parseGroups(text: string): GroupEntry[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 3 && f[0] && !f[0].startsWith("#"))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) }))
    .filter((g) => Number.isInteger(g.gid));
}

export class Host {
  private passwd: PasswdEntry[] | null = null;
  private groups: GroupEntry[] | null = null;

  constructor(
    readonly roots: HostRoots,
    /** Wall clock (ms); injected for the clock check. */
    readonly now: () => number = Date.now,
  ) {}

  /** A path under /dev ("/dev/ttyUSB0") in this host's device tree. */
  devPath(logical: string): string {
    return logical.startsWith("/dev/") ? path.join(this.roots.dev, logical.slice(5)) : logical;
  }

  users(): PasswdEntry[] {
    return (this.passwd ??= parsePasswd(readText(path.join(this.roots.etc, "passwd")) ?? ""));
  }

  groupList(): GroupEntry[] {
    return (this.groups ??= parseGroups(readText(path.join(this.roots.etc, "group")) ?? ""));
  }

  group(nameOrGid: string | number): GroupEntry | undefined {
    return this.groupList().find((g) => (typeof nameOrGid === "number" ? g.gid === nameOrGid : g.name === nameOrGid));
  }

  groupName(gid: number): string {
    return this.group(gid)?.name ?? String(gid);
  }

  userName(uid: number): string {
    return this.users().find((u) => u.uid === uid)?.name ?? String(uid);
  }

  /** A user from /etc/passwd with its primary and supplementary groups, as initgroups(3) would set them. */
  userByName(name: string, how: string): RunUser | null {
    const u = this.users().find((e) => e.name === name);
    if (!u) return null;
    const gids = [u.gid, ...this.groupList().filter((g) => g.members.includes(name) && g.gid !== u.gid).map((g) => g.gid)];
    return { name, uid: u.uid, gids, how };
  }

  /** This process (from /proc/self/status): real uid, groups, effective capabilities. */
  self(): { uid: number; gids: number[]; capEff: bigint } {
    const status = readText(path.join(this.roots.proc, "self/status")) ?? "";
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
    const uid = Number(field("Uid").split(/\s+/)[0] ?? NaN);
    const gid = Number(field("Gid").split(/\s+/)[0] ?? NaN);
    const groups = field("Groups").split(/\s+/).filter(Boolean).map(Number);
    const cap = field("CapEff");
    return {
      uid: Number.isInteger(uid) ? uid : (process.getuid?.() ?? 0),
      gids: [...new Set([gid, ...groups].filter(Number.isInteger))],
      capEff: /^[0-9a-f]+$/i.test(cap) ? BigInt(`0x${cap}`) : 0n,
    };
  }

  /** Running processes: pid and command name. */
  processes(): Array<{ pid: number; comm: string }> {
    return listDir(this.roots.proc)
      .filter((d) => /^\d+$/.test(d))
      .map((d) => ({ pid: Number(d), comm: (readText(path.join(this.roots.proc, d, "comm")) ?? "").trim() }));
  }

  /** Processes that have `devicePath` ("/dev/ttyUSB2") open, found through /proc/<pid>/fd. */
  holders(devicePath: string): Array<{ pid: number; comm: string }> {
    const out: Array<{ pid: number; comm: string }> = [];
    for (const p of this.processes()) {
      const fdDir = path.join(this.roots.proc, String(p.pid), "fd");
      for (const fd of listDir(fdDir)) {
        let target: string;
        try {
          target = fs.readlinkSync(path.join(fdDir, fd));
        } catch {
          continue;
        }
        if (target === devicePath) {
          out.push(p);
          break;
        }
      }
    }
    return out;
  }

  /** The unit file systemd would load for `name`, and its drop-ins, in the order systemd applies them. */
  unitFiles(name: string): string[] {
    const main = this.roots.unitDirs.map((d) => path.join(d, name)).find((f) => lstatOrNull(f)?.isFile());
    if (!main) return [];
    const dropIns = this.roots.unitDirs
      .flatMap((d) => listDir(path.join(d, `${name}.d`)).filter((f) => f.endsWith(".conf")).map((f) => path.join(d, `${name}.d`, f)))
      .sort((a, b) => path.basename(a).localeCompare(path.basename(b)));
    return [main, ...dropIns];
  }
}

/**
 * Can `user` open a file with this stat for reading (and writing)? The
 * kernel's owner → group → other order; root passes (CAP_DAC_OVERRIDE).
 */
export function canAccess(stat: { mode: number; uid: number; gid: number }, user: Pick<RunUser, "uid" | "gids">, want: "r" | "rw" | "wx"): boolean {
  if (user.uid === 0) return true;
  const bits = want === "r" ? 4 : want === "rw" ? 6 : 3;
  const shift = stat.uid === user.uid ? 6 : user.gids.includes(stat.gid) ? 3 : 0;
  return ((stat.mode >> shift) & bits) === bits;
}

export const CAP_NET_ADMIN = 12n;

/** The last value of `key=` across unit files (an empty assignment resets a list). */
export function unitSetting(texts: readonly string[], key: string): string[] {
  let values: string[] = [];
  for (const text of texts) {
    for (const line of text.split("\n")) {
      const m = new RegExp(`^\\s*${key}\\s*=\\s*(.*)$`).exec(line);
      if (!m) continue;
      const v = m[1]!.trim();
      if (v === "") values = [];
      else values.push(v);
    }
  }
  return values;
}

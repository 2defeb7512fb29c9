/**
 * UUCP-style lock files (the HDB/FHS convention pppd, minicom, ModemManager's
 * helpers and uucp all follow): `/var/lock/LCK..<device>` holds the owner's
 * PID as ten ASCII characters, right-aligned, then a newline ("%10d\n").
 *
 * - The name is the device's basename after resolving symlinks, with any
 *   further '/' below /dev turned into '_' (as pppd does: /dev/pts/3 →
 *   LCK..pts_3), so a symlink and its target share one lock.
 * - Creation is atomic: write a temp file, then link(2) it to the lock name;
 *   link fails with EEXIST if someone else holds it.
 * - A lock whose PID is not alive (kill(pid, 0) → ESRCH), or whose content is
 *   not a PID, is stale: it is removed and creation retried.
 * - A lock held by a live process is refused with cause `port-locked` naming
 *   that PID.
 * - If the lock directory does not exist or is not writable (containers,
 *   unprivileged runs) locking is skipped and the returned lock says why:
 *   TIOCEXCL still guards the port.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CellkeepError } from "../core/cause.ts";

export const DEFAULT_LOCK_DIR = "/var/lock";

export class PortLockedError extends CellkeepError {
  constructor(
    readonly devicePath: string,
    readonly pid: number,
    readonly lockPath: string,
  ) {
    super("port-locked", `${devicePath} is locked by PID ${pid} (${lockPath})`);
    this.name = "PortLockedError";
  }
}

export interface PortLock {
  /** The lock file we created, or null when locking was skipped. */
  readonly lockPath: string | null;
  /** Why locking was skipped (missing/unwritable lock dir). */
  readonly skipped?: string;
  /** Remove the lock file if it is still ours. Safe to call twice. */
  release(): void;
}

/** "LCK..ttyUSB2" for /dev/ttyUSB2 (after resolving symlinks). */
export function lockNameFor(devicePath: string): string {
  let real = devicePath;
  try {
    real = fs.realpathSync(devicePath);
  } catch {
    // A missing node still gets a deterministic name from the given path.
  }
  const rel = real.startsWith("/dev/") ? real.slice(5) : path.basename(real);
  return `LCK..${rel.replace(/\//g, "_")}`;
}

/** Format a PID the HDB way: 10 characters right-aligned plus newline. */
export function formatLockPid(pid: number): string {
  return `${String(pid).padStart(10, " ")}\n`;
}

/** Parse a lock file's content; accepts HDB ASCII and the old 4-byte binary form. */
export function parseLockPid(content: Buffer): number | null {
  const text = content.toString("latin1").trim();
  if (/^\d+$/.test(text)) {
    const pid = Number(text);
    return pid > 0 ? pid : null;
  }
  if (content.length === 4) {
    const pid = content.readInt32LE(0);
    return pid > 0 ? pid : null;
  }
  return null;
}

/** True if a process with this PID exists (EPERM means it exists but is not ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface LockOptions {
  lockDir?: string;
  /** The PID to write (tests use it to fake another owner). */
  pid?: number;
  /** Liveness check, injectable for tests. */
  isAlive?: (pid: number) => boolean;
  /** Called when a stale lock was removed (for an event/log line). */
  onStale?: (info: { lockPath: string; pid: number | null }) => void;
}

/** Take the UUCP lock for `devicePath`, or throw PortLockedError. */
export function acquirePortLock(devicePath: string, opts: LockOptions = {}): PortLock {
  const dir = opts.lockDir ?? DEFAULT_LOCK_DIR;
  const pid = opts.pid ?? process.pid;
  const isAlive = opts.isAlive ?? isProcessAlive;
  const lockPath = path.join(dir, lockNameFor(devicePath));

  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    return skipped(`lock dir ${dir} unusable (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }

  const tmp = path.join(dir, `.LTMP.${pid}.${Math.random().toString(36).slice(2, 8)}`);
  try {
    fs.writeFileSync(tmp, formatLockPid(pid), { mode: 0o644 });
  } catch (err) {
    return skipped(`cannot write in ${dir} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  try {
    // Two rounds: the second follows the removal of a stale lock.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, lockPath);
        return held(lockPath, pid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          return skipped(`cannot create ${lockPath} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
        }
      }
      let owner: number | null;
      try {
        owner = parseLockPid(fs.readFileSync(lockPath));
      } catch {
        continue; // vanished between link and read: retry
      }
      if (owner !== null && isAlive(owner)) throw new PortLockedError(devicePath, owner, lockPath);
      try {
        fs.unlinkSync(lockPath);
      } catch {
        // someone else removed it first; retry the link
      }
      opts.onStale?.({ lockPath, pid: owner });
    }
    throw new PortLockedError(devicePath, -1, lockPath);
  } finally {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

function skipped(reason: string): PortLock {
  return { lockPath: null, skipped: reason, release() {} };
}

function held(lockPath: string, pid: number): PortLock {
  let released = false;
  return {
    lockPath,
    release() {
      if (released) return;
      released = true;
      try {
        // Only remove it if it still names us (never delete another owner's lock).
        if (parseLockPid(fs.readFileSync(lockPath)) === pid) fs.unlinkSync(lockPath);
      } catch {
        // gone already
      }
    },
  };
}

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CellkeepError } from "../../src/core/cause.ts";
import {
  acquirePortLock,
  formatLockPid,
  isProcessAlive,
  lockNameFor,
  parseLockPid,
  PortLockedError,
} from "../../src/serial/lockfile.ts";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-lck-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A PID no process can have: the kernel hands out PIDs below
 * /proc/sys/kernel/pid_max, so pid_max + 1 is never alive (a reaped child's
 * PID could be reused by the time the lock is checked).
 */
function deadPid(): number {
  const pidMax = Number(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
  expect(Number.isInteger(pidMax) && pidMax > 1).toBe(true);
  return pidMax + 1;
}

describe("lock file names and format", () => {
  test("LCK..<basename> for /dev/ttyUSB2, pts/N with '/' → '_', symlinks resolved", () => {
    expect(lockNameFor("/dev/ttyUSB2")).toBe("LCK..ttyUSB2");
    expect(lockNameFor("/dev/pts/7")).toBe("LCK..pts_7");
    const link = path.join(dir, "modem");
    fs.symlinkSync("/dev/null", link);
    expect(lockNameFor(link)).toBe("LCK..null");
  });

  test("HDB format: PID in 10 ASCII characters right-aligned, then newline", () => {
    expect(formatLockPid(1234)).toBe("      1234\n");
    expect(formatLockPid(1234).length).toBe(11);
    expect(parseLockPid(Buffer.from("      1234\n"))).toBe(1234);
    expect(parseLockPid(Buffer.from("1234"))).toBe(1234);
    const bin = Buffer.alloc(4);
    bin.writeInt32LE(4321);
    expect(parseLockPid(bin)).toBe(4321);
    expect(parseLockPid(Buffer.from("garbage\n"))).toBeNull();
    expect(parseLockPid(Buffer.from("0\n"))).toBeNull();
  });
});

describe("acquirePortLock", () => {
  test("creates the lock with our PID and removes it on release", () => {
    const lock = acquirePortLock("/dev/ttyUSB2", { lockDir: dir });
    expect(lock.lockPath).toBe(path.join(dir, "LCK..ttyUSB2"));
    expect(fs.readFileSync(lock.lockPath!, "utf8")).toBe(formatLockPid(process.pid));
    // No temp files left behind.
    expect(fs.readdirSync(dir)).toEqual(["LCK..ttyUSB2"]);
    lock.release();
    expect(fs.existsSync(lock.lockPath!)).toBe(false);
    lock.release();
  });

  test("a stale lock of a dead PID is removed and taken over", () => {
    const pid = deadPid();
    expect(isProcessAlive(pid)).toBe(false);
    fs.writeFileSync(path.join(dir, "LCK..ttyUSB2"), formatLockPid(pid));
    const stale: Array<{ pid: number | null }> = [];
    const lock = acquirePortLock("/dev/ttyUSB2", { lockDir: dir, onStale: (s) => stale.push(s) });
    expect(stale).toEqual([{ lockPath: path.join(dir, "LCK..ttyUSB2"), pid }] as never);
    expect(fs.readFileSync(lock.lockPath!, "utf8")).toBe(formatLockPid(process.pid));
    lock.release();
  });

  test("a lock file with garbage content is stale", () => {
    fs.writeFileSync(path.join(dir, "LCK..ttyUSB2"), "not a pid\n");
    const lock = acquirePortLock("/dev/ttyUSB2", { lockDir: dir });
    expect(lock.lockPath).not.toBeNull();
    lock.release();
  });

  test("a live lock is refused with port-locked naming the PID, and left in place", () => {
    const child = Bun.spawn(["sleep", "30"]);
    try {
      const lockPath = path.join(dir, "LCK..ttyUSB2");
      fs.writeFileSync(lockPath, formatLockPid(child.pid));
      let err: unknown = null;
      try {
        acquirePortLock("/dev/ttyUSB2", { lockDir: dir });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PortLockedError);
      expect(err).toBeInstanceOf(CellkeepError);
      const locked = err as PortLockedError;
      expect(locked.pid).toBe(child.pid);
      expect(locked.causeInfo.code).toBe("port-locked");
      expect(locked.message).toContain(`PID ${child.pid}`);
      expect(locked.lockPath).toBe(lockPath);
      expect(fs.readFileSync(lockPath, "utf8")).toBe(formatLockPid(child.pid));
      expect(fs.readdirSync(dir)).toEqual(["LCK..ttyUSB2"]);
    } finally {
      child.kill();
    }
  });

  test("release never removes a lock that another process took over", () => {
    const lock = acquirePortLock("/dev/ttyUSB3", { lockDir: dir });
    fs.writeFileSync(lock.lockPath!, formatLockPid(1));
    lock.release();
    expect(fs.readFileSync(path.join(dir, "LCK..ttyUSB3"), "utf8")).toBe(formatLockPid(1));
  });

  test("a missing lock directory skips locking with a reason", () => {
    const lock = acquirePortLock("/dev/ttyUSB2", { lockDir: path.join(dir, "nope") });
    expect(lock.lockPath).toBeNull();
    expect(lock.skipped).toContain("nope");
  });
});

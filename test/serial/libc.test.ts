import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CAUSE_HINTS, CellkeepError } from "../../src/core/cause.ts";
import * as libc from "../../src/sys/libc.ts";
import { waitFor } from "./helpers.ts";

describe("src/sys/libc.ts", () => {
  test("loads the C library under one of the portable names", () => {
    expect(libc.LIBC_NAMES as readonly string[]).toContain(libc.libcName());
  });

  test("no loadable C library: CellkeepError platform-unsupported with its hint, naming each name tried", () => {
    let err: unknown = null;
    try {
      libc.openLibc(["libcellkeep-absent.so.9", "libcellkeep-absent-too.so"]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CellkeepError);
    const info = (err as CellkeepError).causeInfo;
    expect(info.code).toBe("platform-unsupported");
    expect(info.hint).toBe(CAUSE_HINTS["platform-unsupported"]);
    expect(info.detail).toContain("libcellkeep-absent.so.9");
    expect(info.detail).toContain("libcellkeep-absent-too.so");
  });

  test("eventfd: a non-blocking counter fd (the FdWriter's wake-up)", () => {
    const fd = libc.check(libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK), "eventfd");
    try {
      const buf = new Uint8Array(8);
      // Counter at 0 and O_NONBLOCK: read fails with EAGAIN instead of waiting.
      expect(libc.read(fd, buf)).toBe(-1);
      expect(libc.errno()).toBe(libc.ERRNO.EAGAIN);
      buf[0] = 3;
      expect(libc.write(fd, buf)).toBe(8);
      const out = new Uint8Array(8);
      expect(libc.read(fd, out)).toBe(8);
      expect(out[0]).toBe(3);
    } finally {
      libc.close(fd);
    }
  });

  test("errno() reads the failing call's errno; SysError names call, code and message", () => {
    expect(libc.close(987654)).toBe(-1);
    expect(libc.errno()).toBe(libc.ERRNO.EBADF);
    expect(libc.errnoName(libc.ERRNO.ENOTTY)).toBe("ENOTTY");
    expect(libc.errnoName(200)).toBe("E200");
    let err: libc.SysError | null = null;
    try {
      libc.check(libc.open("/nonexistent/x", libc.O.RDONLY), "open", "/nonexistent/x");
    } catch (e) {
      err = e as libc.SysError;
    }
    expect(err).toBeInstanceOf(libc.SysError);
    expect(err!.code).toBe("ENOENT");
    expect(err!.errno).toBe(2);
    expect(err!.syscall).toBe("open");
    expect(err!.message).toBe("open /nonexistent/x: ENOENT (No such file or directory)");
  });

  test("open/read/write/fcntl on a pipe-like fd (the pty master)", () => {
    const m = libc.check(libc.posix_openpt(libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "posix_openpt");
    try {
      const fl = libc.fcntl(m, libc.F.GETFL);
      expect(fl & libc.O.NONBLOCK).toBe(libc.O.NONBLOCK);
      expect(libc.grantpt(m)).toBe(0);
      expect(libc.unlockpt(m)).toBe(0);
      expect(libc.ptsname(m)).toMatch(/^\/dev\/pts\/\d+$/);
      // Nothing to read yet: -1/EAGAIN, not a block.
      expect(libc.read(m, new Uint8Array(8))).toBe(-1);
      expect(libc.errno()).toBe(libc.ERRNO.EAGAIN);
      // tcflush/tcdrain on the master act on the pty.
      expect(libc.tcflush(m, 2)).toBe(0);
    } finally {
      libc.close(m);
    }
  });

  test("socket + sendto on AF_UNIX datagrams (the sd_notify path) reaches a receiver", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-sock-"));
    const sockPath = path.join(dir, "notify.sock");
    const out = path.join(dir, "out");
    const rx = Bun.spawn(["socat", "-u", `UNIX-RECV:${sockPath}`, `OPEN:${out},creat`]);
    const fd = libc.check(libc.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */, 0), "socket");
    try {
      await waitFor(() => fs.existsSync(sockPath), "socat socket");
      // sockaddr_un: u16 family, then the path, NUL-terminated; addrlen = 2 + len + 1.
      const addr = Buffer.alloc(110);
      addr.writeUInt16LE(1, 0);
      addr.write(sockPath, 2);
      const msg = Buffer.from("READY=1");
      expect(libc.sendto(fd, msg, 0, addr, 2 + Buffer.byteLength(sockPath) + 1)).toBe(msg.length);
      await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, "utf8") === "READY=1", "datagram at receiver");
      // A path nobody listens on: -1 with ENOENT.
      const nowhere = Buffer.alloc(110);
      nowhere.writeUInt16LE(1, 0);
      nowhere.write(path.join(dir, "none.sock"), 2);
      expect(libc.sendto(fd, msg, 0, nowhere, 2 + Buffer.byteLength(path.join(dir, "none.sock")) + 1)).toBe(-1);
      expect(libc.errnoName(libc.errno())).toBe("ENOENT");
    } finally {
      libc.close(fd);
      rx.kill();
      await rx.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

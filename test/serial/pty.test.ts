import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as libc from "../../src/sys/libc.ts";
import { openPtyPair, openSlaveFd, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";
import { getLflag, LFLAG } from "../../src/serial/termios.ts";
import { collect, waitFor } from "./helpers.ts";

const pairs: PtyPair[] = [];
const fds: number[] = [];
afterEach(() => {
  for (const p of pairs.splice(0)) p.close();
  for (const fd of fds.splice(0)) libc.close(fd);
});

function openSlave(p: string): number {
  const fd = libc.check(libc.open(p, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open", p);
  fds.push(fd);
  return fd;
}

describe("openPtyPair", () => {
  test("gives a /dev/pts slave in raw mode", () => {
    const pair = openPtyPair();
    pairs.push(pair);
    expect(pair.slavePath).toMatch(/^\/dev\/pts\/\d+$/);
    expect(pair.path).toBe(pair.slavePath);
    const fd = openSlave(pair.slavePath);
    const lflag = getLflag(fd);
    expect(lflag & LFLAG.ICANON).toBe(0);
    expect(lflag & LFLAG.ECHO).toBe(0);
    expect(lflag & LFLAG.ISIG).toBe(0);
  });

  test("creates a symlink and removes it on close", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-pty-"));
    try {
      const link = path.join(dir, "modem");
      const pair = openPtyPair({ link });
      expect(fs.readlinkSync(link)).toBe(pair.slavePath);
      expect(pair.path).toBe(link);
      // A second pair may take over the same link name.
      const pair2 = openPtyPair({ link });
      expect(fs.readlinkSync(link)).toBe(pair2.slavePath);
      pair.close(); // must not remove the link that now points to pair2
      expect(fs.readlinkSync(link)).toBe(pair2.slavePath);
      pair2.close();
      expect(fs.existsSync(link)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("refuses to replace a regular file with the link", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-pty-"));
    try {
      const file = path.join(dir, "modem");
      fs.writeFileSync(file, "x");
      expect(() => openPtyPair({ link: file })).toThrow(/not a symlink/);
      expect(fs.readFileSync(file, "utf8")).toBe("x");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("raw mode keeps bytes intact (no CR/LF mapping, no echo)", async () => {
    const pair = openPtyPair();
    pairs.push(pair);
    const fd = openSlave(pair.slavePath);
    const master = ptyMasterPipe(pair);
    const got = collect(master);
    const all = new Uint8Array(256).map((_, i) => i);
    expect(libc.write(fd, all)).toBe(256);
    await waitFor(() => got.length() >= 256);
    expect(got.bytes()).toEqual(all);
  });
});

describe("ptyMasterPipe", () => {
  test("survives the client closing and reopening the slave (holdSlave)", async () => {
    const pair = openPtyPair();
    pairs.push(pair);
    const master = ptyMasterPipe(pair);
    expect(ptyMasterPipe(pair)).toBe(master);
    const got = collect(master);
    const a = openSlave(pair.slavePath);
    libc.write(a, new TextEncoder().encode("one"));
    await waitFor(() => got.text() === "one");
    libc.close(fds.pop()!);
    await Bun.sleep(20);
    expect(master.isOpen).toBe(true);
    const b = openSlave(pair.slavePath);
    libc.write(b, new TextEncoder().encode("two"));
    await waitFor(() => got.text() === "onetwo");
  });

  test("without holdSlave, the slave hanging up closes the master pipe with port-vanished", async () => {
    const pair = openPtyPair({ holdSlave: false });
    pairs.push(pair);
    const a = openSlave(pair.slavePath);
    const master = ptyMasterPipe(pair);
    let reason: unknown = "none";
    master.onClose((r) => (reason = r));
    libc.close(fds.pop()!);
    void a;
    await waitFor(() => reason !== "none");
    expect((reason as { code: string }).code).toBe("port-vanished");
    expect(master.isOpen).toBe(false);
  });

  test("pair.close() closes the master pipe with a null reason and the slave reads EOF", async () => {
    const pair = openPtyPair();
    pairs.push(pair);
    const fd = openSlave(pair.slavePath);
    const master = ptyMasterPipe(pair);
    let reason: unknown = "none";
    master.onClose((r) => (reason = r));
    pair.close();
    await waitFor(() => reason !== "none");
    expect(reason).toBeNull();
    // After the master closes, the slave's read returns 0 (hang-up) or EIO.
    const buf = new Uint8Array(8);
    await waitFor(() => {
      const n = libc.read(fd, buf);
      return n === 0 || (n < 0 && libc.errno() === libc.ERRNO.EIO);
    });
  });
});

describe("openSlaveFd", () => {
  test("a child process on the slave (cat as a stand-in for slirp) echoes bytes back to the master pipe", async () => {
    const pair = openPtyPair();
    pairs.push(pair);
    const fd = openSlaveFd(pair);
    expect(libc.fcntl(fd, libc.F.GETFL) & libc.O.NONBLOCK).toBe(0);
    const child = Bun.spawn(["cat"], { stdin: fd, stdout: fd, stderr: "ignore" });
    libc.close(fd);
    try {
      const master = ptyMasterPipe(pair);
      const got = collect(master);
      const payload = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
      master.write(payload);
      await waitFor(() => got.length() >= payload.length, "echo");
      expect(got.bytes()).toEqual(payload);
    } finally {
      child.kill();
      await child.exited;
    }
  });
});

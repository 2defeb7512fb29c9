import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SerialPortStream } from "@serialport/stream";
import { CellkeepError } from "../../src/core/cause.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { BunSerialBinding, BunSerialPort, portOpenFailure, SerialPortError } from "../../src/serial/binding.ts";
import { LinesNotSupportedError } from "../../src/serial/lines.ts";
import { openSerialPipe, SerialPipe } from "../../src/serial/port.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";
import { CFLAG, getCflag } from "../../src/serial/termios.ts";
import * as libc from "../../src/sys/libc.ts";
import { collect, patternBytes, waitFor } from "./helpers.ts";

let lockDir: string;
const cleanups: Array<() => unknown> = [];
beforeAll(() => {
  lockDir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-lock-"));
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
afterAll(() => {
  fs.rmSync(lockDir, { recursive: true, force: true });
});

/** asm-generic TIOCINQ: bytes in a tty's input queue. */
const FIONREAD = 0x541b;

function pty(): PtyPair {
  const pair = openPtyPair();
  cleanups.push(() => pair.close());
  return pair;
}
async function serial(p: string, opts: Parameters<typeof openSerialPipe>[1] = {}): Promise<SerialPipe> {
  const pipe = await openSerialPipe(p, { lockDir, ...opts });
  cleanups.push(() => pipe.close());
  return pipe;
}
async function rawPort(p: string, baudRate = 115200, extra: Record<string, unknown> = {}): Promise<BunSerialPort> {
  const port = await new BunSerialBinding({ lockDir }).open({ path: p, baudRate, ...extra });
  cleanups.push(() => port.close());
  return port;
}
function closeReason(pipe: BytePipe): () => unknown {
  let reason: unknown = "open";
  pipe.onClose((r) => (reason = r));
  return () => reason;
}

describe("SerialPipe write backlog (paces the packet pump)", () => {
  test("bytes the tty has not taken yet show as backlog; drain fires once the other side reads", async () => {
    const pair = pty();
    const port = await serial(pair.slavePath);
    expect(port.backlogBytes()).toBe(0);
    let drained = 0;
    port.onDrain(() => drained++);
    const data = patternBytes(512 * 1024);
    port.write(data);
    // Nobody reads the master yet: the kernel's pty buffer is a few KiB, so most of it waits in the port's writer.
    await waitFor(() => port.backlogBytes() > 0, "backlog while the modem side is not reading");
    expect(port.backlogBytes()).toBeLessThanOrEqual(data.length);
    const atModem = collect(ptyMasterPipe(pair));
    await waitFor(() => atModem.length() === data.length, "all bytes at the modem");
    await waitFor(() => drained > 0 && port.backlogBytes() === 0, "drain and an empty backlog");
    expect(Buffer.compare(Buffer.from(atModem.bytes()), Buffer.from(data))).toBe(0);
  });
});

/** A binding that keeps the port it opened, so a test can look at what SerialPipe did with it. */
class KeepingBinding extends BunSerialBinding {
  port: BunSerialPort | null = null;
  override async open(options: Parameters<BunSerialBinding["open"]>[0]): Promise<BunSerialPort> {
    this.port = await super.open(options);
    return this.port;
  }
}

describe("SerialPipe over a real pty", () => {
  test("data bypasses SerialPortStream: the port's reader belongs to the pipe (read() refused), bytes flow both ways", async () => {
    const pair = pty();
    const binding = new KeepingBinding({ lockDir });
    const port = await serial(pair.slavePath, { binding });
    // Reads go from the port's reader straight to the pipe: the stream's read path is closed.
    await expect(binding.port!.read(Buffer.alloc(8), 0, 8)).rejects.toThrow(/data path/);
    const modem = ptyMasterPipe(pair);
    const atModem = collect(modem);
    const atHost = collect(port);
    const cmd = new TextEncoder().encode("ATI\r");
    port.write(cmd);
    // The port copied the bytes: the caller may reuse its buffer at once.
    cmd.fill(0x58);
    modem.write(new TextEncoder().encode("Quectel\r\nOK\r\n"));
    await waitFor(() => atModem.text() === "ATI\r" && atHost.text() === "Quectel\r\nOK\r\n", "both directions");
    expect(port.stats).toMatchObject({ bytesOut: 4, bytesIn: 13, droppedWrites: 0 });
  });

  test("bytes flow in both directions", async () => {
    const pair = pty();
    const port = await serial(pair.slavePath);
    const modem = ptyMasterPipe(pair);
    const atModem = collect(modem);
    const atHost = collect(port);
    port.write(new TextEncoder().encode("AT\r"));
    await waitFor(() => atModem.text() === "AT\r", "AT at the modem");
    modem.write(new TextEncoder().encode("\r\nOK\r\n"));
    await waitFor(() => atHost.text() === "\r\nOK\r\n", "OK at the host");
    expect(port.stats.bytesOut).toBe(3);
    expect(port.stats.bytesIn).toBe(6);
  });

  test("1 MB each way arrives complete and in order", async () => {
    const pair = pty();
    const port = await serial(pair.slavePath);
    const modem = ptyMasterPipe(pair);
    const toModem = patternBytes(1 << 20, 1);
    const toHost = patternBytes(1 << 20, 2);
    const atModem = collect(modem);
    const atHost = collect(port);
    // Many writes of odd sizes, both directions at once.
    for (let off = 0; off < toModem.length; off += 4093) {
      port.write(toModem.subarray(off, Math.min(off + 4093, toModem.length)));
      modem.write(toHost.subarray(off, Math.min(off + 4093, toHost.length)));
    }
    await waitFor(() => atModem.length() >= toModem.length && atHost.length() >= toHost.length, "1 MB", 20000);
    expect(atModem.length()).toBe(toModem.length);
    expect(atHost.length()).toBe(toHost.length);
    expect(Buffer.compare(atModem.bytes(), toModem)).toBe(0);
    expect(Buffer.compare(atHost.bytes(), toHost)).toBe(0);
  }, 30000);

  test("DTR/RTS on a pty: the kernel answers ENOTTY, reported as LinesNotSupportedError, port stays usable", async () => {
    const pair = pty();
    const port = await serial(pair.slavePath);
    const err = await port.setLines({ dtr: false, rts: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LinesNotSupportedError);
    expect((err as LinesNotSupportedError).code).toBe("ENOTTY");
    expect((err as LinesNotSupportedError).notSupported).toBe(true);
    const err2 = await port.getLines().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err2).toBeInstanceOf(LinesNotSupportedError);
    expect(port.isOpen).toBe(true);
    const modem = ptyMasterPipe(pair);
    const got = collect(modem);
    port.write(new Uint8Array([1, 2, 3]));
    await waitFor(() => got.length() === 3);
  });

  test("closing the modem side makes the pipe close with port-vanished, and writes after it are dropped", async () => {
    const pair = openPtyPair();
    const port = await serial(pair.slavePath);
    const reason = closeReason(port);
    let thrown: unknown = null;
    const onErr = (e: unknown) => (thrown = e);
    process.on("uncaughtException", onErr);
    try {
      pair.close();
      await waitFor(() => reason() !== "open", "close event");
      const r = reason() as { code: string; detail: string; hint: string };
      expect(r.code).toBe("port-vanished");
      expect(r.detail).toContain(pair.slavePath);
      expect(r.hint.length).toBeGreaterThan(10);
      expect(port.isOpen).toBe(false);
      port.write(new Uint8Array([1]));
      expect(port.stats.droppedWrites).toBe(1);
      // The lock file is released with the port.
      expect(port.lockPath === null || !fs.existsSync(port.lockPath)).toBe(true);
      await Bun.sleep(20);
      expect(thrown).toBeNull();
    } finally {
      process.off("uncaughtException", onErr);
    }
  });

  test("a vanish while writing a large burst still ends in port-vanished without an escaped error", async () => {
    const pair = openPtyPair();
    const port = await serial(pair.slavePath);
    const reason = closeReason(port);
    for (let i = 0; i < 64; i++) port.write(patternBytes(16384, i + 1));
    pair.close();
    await waitFor(() => reason() !== "open", "close event");
    expect((reason() as { code: string }).code).toBe("port-vanished");
  });

  test("close() by request reports a null reason and releases the lock file", async () => {
    const pair = pty();
    const port = await openSerialPipe(pair.slavePath, { lockDir });
    const lockPath = port.lockPath;
    expect(lockPath).not.toBeNull();
    expect(fs.readFileSync(lockPath!, "utf8")).toBe(`${String(process.pid).padStart(10)}\n`);
    const reason = closeReason(port);
    await port.close();
    expect(reason()).toBeNull();
    expect(fs.existsSync(lockPath!)).toBe(false);
    await port.close(); // idempotent
    // Control calls on a closed pipe fail at once (never hang waiting for 'open').
    await expect(port.drain()).rejects.toMatchObject({ causeInfo: { code: "port-vanished" } });
    await expect(port.setLines({ dtr: true })).rejects.toMatchObject({ causeInfo: { code: "port-vanished" } });
  });

  test("a second open of a locked port fails with port-locked naming our PID", async () => {
    const pair = pty();
    await serial(pair.slavePath);
    const err = await openSerialPipe(pair.slavePath, { lockDir }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CellkeepError);
    expect((err as CellkeepError).causeInfo.code).toBe("port-locked");
    expect((err as CellkeepError).message).toContain(`PID ${process.pid}`);
  });

  test("open errors carry cause codes", async () => {
    const missing = await openSerialPipe("/dev/ttyDOESNOTEXIST9", { lockDir }).then(
      () => null,
      (e: unknown) => e as CellkeepError,
    );
    expect(missing?.causeInfo.code).toBe("port-not-found");
    // /dev/null is not a tty: tcgetattr fails with ENOTTY.
    const notTty = await openSerialPipe("/dev/null", { lockDir, lock: false }).then(
      () => null,
      (e: unknown) => e as CellkeepError,
    );
    expect(notTty?.causeInfo.code).toBe("port-open-failed");
    expect(notTty?.message).toContain("ENOTTY");
    const pair = pty();
    const badRate = await openSerialPipe(pair.slavePath, { lockDir, baudRate: 12345 }).then(
      () => null,
      (e: unknown) => e as CellkeepError,
    );
    expect(badRate?.causeInfo.code).toBe("port-open-failed");
    expect(badRate?.message).toContain("12345");
    // A failed open leaves no lock file behind.
    expect(fs.readdirSync(lockDir)).toEqual([]);
  });

  test("baud rates 9600..921600 and high rates are set and read back; setBaudRate changes it", async () => {
    const pair = pty();
    const port = await serial(pair.slavePath, { baudRate: 9600 });
    expect(await port.getBaudRate()).toBe(9600);
    for (const rate of [19200, 57600, 115200, 230400, 460800, 921600, 1000000, 3000000, 4000000]) {
      await port.setBaudRate(rate);
      expect(await port.getBaudRate()).toBe(rate);
    }
    await expect(port.setBaudRate(123456)).rejects.toThrow(/unsupported baud rate/);
    expect(await port.getBaudRate()).toBe(4000000);
  });

  test("flush discards unread input; drain resolves", async () => {
    const pair = pty();
    // A second fd on the same tty, opened before the port takes it exclusively: only for FIONREAD (bytes waiting to be read).
    const probe = libc.check(libc.open(pair.slavePath, libc.O.RDONLY | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open", pair.slavePath);
    cleanups.push(() => libc.close(probe));
    const unread = () => {
      const n = new Int32Array(1);
      libc.check(libc.ioctl(probe, FIONREAD, new Uint8Array(n.buffer)), "ioctl(FIONREAD)");
      return n[0]!;
    };
    const port = await serial(pair.slavePath);
    const modem = ptyMasterPipe(pair);
    const got = collect(port);
    // The port reads: "ready" arrives, and its read loop waits for more.
    modem.write(new TextEncoder().encode("ready"));
    await waitFor(() => got.text() === "ready", "ready");
    port.write(new Uint8Array(1000));
    await port.drain();
    // Input the port has not read yet: written into the tty and waited for without yielding to the
    // event loop (the kernel moves pty bytes on its own), so the port's reader cannot take it first.
    fs.writeSync(pair.masterFd, "UNREAD");
    const block = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 5_000 && unread() < 6; i++) Atomics.wait(block, 0, 0, 1);
    expect(unread()).toBe(6);
    const flushed = port.flush();
    expect(unread()).toBe(0);
    await flushed;
    modem.write(new TextEncoder().encode("after"));
    await waitFor(() => got.text().endsWith("after"), "after");
    expect(got.text()).toBe("readyafter");
  });
});

describe("BunSerialBinding (the bindings-interface contract)", () => {
  test("open failures map to a port cause: errno by errno, a C library / writer setup failure as port-open-failed", () => {
    expect(portOpenFailure("/dev/ttyUSB9", new libc.SysError("open", libc.ERRNO.ENOENT, "/dev/ttyUSB9")).causeInfo.code).toBe("port-not-found");
    expect(portOpenFailure("/dev/ttyUSB2", new libc.SysError("ioctl", libc.ERRNO.EBUSY, "TIOCEXCL")).causeInfo.code).toBe("port-locked");
    const noLibc = portOpenFailure("/dev/ttyUSB2", new CellkeepError("platform-unsupported", "cannot load the C library via bun:ffi (libc.so.6: not found)"));
    expect(noLibc).toBeInstanceOf(SerialPortError);
    expect(noLibc.causeInfo.code).toBe("port-open-failed");
    expect(noLibc.causeInfo.detail).toBe("/dev/ttyUSB2: platform-unsupported: cannot load the C library via bun:ffi (libc.so.6: not found)");
    expect(portOpenFailure("/dev/ttyUSB2", new Error("Worker failed to start")).causeInfo).toMatchObject({ code: "port-open-failed", detail: "/dev/ttyUSB2: Worker failed to start" });
    const kept = new SerialPortError("port-locked", "held");
    expect(portOpenFailure("/dev/ttyUSB2", kept)).toBe(kept);
  });

  test("termios on a pty: raw 8N1 by default; CRTSCTS and CSTOPB stick; the pty driver forces CS8 without parity", async () => {
    const pair = pty();
    const a = await rawPort(pair.slavePath);
    let c = getCflag(a.fd);
    expect(c & CFLAG.CSIZE).toBe(CFLAG.CS8);
    expect(c & CFLAG.PARENB).toBe(0);
    expect(c & CFLAG.CSTOPB).toBe(0);
    expect((c & CFLAG.CRTSCTS) !== 0).toBe(false);
    expect(c & CFLAG.CLOCAL).toBe(CFLAG.CLOCAL);
    await a.close();
    const b = await rawPort(pair.slavePath, 115200, { rtscts: true, dataBits: 7, parity: "even", stopBits: 2 });
    c = getCflag(b.fd);
    expect((c & CFLAG.CRTSCTS) !== 0).toBe(true);
    expect(c & CFLAG.CSTOPB).toBe(CFLAG.CSTOPB);
    // drivers/tty/pty.c pty_set_termios: "c_cflag &= ~(CSIZE | PARENB); c_cflag |= CS8 | CREAD".
    // The 7E mapping itself is covered by termios.test.ts.
    expect(c & CFLAG.CSIZE).toBe(CFLAG.CS8);
    expect(c & CFLAG.PARENB).toBe(0);
    expect(b.openOptions).toMatchObject({ rtscts: true, dataBits: 7, parity: "even", stopBits: 2, lock: true });
  });

  test("partial reads: a chunk larger than the read buffer is handed out across reads", async () => {
    const pair = pty();
    const port = await rawPort(pair.slavePath);
    ptyMasterPipe(pair).write(new TextEncoder().encode("0123456789"));
    const buf = Buffer.alloc(16);
    const seen: string[] = [];
    let total = 0;
    while (total < 10) {
      const { bytesRead } = await port.read(buf, 5, 3);
      expect(bytesRead).toBeGreaterThanOrEqual(1);
      expect(bytesRead).toBeLessThanOrEqual(3);
      seen.push(buf.subarray(5, 5 + bytesRead).toString());
      total += bytesRead;
    }
    expect(seen.join("")).toBe("0123456789");
    expect(seen.length).toBeGreaterThanOrEqual(4);
  });

  test("a pending read rejects with canceled=true when the port is closed", async () => {
    const pair = pty();
    const port = await new BunSerialBinding({ lockDir }).open({ path: pair.slavePath, baudRate: 115200 });
    const pending = port.read(Buffer.alloc(64), 0, 64);
    await Bun.sleep(10);
    await port.close();
    const err = await pending.then(
      () => null,
      (e: unknown) => e as { canceled?: boolean },
    );
    expect(err?.canceled).toBe(true);
    expect(port.isOpen).toBe(false);
    await expect(port.write(Buffer.from("x"))).rejects.toMatchObject({ canceled: true });
  });

  test("a read after the far side hung up rejects without canceled (a disconnect)", async () => {
    const pair = openPtyPair();
    const port = await rawPort(pair.slavePath);
    const pending = port.read(Buffer.alloc(64), 0, 64);
    pair.close();
    const err = await pending.then(
      () => null,
      (e: unknown) => e as { canceled?: boolean; code?: string },
    );
    expect(err).not.toBeNull();
    expect(err?.canceled).toBeUndefined();
    expect(err?.code).toBe("EOF");
  });

  test("SerialPortStream runs on the binding: open, data events, write, set() rejects on a pty, close", async () => {
    const pair = pty();
    const stream = new SerialPortStream({ binding: new BunSerialBinding({ lockDir }), path: pair.slavePath, baudRate: 115200 });
    await new Promise<void>((resolve, reject) => {
      stream.once("open", resolve);
      stream.once("error", reject);
    });
    const modem = ptyMasterPipe(pair);
    const atModem = collect(modem);
    const chunks: Buffer[] = [];
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.write(Buffer.from("ATI\r"));
    await waitFor(() => atModem.text() === "ATI\r");
    modem.write(new TextEncoder().encode("Quectel\r\nOK\r\n"));
    await waitFor(() => Buffer.concat(chunks).toString() === "Quectel\r\nOK\r\n");
    const setErr = await new Promise<Error | null>((resolve) => stream.set({ dtr: false }, resolve));
    expect((setErr as { code?: string } | null)?.code).toBe("ENOTTY");
    const br = await new Promise<number>((resolve, reject) =>
      stream.port!.getBaudRate().then((r: { baudRate: number }) => resolve(r.baudRate), reject),
    );
    expect(br).toBe(115200);
    const closed = new Promise<unknown>((resolve) => stream.once("close", resolve));
    stream.close();
    expect(await closed).toBeNull();
  });

  test("data path: startReading hands each chunk on, once; queueWrite copies into the writer; false after close", async () => {
    const pair = pty();
    const port = await rawPort(pair.slavePath);
    const got: Uint8Array[] = [];
    const failures: Error[] = [];
    port.startReading(
      (c) => got.push(c.slice()),
      (e) => failures.push(e),
    );
    expect(() => port.startReading(() => {}, () => {})).toThrow(/twice/);
    const modem = ptyMasterPipe(pair);
    const atModem = collect(modem);
    modem.write(new TextEncoder().encode("hello"));
    await waitFor(() => Buffer.concat(got).toString() === "hello", "chunks through startReading");
    const buf = new TextEncoder().encode("ATI\r");
    expect(port.queueWrite(buf)).toBe(true);
    buf.fill(0);
    await waitFor(() => atModem.text() === "ATI\r", "queued bytes at the modem");
    expect(port.writeBacklog()).toBe(0);
    await port.close();
    expect(port.queueWrite(buf)).toBe(false);
    // A close we asked for is not a failure.
    await Bun.sleep(10);
    expect(failures).toEqual([]);
  });

  test("data path: a hang-up reaches onFailure once with the error (EOF), which becomes lastError", async () => {
    const pair = openPtyPair();
    const port = await rawPort(pair.slavePath);
    const failures: Error[] = [];
    port.startReading(
      () => {},
      (e) => failures.push(e),
    );
    pair.close();
    await waitFor(() => failures.length > 0, "onFailure");
    await Bun.sleep(10);
    expect(failures.length).toBe(1);
    expect((failures[0] as { code?: string }).code).toBe("EOF");
    expect(port.lastError).toBe(failures[0]!);
  });

  test("list() reports discovered candidates", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ck-sys-"));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    const dev = path.join(root, "bus/usb/devices/1-1");
    fs.mkdirSync(dev, { recursive: true });
    fs.writeFileSync(path.join(dev, "idVendor"), "2c7c\n");
    fs.writeFileSync(path.join(dev, "idProduct"), "0296\n");
    const iface = path.join(root, "bus/usb/devices/1-1:1.2");
    fs.mkdirSync(path.join(iface, "ttyUSB2"), { recursive: true });
    fs.writeFileSync(path.join(iface, "bInterfaceNumber"), "02\n");
    const list = await new BunSerialBinding({ discovery: { sysRoot: root, devRoot: "/nonexistent-dev" } }).list();
    expect(list).toEqual([
      {
        path: "/nonexistent-dev/ttyUSB2",
        manufacturer: undefined,
        serialNumber: undefined,
        pnpId: "Quectel BG96",
        locationId: "1-1",
        vendorId: "2c7c",
        productId: "0296",
      },
    ]);
  });
});

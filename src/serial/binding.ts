/**
 * A `@serialport/bindings-interface` binding over bun:ffi termios, so
 * `SerialPortStream` from `@serialport/stream` runs under Bun without the
 * native bindings-cpp (which aborts: no uv_poll) and without `.node` files.
 *
 * Contract details this follows (bun-facts §1, bindings-interface docs):
 * - open: O_RDWR|O_NOCTTY|O_NONBLOCK|O_CLOEXEC, UUCP lock + TIOCEXCL, raw termios.
 * - read: waits for ≥ 1 byte (resolving 0 would end the stream); after close a
 *   pending read rejects with `canceled: true`; any other rejection makes the
 *   stream treat the port as disconnected (EIO, ENXIO, ENODEV, hang-up).
 * - write: resolves once the bytes are in the writer's ring (FdWriter: a
 *   Worker hands them to the kernel, waiting for room in poll(2), so a full
 *   tty never costs the event loop a timer sleep); writeBacklog() counts
 *   what the ring still holds, drain() waits for it and the kernel queue.
 * - close: cancel the reader, then close(fd), then release the lock.
 *
 * The data path (SerialPipe) does not go through the stream: startReading()
 * hands each chunk from the reader straight on, and queueWrite() puts bytes
 * straight into the writer's ring. The stream then serves what it is for:
 * opening (lock, termios), settings and modem lines. Once startReading() has
 * taken the reader, the stream's read() is refused.
 */
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  PortInfo,
  PortStatus,
  SetOptions,
  UpdateOptions,
  // The package's "exports" has no "types" entry: tsconfig.json "paths" points
  // the name at its .d.ts (type-only, erased at runtime).
} from "@serialport/bindings-interface";
import * as libc from "../sys/libc.ts";
import { CellkeepError, type CauseCode } from "../core/cause.ts";
import { applyTermios, getBaudRate, setBaudRate, TCIOFLUSH } from "./termios.ts";
import { isSupportedBaudRate } from "../core/baud.ts";
import { getInputLines, setBreak, setExclusive, setOutputLines, type InputLines } from "./lines.ts";
import { acquirePortLock, type LockOptions, type PortLock } from "./lockfile.ts";
import { CanceledError, FdReader, pumpReads } from "../sys/fd-reader.ts";
import { FdWriter } from "../sys/fd-writer.ts";
import { discoverPorts, type DiscoveryOptions } from "./discovery.ts";

export interface BunOpenOptions extends OpenOptions {
  /** Directory for UUCP lock files; defaults to the binding's, then /var/lock. */
  lockDir?: string;
}

export interface BunSerialBindingOptions {
  /** Directory for UUCP lock files (tests pass a temp dir). */
  lockDir?: string;
  /** Liveness check for lock owners (tests). */
  isAlive?: LockOptions["isAlive"];
  /** Called when a stale lock file was removed. */
  onStaleLock?: LockOptions["onStale"];
  /** sysfs/dev roots for list() (tests). */
  discovery?: DiscoveryOptions;
}

/** Error codes that mean the device itself went away. */
export const VANISHED_CODES: ReadonlySet<string> = new Set(["EIO", "ENXIO", "ENODEV", "EOF", "EBADF", "EPIPE"]);

/** An open/IO failure with a cellkeep cause code and the errno code when there was one. */
export class SerialPortError extends CellkeepError {
  constructor(
    code: CauseCode,
    detail: string,
    readonly sysCode?: string,
  ) {
    super(code, detail);
    this.name = "SerialPortError";
  }
}

/**
 * The cause an open failure reaches openSerialPipe's caller with: errno
 * failures by errno (missing device, TIOCEXCL), a SerialPortError as it is,
 * anything else (the C library or the writer's eventfd could not be set up)
 * as port-open-failed with the original message, code included, as detail.
 */
export function portOpenFailure(path: string, err: unknown): SerialPortError {
  if (err instanceof SerialPortError) return err;
  if (!(err instanceof libc.SysError)) {
    return new SerialPortError("port-open-failed", `${path}: ${(err as Error)?.message ?? String(err)}`);
  }
  switch (err.code) {
    case "ENOENT":
    case "ENXIO":
    case "ENODEV":
      return new SerialPortError("port-not-found", `${path}: ${err.message}`, err.code);
    case "EBUSY":
      return new SerialPortError("port-locked", `${path} is held exclusively (TIOCEXCL) by another process: ${err.message}`, err.code);
    default:
      return new SerialPortError("port-open-failed", `${path}: ${err.message}`, err.code);
  }
}

export class BunSerialBinding implements BindingInterface<BunSerialPort, BunOpenOptions, PortInfo> {
  constructor(private readonly defaults: BunSerialBindingOptions = {}) {}

  /** Known modem ports and plain tty candidates, best first (see discovery.ts). */
  async list(): Promise<PortInfo[]> {
    const found = discoverPorts(this.defaults.discovery ?? {});
    return found.map((c) => ({
      path: c.path,
      manufacturer: c.manufacturer,
      serialNumber: c.serial,
      pnpId: c.model,
      locationId: c.usbPath,
      vendorId: c.vendorId,
      productId: c.productId,
    }));
  }

  async open(options: BunOpenOptions): Promise<BunSerialPort> {
    if (!options?.path) throw new TypeError('"path" is required');
    if (!isSupportedBaudRate(options.baudRate)) {
      throw new SerialPortError("port-open-failed", `unsupported baud rate ${options.baudRate} for ${options.path}`);
    }
    const openOptions: Required<OpenOptions> = {
      path: options.path,
      baudRate: options.baudRate,
      dataBits: options.dataBits ?? 8,
      lock: options.lock ?? true,
      stopBits: options.stopBits ?? 1,
      parity: options.parity ?? "none",
      rtscts: options.rtscts ?? false,
      xon: options.xon ?? false,
      xoff: options.xoff ?? false,
      xany: options.xany ?? false,
      hupcl: options.hupcl ?? true,
    };

    let lock: PortLock | null = null;
    if (openOptions.lock) {
      lock = acquirePortLock(options.path, {
        lockDir: options.lockDir ?? this.defaults.lockDir,
        isAlive: this.defaults.isAlive,
        onStale: this.defaults.onStaleLock,
      });
    }
    let fd = -1;
    try {
      fd = libc.check(libc.open(options.path, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open", options.path);
      if (openOptions.lock) setExclusive(fd);
      applyTermios(fd, openOptions);
      // Starts the writer (its eventfd and Worker): a failure there is an open failure too.
      return new BunSerialPort(fd, openOptions, lock);
    } catch (err) {
      if (fd >= 0) libc.close(fd);
      lock?.release();
      throw portOpenFailure(options.path, err);
    }
  }
}

export class BunSerialPort implements BindingPortInterface {
  isOpen = true;
  /** The error that made the port unusable (read/write failure), for diagnosis. */
  lastError: (Error & { code?: string }) | null = null;
  private readonly reader: FdReader;
  private readonly writer: FdWriter;
  private breakOn = false;
  /** startReading() took the reader: chunks go to the data path, not to read(). */
  private readingDirect = false;
  private readonly writeErrorListeners = new Set<(err: Error) => void>();

  constructor(
    readonly fd: number,
    readonly openOptions: Required<OpenOptions>,
    private readonly lock: PortLock | null,
  ) {
    this.reader = new FdReader(fd, openOptions.path);
    this.writer = new FdWriter(fd, {
      // Report a drain at half the packet pump's default high-water mark (32 KiB), as MeteredFdPipe does.
      lowWaterBytes: 16 * 1024,
      onError: (e) => {
        const err = new libc.SysError("write", e, openOptions.path);
        this.lastError = err;
        for (const fn of this.writeErrorListeners) fn(err);
      },
    });
  }

  /** Bytes accepted by write() or queueWrite() that the kernel has not taken yet. */
  writeBacklog(): number {
    return this.writer.backlogBytes();
  }

  /** Called when that backlog falls to 16 KiB or less (the pump may pull more from TUN). */
  onWriteDrain(fn: () => void): () => void {
    return this.writer.onDrain(fn);
  }

  get lockPath(): string | null {
    return this.lock?.lockPath ?? null;
  }

  /**
   * The data path's reads: every chunk the reader gets goes to `onChunk` as
   * it is (no copy, no stream), until close() (ends quietly) or a read fails
   * (hang-up, EIO...: `onFailure` once, with the error, which also becomes
   * lastError). Call once; read() is refused afterwards.
   */
  startReading(onChunk: (chunk: Uint8Array) => void, onFailure: (err: Error) => void): void {
    if (this.readingDirect) throw new Error(`${this.openOptions.path}: startReading() called twice`);
    this.readingDirect = true;
    void pumpReads(this.reader, onChunk, (_detail, err) => {
      if (!this.isOpen) return;
      this.lastError = err as Error;
      onFailure(err as Error);
    });
  }

  /**
   * The data path's writes: `data` is copied into the writer's ring (or its
   * bounded overflow queue) at once; never blocks. false when the port is
   * closed, the writer failed, or the overflow limit refused the write.
   */
  queueWrite(data: Uint8Array): boolean {
    if (!this.isOpen || this.lastError) return false;
    return this.writer.write(data);
  }

  /** Called once if the writer's write(2) fails (EIO when a USB port went away...). */
  onWriteError(fn: (err: Error) => void): () => void {
    this.writeErrorListeners.add(fn);
    return () => this.writeErrorListeners.delete(fn);
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    // The Worker must be out of write()/poll() before the fd number is released.
    await this.writer.close();
    await this.reader.cancel();
    libc.close(this.fd);
    this.lock?.release();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) throw new CanceledError();
    if (length <= 0) throw new RangeError("read length must be positive");
    if (this.readingDirect) throw new Error(`${this.openOptions.path}: reads go to the data path (startReading), not to read()`);
    try {
      const bytesRead = await this.reader.readInto(buffer, offset, length);
      return { buffer, bytesRead };
    } catch (err) {
      if (err instanceof CanceledError || !this.isOpen) throw new CanceledError();
      this.lastError = err as Error;
      throw err;
    }
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw new CanceledError();
    if (this.lastError) throw this.lastError;
    // Copied into the ring (or the writer's overflow queue) at once; resolves
    // once it is all in the ring, so the stream's next chunk waits for room.
    this.writer.write(buffer);
    await this.writer.whenAccepted();
    if (this.lastError) throw this.lastError;
    if (!this.isOpen) throw new CanceledError();
  }

  async update(options: UpdateOptions): Promise<void> {
    this.assertOpen();
    // Rejects a SysError (EINVAL) for a rate the table or the driver refuses.
    setBaudRate(this.fd, options.baudRate);
    this.openOptions.baudRate = options.baudRate;
  }

  /**
   * bindings-interface semantics: every flag is applied on each call (the
   * stream fills defaults dtr/rts = true, brk = false). cts/dsr are inputs and
   * ignored. On a pty this rejects LinesNotSupportedError (ENOTTY).
   */
  async set(options: SetOptions): Promise<void> {
    this.assertOpen();
    const lines: { dtr?: boolean; rts?: boolean } = {};
    if (options.dtr !== undefined) lines.dtr = options.dtr;
    if (options.rts !== undefined) lines.rts = options.rts;
    setOutputLines(this.fd, lines);
    if (options.brk !== undefined && options.brk !== this.breakOn) {
      setBreak(this.fd, options.brk);
      this.breakOn = options.brk;
    }
  }

  /** Change only the given output lines (the BytePipe setLines contract). */
  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
    this.assertOpen();
    setOutputLines(this.fd, lines);
  }

  async get(): Promise<PortStatus & { ri: boolean }> {
    this.assertOpen();
    const l: InputLines = getInputLines(this.fd);
    return { cts: l.cts, dsr: l.dsr, dcd: l.dcd, ri: l.ri };
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    this.assertOpen();
    return { baudRate: getBaudRate(this.fd) };
  }

  async flush(): Promise<void> {
    this.assertOpen();
    libc.check(libc.tcflush(this.fd, TCIOFLUSH), "tcflush");
    this.reader.discardBuffered();
  }

  /**
   * Wait until the writer's ring is empty (every byte handed to the kernel),
   * then until the kernel's output queue is empty.
   * tcdrain(3) would block the whole event loop on a slow UART (it ignores
   * O_NONBLOCK), so we watch TIOCOUTQ with short timers instead; this only
   * runs while output is queued.
   */
  async drain(): Promise<void> {
    this.assertOpen();
    await this.writer.idle();
    if (this.lastError) throw this.lastError;
    const q = new Uint8Array(4);
    for (let wait = 1; this.isOpen; wait = Math.min(wait * 2, 50)) {
      if (libc.ioctl(this.fd, TIOCOUTQ, q) < 0) {
        libc.check(libc.tcdrain(this.fd), "tcdrain");
        return;
      }
      if (new DataView(q.buffer).getInt32(0, true) === 0) return;
      await Bun.sleep(wait);
    }
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new Error("Port is not open");
  }
}

const TIOCOUTQ = 0x5411;

/**
 * A serial port as a BytePipe (src/core/pipe.ts).
 *
 * Two paths, each for what it does best:
 * - Control: `SerialPortStream` from @serialport/stream on the bun:ffi
 *   binding opens the port (UUCP lock, TIOCEXCL, termios) and owns the port
 *   object that settings and modem lines (baud rate, DTR/RTS, CTS/DSR/DCD,
 *   flush, drain) go to.
 * - Data: bytes never pass through the stream. Reads come straight from the
 *   port's fd reader (BunSerialPort.startReading: each chunk as the kernel
 *   gave it, no pool copy, no Readable machinery) and writes go straight
 *   into the port's writer ring (queueWrite: one copy, no Writable queue,
 *   no Buffer). The stream's per-chunk work (a copy into its pool, push(),
 *   'data' events; Buffer.from, _write, a promise per write) measured at
 *   over half the cost of moving the bytes (serial bench, issue 13).
 *
 * Vanishing ports: a USB modem that resets re-enumerates, so reads fail with
 * EIO/ENXIO/ENODEV or the tty hangs up. Every such path (read failure, write
 * error, stream 'close'/'end'/error) funnels into `vanish()`, which closes
 * the binding port (reader cancelled, fd closed, lock released) and then
 * finishes the pipe with cause `port-vanished`. No exception escapes to the
 * caller and the pipe never stays half open: once closed, writes are
 * dropped and counted.
 */
import { SerialPortStream } from "@serialport/stream";
import { cause, CellkeepError, type Cause } from "../core/cause.ts";
import { PipeBase } from "../core/pipe.ts";
import { BunSerialBinding, BunSerialPort, SerialPortError, type BunSerialBindingOptions } from "./binding.ts";
import type { InputLines } from "./lines.ts";


export interface SerialPipeOptions {
  /** Default 115200 (USB modems ignore it; UARTs need the modem's rate). */
  baudRate?: number;
  /** RTS/CTS hardware flow control (UART modems). Default false. */
  rtscts?: boolean;
  /** Take the UUCP lock and TIOCEXCL. Default true. */
  lock?: boolean;
  /** Lock file directory (tests); default /var/lock. */
  lockDir?: string;
  /** A binding to reuse (tests inject lock-liveness checks through it). */
  binding?: BunSerialBinding;
  bindingOptions?: BunSerialBindingOptions;
}

export interface SerialPipeStats {
  bytesIn: number;
  bytesOut: number;
  /** Writes dropped because the pipe was already closed (or the writer refused them: failed, overflow limit). */
  droppedWrites: number;
}

/** Codes that mean the device went away rather than a usage error. */
function vanishDetail(path: string, err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  const code = e?.code ? `${e.code}: ` : "";
  return `${path}: ${code}${e?.message ?? "stream ended"}`;
}

export class SerialPipe extends PipeBase {
  readonly stats: SerialPipeStats = { bytesIn: 0, bytesOut: 0, droppedWrites: 0 };
  private closingByRequest = false;
  private closePromise: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private readonly stream: SerialPortStream<BunSerialBinding>,
    port: BunSerialPort,
  ) {
    super();
    // The data path: straight from the port's reader and into its writer (see the top of the file).
    port.startReading(
      (chunk) => {
        this.stats.bytesIn += chunk.byteLength;
        this.deliver(chunk);
      },
      (err) => this.vanish(err),
    );
    port.onWriteError((err) => this.vanish(err));
    // The stream no longer reads or writes; these catch a close or error it still reports.
    stream.on("close", (err: Error | null | undefined) => {
      if (this.closingByRequest) return;
      this.vanish(this.port?.lastError ?? err ?? new Error("port closed"));
    });
    stream.on("end", () => {
      if (!this.closingByRequest) this.vanish(this.port?.lastError ?? null);
    });
    stream.on("error", (err: Error) => {
      if (this.closingByRequest || (err as { canceled?: boolean }).canceled) return;
      this.vanish(this.port?.lastError ?? err);
    });
  }

  /** Open `path` (raw 8N1) and resolve when it is ready; rejects a CellkeepError. */
  static open(path: string, opts: SerialPipeOptions = {}): Promise<SerialPipe> {
    const binding = opts.binding ?? new BunSerialBinding(opts.bindingOptions);
    return new Promise((resolve, reject) => {
      let stream: SerialPortStream<BunSerialBinding>;
      try {
        stream = new SerialPortStream({
          binding,
          path,
          baudRate: opts.baudRate ?? 115200,
          rtscts: opts.rtscts ?? false,
          lock: opts.lock ?? true,
          ...(opts.lockDir !== undefined ? { lockDir: opts.lockDir } : {}),
          autoOpen: false,
        });
      } catch (err) {
        reject(new CellkeepError("port-open-failed", `${path}: ${(err as Error).message}`));
        return;
      }
      stream.open((err) => {
        if (err) {
          reject(err instanceof CellkeepError ? err : new SerialPortError("port-open-failed", `${path}: ${err.message}`));
          return;
        }
        const port = stream.port;
        if (!port) {
          reject(new SerialPortError("port-open-failed", `${path}: opened without a port object`));
          return;
        }
        resolve(new SerialPipe(path, stream, port));
      });
    });
  }

  private get port(): BunSerialPort | undefined {
    return this.stream.port;
  }

  /** Queue bytes for the line (copied into the writer's ring, so callers may reuse their buffer); never blocks. */
  write(data: Uint8Array): void {
    const port = this.port;
    if (this.closed || this.closePromise || !port || !port.queueWrite(data)) {
      this.stats.droppedWrites++;
      return;
    }
    this.stats.bytesOut += data.byteLength;
  }

  /** Raise/drop DTR and RTS. Rejects LinesNotSupportedError (code ENOTTY) on a pty. */
  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
    const port = this.requirePort();
    await port.setLines(lines);
  }

  /** CTS/DSR/DCD/RI. Rejects LinesNotSupportedError (code ENOTTY) on a pty. */
  async getLines(): Promise<InputLines> {
    return this.requirePort().get();
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await this.requirePort().update({ baudRate });
  }
  async getBaudRate(): Promise<number> {
    return (await this.requirePort().getBaudRate()).baudRate;
  }
  /** Discard unread input and unsent output. */
  async flush(): Promise<void> {
    await this.requirePort().flush();
  }
  /**
   * Bytes accepted by write() but not yet handed to the tty (the port's
   * writer ring and its overflow queue). The packet pump stops reading TUN
   * while this is high, so a slow serial line never makes cellkeep buffer
   * without bound (PacedIpLink in src/net/pump.ts).
   */
  backlogBytes(): number {
    if (this.closed) return 0;
    return this.port?.writeBacklog() ?? 0;
  }

  /** Called when the write backlog has drained to the writer's low-water mark (16 KiB). */
  onDrain(fn: () => void): () => void {
    return this.port?.onWriteDrain(fn) ?? (() => {});
  }

  /** Resolve when everything written so far has left the kernel's queue. */
  async drain(): Promise<void> {
    await this.requirePort().drain();
  }

  /** The UUCP lock file held for this port, if any. */
  get lockPath(): string | null {
    return this.port?.lockPath ?? null;
  }

  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closingByRequest = true;
    this.closePromise = this.shutdown().then(() => this.finish(null));
    return this.closePromise;
  }

  private requirePort(): BunSerialPort {
    const port = this.port;
    if (this.closed || !port || !port.isOpen) throw new CellkeepError("port-vanished", `${this.path} is closed`);
    return port;
  }

  /** Close everything underneath; never throws. */
  private async shutdown(): Promise<void> {
    try {
      await this.port?.close();
    } catch {
      // closing a dead fd: nothing more to release
    }
    if (!this.stream.destroyed) this.stream.destroy();
    // destroy() may emit 'error'/'close' later; swallow them.
    this.stream.on("error", () => {});
  }

  private vanish(err: unknown): void {
    if (this.closed || this.closePromise) return;
    const reason: Cause = cause("port-vanished", vanishDetail(this.path, err));
    this.closePromise = this.shutdown().then(() => this.finish(reason));
  }
}

/** Open a serial port as a BytePipe. Rejects CellkeepError (port-not-found, port-locked, port-open-failed). */
export function openSerialPipe(path: string, opts: SerialPipeOptions = {}): Promise<SerialPipe> {
  return SerialPipe.open(path, opts);
}

/**
 * A serial port as a BytePipe (src/core/pipe.ts): `SerialPortStream` from
 * @serialport/stream on top of the bun:ffi binding.
 *
 * Vanishing ports: a USB modem that resets re-enumerates, so reads fail with
 * EIO/ENXIO/ENODEV or the tty hangs up. Every such path (read rejection →
 * stream 'close' with a DisconnectedError, write error, 'end', stream error)
 * funnels into `vanish()`, which closes the binding port (reader cancelled,
 * fd closed, lock released) and then finishes the pipe with cause
 * `port-vanished`. No exception escapes to the caller and the pipe never
 * stays half open: once closed, writes are dropped and counted.
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
  /** Writes dropped because the pipe was already closed. */
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
  ) {
    super();
    stream.on("data", (chunk: Buffer) => {
      this.stats.bytesIn += chunk.byteLength;
      this.deliver(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
    // SerialPortStream emits 'close' with a DisconnectedError after a read or
    // write failed; the binding port keeps the original errno error.
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
        resolve(new SerialPipe(path, stream));
      });
    });
  }

  private get port(): BunSerialPort | undefined {
    return this.stream.port;
  }

  write(data: Uint8Array): void {
    if (this.closed || this.closePromise) {
      this.stats.droppedWrites++;
      return;
    }
    this.stats.bytesOut += data.byteLength;
    // Copy: the stream may hold the chunk until it is written and the caller may reuse its buffer.
    this.stream.write(Buffer.from(data));
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
   * Bytes accepted by write() but not yet handed to the tty: what the stream
   * still holds plus what the port's writer ring holds. The packet pump stops
   * reading TUN while this is high, so a slow serial line never makes
   * cellkeep buffer without bound (PacedIpLink in src/net/pump.ts).
   */
  backlogBytes(): number {
    if (this.closed) return 0;
    const port = this.port;
    if (!port) return this.stream.writableLength;
    // The stream counts the chunk in flight whole; the port counts what of it is still unsent.
    return this.stream.writableLength - port.inFlightBytes + port.writeBacklog();
  }

  /** Called when the write backlog has drained (the stream's 'drain', or the port's writer ring fell to its low-water mark, 16 KiB). */
  onDrain(fn: () => void): () => void {
    this.stream.on("drain", fn);
    const offPort = this.port?.onWriteDrain(fn);
    return () => {
      this.stream.off("drain", fn);
      offPort?.();
    };
  }

  /** Resolve when everything written so far has left the kernel's queue. */
  async drain(): Promise<void> {
    // SerialPortStream.drain() on a closed port would wait for 'open' forever.
    this.requirePort();
    await new Promise<void>((resolve, reject) => this.stream.drain((err) => (err ? reject(err) : resolve())));
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
    this.stream.removeAllListeners("data");
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

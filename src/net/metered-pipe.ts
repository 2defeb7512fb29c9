/**
 * A BytePipe over a non-blocking tty fd that reports how many bytes are still
 * waiting to be written (backlogBytes). The packet pump reads it to stop
 * pulling packets from TUN while the serial line is behind, so the backlog
 * stays bounded instead of growing in a write queue (bufferbloat).
 *
 * Reads use the serial layer's FdReader (one Bun.file(fd).stream() reader);
 * writes try fs.writeSync at once and queue only what the tty did not take.
 */
import * as fs from "node:fs";
import { cause } from "../core/cause.ts";
import { PipeBase } from "../core/pipe.ts";
import { CanceledError, FdReader } from "../serial/fd-io.ts";
import type { IpLink } from "./ip-link.ts";
import type { PacedIpLink } from "./pump.ts";

export class MeteredFdPipe extends PipeBase {
  private readonly reader: FdReader;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private flushing = false;
  droppedWrites = 0;
  bytesWritten = 0;
  bytesRead = 0;

  constructor(
    readonly fd: number,
    private readonly label = `fd ${fd}`,
  ) {
    super();
    this.reader = new FdReader(fd, label);
    void this.readLoop();
  }

  /** Bytes accepted by write() and not yet taken by the kernel. */
  backlogBytes(): number {
    return this.queued;
  }

  write(data: Uint8Array): void {
    if (this.closed) {
      this.droppedWrites++;
      return;
    }
    if (data.byteLength === 0) return;
    let off = 0;
    if (this.queue.length === 0) off = this.tryWrite(data, 0);
    if (off < 0) return;
    if (off < data.byteLength) {
      const rest = data.slice(off);
      this.queue.push(rest);
      this.queued += rest.byteLength;
      if (!this.flushing) void this.flushLater();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.queue = [];
    this.queued = 0;
    await this.reader.cancel();
    this.finish(null);
  }

  /** Bytes written from `data[off..]`; -1 after a fatal error (the pipe is closing). */
  private tryWrite(data: Uint8Array, off: number): number {
    while (off < data.byteLength) {
      try {
        const n = fs.writeSync(this.fd, data, off, data.byteLength - off);
        off += n;
        this.bytesWritten += n;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") return off;
        if (code === "EINTR") continue;
        void this.fail(`write failed: ${code}`);
        return -1;
      }
    }
    return off;
  }

  private async flushLater(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        // The tty's buffer is full: the far side is slower than us; give it a moment.
        await Bun.sleep(1);
        while (this.queue.length > 0 && !this.closed) {
          const head = this.queue[0]!;
          const off = this.tryWrite(head, 0);
          if (off < 0) return;
          this.queued -= off;
          if (off < head.byteLength) {
            this.queue[0] = head.subarray(off);
            break;
          }
          this.queue.shift();
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async readLoop(): Promise<void> {
    await Promise.resolve();
    for (;;) {
      let chunk: Uint8Array;
      try {
        chunk = await this.reader.readChunk();
      } catch (err) {
        if (err instanceof CanceledError) return;
        await this.fail(`${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`);
        return;
      }
      this.bytesRead += chunk.byteLength;
      this.deliver(chunk);
    }
  }

  private async fail(detail: string): Promise<void> {
    if (this.closed) return;
    this.queue = [];
    this.queued = 0;
    await this.reader.cancel();
    this.finish(cause("port-vanished", `${this.label}: ${detail}`));
  }
}

/** An IpLink plus a backlog gauge (e.g. a PppLink over a MeteredFdPipe), for PacketPump pacing. */
export function pacedIpLink(link: IpLink, backlogBytes: () => number): PacedIpLink {
  return {
    sendIp: (v, p) => link.sendIp(v, p),
    onIp: (cb) => link.onIp(cb),
    backlogBytes,
  };
}

/**
 * A BytePipe over a non-blocking tty fd that reports how many bytes are still
 * waiting to be written (backlogBytes). The packet pump reads it to stop
 * pulling packets from TUN while the serial line is behind, so the backlog
 * stays bounded instead of growing in a write queue (bufferbloat).
 *
 * Reads use FdReader (one Bun.file(fd).stream() reader);
 * writes go through FdWriter: a ring buffer drained by a Worker that waits
 * for writability in poll(2), so a full tty costs no event-loop time and no
 * 1 ms timer sleep (the old EAGAIN-retry loop left a fast pty idle for most
 * of each millisecond it slept; see src/sys/fd-writer.ts).
 */
import * as libc from "../sys/libc.ts";
import { cause } from "../core/cause.ts";
import { PipeBase } from "../core/pipe.ts";
import { FdReader, pumpReads } from "../sys/fd-reader.ts";
import { FdWriter } from "../sys/fd-writer.ts";

/**
 * Report a drain when this many bytes are left (see FdWriter lowWaterBytes):
 * half the pump's default high-water mark (32 KiB), so the pump refills while
 * the tty still has bytes to send instead of after it ran dry (dataplane
 * bench: a few MB/s more than reporting at empty, within its noise).
 */
export const DEFAULT_LOW_WATER = 16 * 1024;

export interface MeteredFdPipeOptions {
  /** Ring buffer of the writer Worker, bytes (default 64 KiB). */
  ringBytes?: number;
  /** onDrain fires when the backlog falls to this many bytes (default 16 KiB; 0: only when empty). */
  lowWaterBytes?: number;
}

export class MeteredFdPipe extends PipeBase {
  private readonly reader: FdReader;
  private readonly writer: FdWriter;
  private readonly drainListeners = new Set<() => void>();
  droppedWrites = 0;
  bytesRead = 0;
  private reads = 0;

  constructor(
    readonly fd: number,
    private readonly label = `fd ${fd}`,
    opts: MeteredFdPipeOptions = {},
  ) {
    super();
    this.reader = new FdReader(fd, label);
    this.writer = new FdWriter(fd, {
      ...(opts.ringBytes !== undefined ? { ringBytes: opts.ringBytes } : {}),
      lowWaterBytes: opts.lowWaterBytes ?? DEFAULT_LOW_WATER,
      onError: (e) => void this.fail(`write failed: ${libc.errnoName(e)}`),
    });
    this.writer.onDrain(() => {
      for (const fn of this.drainListeners) fn();
    });
    void this.readLoop();
  }

  /** Bytes handed to the kernel so far. */
  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  /** Counters for diagnosis (benchmarks): bytes each way and read chunks. */
  stats(): { bytesWritten: number; bytesRead: number; reads: number } {
    return { bytesWritten: this.bytesWritten, bytesRead: this.bytesRead, reads: this.reads };
  }

  /** Bytes accepted by write() and not yet taken by the kernel. */
  backlogBytes(): number {
    return this.writer.backlogBytes();
  }

  /** Called each time the write backlog falls to the low-water mark (the pump resumes reading TUN at once). */
  onDrain(fn: () => void): () => void {
    this.drainListeners.add(fn);
    return () => this.drainListeners.delete(fn);
  }

  /** Queue bytes for the writer Worker (copied, so callers may reuse buffers); never blocks. */
  write(data: Uint8Array): void {
    if (this.closed || !this.writer.write(data)) this.droppedWrites++;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.writer.close();
    await this.reader.cancel();
    this.finish(null);
  }

  private readLoop(): Promise<void> {
    return pumpReads(
      this.reader,
      (chunk) => {
        this.bytesRead += chunk.byteLength;
        this.reads++;
        this.deliver(chunk);
      },
      (detail) => this.fail(detail),
    );
  }

  private failing = false;

  private async fail(detail: string): Promise<void> {
    if (this.closed || this.failing) return;
    this.failing = true;
    await this.writer.close();
    await this.reader.cancel();
    this.finish(cause("port-vanished", `${this.label}: ${detail}`));
  }
}

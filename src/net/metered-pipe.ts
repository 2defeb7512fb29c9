/**
 * A BytePipe over a non-blocking tty fd that reports how many bytes are still
 * waiting to be written (backlogBytes). The packet pump reads it to stop
 * pulling packets from TUN while the serial line is behind, so the backlog
 * stays bounded instead of growing in a write queue (bufferbloat).
 *
 * Reads use the serial layer's FdReader (one Bun.file(fd).stream() reader);
 * writes try fs.writeSync at once and queue only what the tty did not take.
 */
import * as libc from "../sys/libc.ts";
import { cause } from "../core/cause.ts";
import { PipeBase } from "../core/pipe.ts";
import { CanceledError, FdReader } from "../serial/fd-io.ts";
import type { IpLink } from "./ip-link.ts";
import type { PacedIpLink } from "./pump.ts";

/** Event-loop turns to retry a full tty before sleeping (see flushLater). */
const MAX_SPINS = 64;
const MIN_SPINS = 2;

export class MeteredFdPipe extends PipeBase {
  private readonly reader: FdReader;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private flushing = false;
  private spinBudget = MAX_SPINS;
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

  /** Bytes accepted by write() and not yet taken by the kernel (staged + queued). */
  backlogBytes(): number {
    return this.queued;
  }

  private drainListeners = new Set<() => void>();

  /** Called each time the write backlog empties (the pump resumes reading TUN at once). */
  onDrain(fn: () => void): () => void {
    this.drainListeners.add(fn);
    return () => this.drainListeners.delete(fn);
  }

  /**
   * Writes are coalesced until the end of the current task (a microtask):
   * the pump hands PPP a whole TUN chunk of packets at once, and one
   * write(2) for all their frames instead of one per frame halves the
   * syscall cost of a busy link. Bytes are copied, so callers may reuse buffers.
   */
  write(data: Uint8Array): void {
    if (this.closed) {
      this.droppedWrites++;
      return;
    }
    if (data.byteLength === 0) return;
    this.staged.push(data.slice());
    this.stagedBytes += data.byteLength;
    this.queued += data.byteLength;
    if (!this.stageScheduled) {
      this.stageScheduled = true;
      queueMicrotask(() => this.writeStaged());
    }
  }

  private staged: Uint8Array[] = [];
  private stagedBytes = 0;
  private stageScheduled = false;

  private writeStaged(): void {
    this.stageScheduled = false;
    if (this.closed || this.staged.length === 0) return;
    const data = this.staged.length === 1 ? this.staged[0]! : concat(this.staged, this.stagedBytes);
    this.staged = [];
    this.stagedBytes = 0;
    let off = 0;
    if (this.queue.length === 0) {
      off = this.tryWrite(data, 0);
      if (off < 0) return;
      this.queued -= off;
    }
    if (off < data.byteLength) {
      this.queue.push(off === 0 ? data : data.subarray(off));
      if (!this.flushing) void this.flushLater();
    } else if (this.queue.length === 0) {
      for (const fn of this.drainListeners) fn();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.staged = [];
    this.stagedBytes = 0;
    this.queue = [];
    this.queued = 0;
    await this.reader.cancel();
    this.finish(null);
  }

  /**
   * Bytes written from `data[off..]`; -1 after a fatal error (the pipe is
   * closing). write(2) through FFI, not fs.writeSync: a full tty answers
   * EAGAIN thousands of times a second on a busy link, and fs.writeSync turns
   * each into a thrown Error with a stack trace, which costs more than the
   * write itself.
   */
  private tryWrite(data: Uint8Array, off: number): number {
    while (off < data.byteLength) {
      const n = libc.write(this.fd, off === 0 ? data : data.subarray(off), data.byteLength - off);
      if (n > 0) {
        off += n;
        this.bytesWritten += n;
        continue;
      }
      const e = n === 0 ? libc.ERRNO.EAGAIN : libc.errno();
      if (e === libc.ERRNO.EAGAIN) return off;
      if (e === libc.ERRNO.EINTR) continue;
      void this.fail(`write failed: ${libc.errnoName(e)}`);
      return -1;
    }
    return off;
  }

  /**
   * Write the queue out as the tty takes it. There is no "writable" event for
   * an fd in Bun, so on EAGAIN we retry. Adaptive: a fast line (a pty, a USB
   * CDC port) drains its ~10 KB buffer in well under a millisecond, so we first
   * retry on the next turn of the event loop (setImmediate), up to a small
   * budget; if that budget does not get the bytes out, the line is slow (a real
   * UART) and we fall back to 1 ms sleeps, which cost nothing measurable. The
   * budget shrinks while episodes end in sleeps and grows back when spinning
   * pays off, so a slow modem line never keeps a core busy.
   */
  private async flushLater(): Promise<void> {
    this.flushing = true;
    let spins = 0;
    try {
      while (this.queue.length > 0 && !this.closed) {
        if (spins < this.spinBudget) {
          spins++;
          await new Promise<void>((r) => setImmediate(r));
        } else {
          await Bun.sleep(1);
        }
        let progressed = false;
        while (this.queue.length > 0 && !this.closed) {
          const head = this.queue[0]!;
          const off = this.tryWrite(head, 0);
          if (off < 0) return;
          if (off > 0) progressed = true;
          this.queued -= off;
          if (off < head.byteLength) {
            this.queue[0] = head.subarray(off);
            break;
          }
          this.queue.shift();
        }
        if (this.queue.length === 0) for (const fn of this.drainListeners) fn();
        if (progressed) {
          // Spinning got bytes out: the line is fast; allow a full budget next time.
          this.spinBudget = spins <= MAX_SPINS ? MAX_SPINS : this.spinBudget;
          spins = 0;
        } else if (spins >= this.spinBudget) {
          // A whole budget without progress: the line is slow; spin less next time.
          this.spinBudget = Math.max(MIN_SPINS, this.spinBudget >> 1);
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
    this.staged = [];
    this.stagedBytes = 0;
    this.queue = [];
    this.queued = 0;
    await this.reader.cancel();
    this.finish(cause("port-vanished", `${this.label}: ${detail}`));
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** An IpLink plus the backlog gauge of the pipe under it (e.g. a PppLink over a MeteredFdPipe), for PacketPump pacing. */
export function pacedIpLink(link: IpLink, pipe: { backlogBytes(): number; onDrain?(fn: () => void): () => void }): PacedIpLink {
  const paced: PacedIpLink = {
    sendIp: (v, p) => link.sendIp(v, p),
    onIp: (cb) => link.onIp(cb),
    backlogBytes: () => pipe.backlogBytes(),
  };
  if (pipe.onDrain) paced.onDrain = (fn) => pipe.onDrain!(fn);
  return paced;
}

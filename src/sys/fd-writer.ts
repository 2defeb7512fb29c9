/**
 * A writer for a non-blocking fd (tty, pty master, UART) that waits for
 * writability in a Worker thread instead of on the event loop.
 *
 * Why: Bun has no "fd writable" event, and its timers have 1 ms granularity.
 * A pty or USB tty holds only a few KiB, which a fast reader drains in about
 * 100 µs, so every EAGAIN handled with a timer leaves the line idle for most
 * of a millisecond (measured: over half the time of a bulk transfer spent
 * asleep). Here the bytes go into a shared ring buffer and a Worker writes
 * them with write(2); on EAGAIN it blocks in poll(2) until the kernel has
 * room, so the line is refilled the moment the reader takes bytes, and the
 * event loop never blocks (a slow UART only keeps the Worker waiting).
 *
 * - Small writes (≤ 512 B: AT commands, LCP, TCP ACKs) made while the ring is
 *   empty go straight to write(2) on this thread: nothing can be reordered
 *   and the hand-off's thread switch is saved. Only what the tty refuses is
 *   queued for the Worker.
 * - No busy loop: the Worker sleeps in Atomics.wait while the ring is empty
 *   and in poll() while the fd is full. Idle costs nothing.
 * - Bounded: the ring has a fixed size; bytes beyond it wait in a JS queue
 *   that backlogBytes() counts, so the packet pump's back-pressure sees them.
 *   That queue is bounded too (overflowLimitBytes, default 4 MiB): a write
 *   that would take it past the limit is refused whole (never cut, so an
 *   HDLC frame or an AT command is all there or not at all), write() returns
 *   false, and the refusal is a WriteOverflowError (onOverflow, lastOverflow)
 *   counted in `refused`. Only a line that takes nothing for a long time
 *   gets there: the packet pump stops reading TUN at a 32 KiB backlog, and
 *   4 MiB is six minutes of a 115200-baud UART.
 * - Close: a flag, an Atomics.notify and one write to an eventfd the Worker
 *   polls together with the fd wake it wherever it sleeps; close() returns
 *   once the Worker has left its loop (a shared state word), then closes the
 *   eventfd (this thread owns it). The fd belongs to the caller.
 * - The Worker's code is a string run from a Blob URL, so a `bun build
 *   --compile` binary needs no extra entry point.
 *
 * writeAll() at the end is the simple alternative for small traffic (FdPipe:
 * the virtual modem's AT/PPP bytes): `fs.writeSync` on the non-blocking fd,
 * and on EAGAIN a yield, then 1-8 ms sleeps and a retry.
 */
import * as fs from "node:fs";
import { CanceledError } from "./fd-reader.ts";
import * as libc from "./libc.ts";

/** The eventfd close() rings; a C library that cannot load throws CellkeepError platform-unsupported. */
function eventfd(): number {
  return libc.check(libc.eventfd(0, libc.EFD_CLOEXEC | libc.EFD_NONBLOCK), "eventfd");
}

/** Ring control words (Int32Array over a SharedArrayBuffer). */
const HEAD = 0; // total bytes put in the ring (mod 2^32), written by the main thread
const TAIL = 1; // total bytes written to the fd (mod 2^32), written by the Worker
const CLOSED = 2; // 1 once close() was called
const WANT = 3; // 1: the main thread has queued bytes waiting for ring space
const LOW = 4; // post "drain" when the ring falls to this many bytes
const SLEEPING = 5; // 1 while the Worker is (about to be) in Atomics.wait: only then is a notify needed
const STATE = 6; // 0 not started, 1 running, 2 out of its loop for good (never touches the fd again), 3 closed before it started
const CTL_WORDS = 8;

export const DEFAULT_RING_BYTES = 64 * 1024;
/** Bytes that may wait beyond the ring before writes are refused. */
export const DEFAULT_OVERFLOW_LIMIT_BYTES = 4 * 1024 * 1024;

/** A write refused because the bytes waiting beyond the ring would pass overflowLimitBytes. */
export class WriteOverflowError extends Error {
  readonly code = "ENOBUFS";
  constructor(
    /** Size of the refused write. */
    readonly bytes: number,
    /** Bytes already waiting beyond the ring. */
    readonly backlog: number,
    readonly limit: number,
  ) {
    super(`write of ${bytes} bytes refused: ${backlog} bytes already wait beyond the ring (limit ${limit})`);
    this.name = "WriteOverflowError";
  }
}
/** Writes up to this size may go straight to the fd when the ring is empty (see write()). */
const DIRECT_MAX = 512;

/** The Worker, as plain JS (see the module comment for why it is a string). */
const WORKER_SOURCE = `
import { dlopen, FFIType, ptr, read as ffiRead } from "bun:ffi";
const { i32, u32, u64, i64, ptr: P } = FFIType;
let lib = null;
// Same candidate names as src/sys/libc.ts (musl resolves libc.so.6 to itself).
for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
  try { lib = dlopen(name, {
    write: { args: [i32, P, u64], returns: i64 },
    poll: { args: [P, u64, i32], returns: i32 },
    __errno_location: { args: [], returns: P },
  }).symbols; break; } catch {}
}
const EAGAIN = 11, EINTR = 4, POLLOUT = 4, POLLIN = 1;
self.onmessage = (ev) => {
  const { fd, efd, data, ctl } = ev.data;
  const c = new Int32Array(ctl);
  // close() before we ever ran: never touch the fd.
  if (Atomics.compareExchange(c, ${STATE}, 0, 1) !== 0) return;
  if (!lib) { Atomics.store(c, ${STATE}, 2); Atomics.notify(c, ${STATE}); postMessage({ type: "error", errno: 38 }); return; }
  const ring = new Uint8Array(data);
  const size = ring.byteLength;
  const base = ptr(ring);
  const errno = () => ffiRead.i32(lib.__errno_location(), 0);
  // struct pollfd { int fd; short events; short revents; } x 2
  const pfds = new Int32Array(4);
  const pv = new DataView(pfds.buffer);
  pv.setInt32(0, fd, true); pv.setInt16(4, POLLOUT, true);
  pv.setInt32(8, efd, true); pv.setInt16(12, POLLIN, true);
  const pp = ptr(pfds);
  let tail = Atomics.load(c, ${TAIL});
  let failed = 0;
  try {
    for (;;) {
      if (Atomics.load(c, ${CLOSED})) break;
      const head = Atomics.load(c, ${HEAD});
      const used = (head - tail) >>> 0;
      if (used === 0) {
        // Announce the sleep, then re-check: a HEAD stored before the flag was seen
        // is caught by the re-check, one stored after it comes with a notify.
        Atomics.store(c, ${SLEEPING}, 1);
        if (Atomics.load(c, ${HEAD}) === head && !Atomics.load(c, ${CLOSED})) Atomics.wait(c, ${HEAD}, head);
        Atomics.store(c, ${SLEEPING}, 0);
        continue;
      }
      const at = (tail >>> 0) % size;
      const len = Math.min(used, size - at);
      const n = Number(lib.write(fd, base + at, len));
      if (n > 0) {
        tail = (tail + n) | 0;
        Atomics.store(c, ${TAIL}, tail);
        const left = used - n;
        const low = Atomics.load(c, ${LOW});
        if ((left <= low && used > low) || Atomics.load(c, ${WANT})) {
          Atomics.store(c, ${WANT}, 0);
          postMessage({ type: "progress" });
        }
        continue;
      }
      const e = n === 0 ? EAGAIN : errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) { failed = e; break; }
      // The fd is full: sleep in the kernel until it has room or close() rings the eventfd.
      const r = lib.poll(pp, 2, -1);
      if (r < 0 && errno() !== EINTR) { failed = errno(); break; }
    }
  } catch {
    failed = -1; // an exception in this loop: report it as a write failure
  }
  Atomics.store(c, ${STATE}, 2);
  Atomics.notify(c, ${STATE});
  postMessage(failed ? { type: "error", errno: failed } : { type: "closed" });
};
`;

let workerUrl: string | null = null;

export interface FdWriterOptions {
  /** Ring buffer size in bytes, rounded up to a power of two, at least 4 KiB (default 64 KiB). */
  ringBytes?: number;
  /** Report progress (onDrain) when the unsent bytes fall to this many (default 0: when empty). */
  lowWaterBytes?: number;
  /** The Worker saw a write error (errno), e.g. EIO when a USB port went away. */
  onError?: (errno: number) => void;
  /** Bytes that may wait beyond the ring (default 4 MiB); a write past it is refused. */
  overflowLimitBytes?: number;
  /** A write was refused because of overflowLimitBytes (each time). */
  onOverflow?: (err: WriteOverflowError) => void;
}

export class FdWriter {
  private readonly ring: Uint8Array;
  private readonly ctl: Int32Array;
  private readonly worker: Worker;
  private readonly size: number;
  private head = 0;
  /** Bytes that did not fit in the ring yet, in order. */
  private overflow: Uint8Array[] = [];
  private overflowBytes = 0;
  private readonly overflowLimit: number;
  /** Writes refused because of the overflow limit, and their bytes. */
  readonly refused = { writes: 0, bytes: 0 };
  /** The last refusal, or null. */
  lastOverflow: WriteOverflowError | null = null;
  private efd: number;
  private closed = false;
  private readonly drainListeners = new Set<() => void>();
  /** Promises waiting for the next progress report (idle(), whenAccepted()). */
  private progressWaiters: Array<() => void> = [];
  private failure: number | null = null;
  private wakeBuf = new BigUint64Array([1n]);
  /** Bytes handed to the kernel so far (by the Worker, or directly for small writes). */
  get bytesWritten(): number {
    this.countTail();
    return this.written;
  }
  /** Bytes written directly by this thread plus those the Worker wrote up to `seenTail`. */
  private written = 0;
  private seenTail = 0;

  /** Fold the Worker's progress into `written` (TAIL wraps at 2^32; this runs far more often than every 4 GiB). */
  private countTail(): void {
    const tail = Atomics.load(this.ctl, TAIL);
    this.written += (tail - this.seenTail) >>> 0;
    this.seenTail = tail;
  }

  constructor(
    readonly fd: number,
    private readonly opts: FdWriterOptions = {},
  ) {
    // A power of two, so positions kept modulo 2^32 map onto the ring across the wrap.
    this.size = 1 << Math.ceil(Math.log2(Math.max(4096, opts.ringBytes ?? DEFAULT_RING_BYTES)));
    this.ring = new Uint8Array(new SharedArrayBuffer(this.size));
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
    Atomics.store(this.ctl, LOW, opts.lowWaterBytes ?? 0);
    this.overflowLimit = opts.overflowLimitBytes ?? DEFAULT_OVERFLOW_LIMIT_BYTES;
    this.efd = eventfd();
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    this.worker = new Worker(workerUrl);
    this.worker.onmessage = (ev: MessageEvent<{ type: string; errno?: number; efd?: number }>) => {
      const m = ev.data;
      switch (m.type) {
        case "progress":
          this.onProgress();
          break;
        case "error":
          this.onFailure(m.errno ?? -1);
          break;
      }
    };
    this.worker.onerror = () => this.onFailure(-1);
    // The Worker must not keep the process alive on its own: the pipe's reader does.
    (this.worker as unknown as { unref?: () => void }).unref?.();
    this.worker.postMessage({ fd, efd: this.efd, data: this.ring.buffer, ctl: this.ctl.buffer });
  }

  /** Bytes accepted by write() and not yet handed to the kernel. */
  backlogBytes(): number {
    if (this.closed) return 0;
    return ((this.head - Atomics.load(this.ctl, TAIL)) >>> 0) + this.overflowBytes;
  }

  /** Called when the backlog falls to the low-water mark (0: empties). */
  onDrain(fn: () => void): () => void {
    this.drainListeners.add(fn);
    return () => this.drainListeners.delete(fn);
  }

  /**
   * Queue `data` (copied); never blocks. Returns false after close or a write
   * error, and for a write refused whole by the overflow limit (WriteOverflowError).
   */
  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    if (data.byteLength === 0) return true;
    // What would wait beyond the ring (the Worker may take more meanwhile: this errs on the safe side).
    const free = this.size - ((this.head - Atomics.load(this.ctl, TAIL)) >>> 0);
    const spill = this.overflowBytes > 0 ? data.byteLength : Math.max(0, data.byteLength - free);
    if (spill > 0 && this.overflowBytes + spill > this.overflowLimit) return this.refuse(data.byteLength);
    if (this.overflowBytes > 0) {
      this.overflow.push(data.slice());
      this.overflowBytes += data.byteLength;
      return true;
    }
    let off = 0;
    if (data.byteLength <= DIRECT_MAX && this.head === Atomics.load(this.ctl, TAIL)) {
      // A small write (an AT command, an LCP echo, a TCP ACK) with the ring
      // empty: the Worker has handed every earlier byte to the kernel and has
      // nothing to write, so this thread may write directly without
      // reordering anything, and saves the hand-off (a futex wake and a thread
      // switch). Bulk data always goes through the Worker: writing it here too
      // measured slower (dataplane bench: 17-22 vs 20-28 MB/s), as this thread
      // then pays for the tty writes the Worker would do in parallel.
      const n = libc.write(this.fd, data, data.byteLength);
      if (n === data.byteLength) {
        this.written += n;
        return true;
      }
      // EAGAIN (or an error the Worker will meet and report): queue the rest.
      if (n > 0) {
        this.written += n;
        off = n;
      }
    }
    if (off > 0) data = data.subarray(off);
    const put = this.put(data);
    if (put < data.byteLength) {
      this.overflow.push(data.slice(put));
      this.overflowBytes += data.byteLength - put;
      Atomics.store(this.ctl, WANT, 1);
    }
    return true;
  }

  private refuse(bytes: number): false {
    const err = new WriteOverflowError(bytes, this.overflowBytes, this.overflowLimit);
    this.refused.writes++;
    this.refused.bytes += bytes;
    this.lastOverflow = err;
    this.opts.onOverflow?.(err);
    return false;
  }

  private notifyScheduled = false;
  private readonly notifyWorker = (): void => {
    this.notifyScheduled = false;
    // Atomics.notify is costly (a lock and a syscall); the Worker only needs it when it sleeps.
    if (Atomics.load(this.ctl, SLEEPING) === 1) Atomics.notify(this.ctl, HEAD);
  };

  /** Copy as much of `data` as fits into the ring; returns the count. */
  private put(data: Uint8Array): number {
    const used = (this.head - Atomics.load(this.ctl, TAIL)) >>> 0;
    const n = Math.min(this.size - used, data.byteLength);
    if (n === 0) return 0;
    const at = (this.head >>> 0) % this.size;
    const first = Math.min(n, this.size - at);
    this.ring.set(first === data.byteLength ? data : data.subarray(0, first), at);
    if (n > first) this.ring.set(data.subarray(first, n), 0);
    this.head = (this.head + n) | 0;
    Atomics.store(this.ctl, HEAD, this.head);
    // Wake a sleeping Worker once per task, not once per write: the pump
    // hands over a whole TUN chunk of frames in one go, and a futex wake (a
    // context switch on a 2-core box) per 1.5 KB frame cost more CPU than
    // the writes. A Worker that is awake picks the bytes up by itself.
    if (!this.notifyScheduled) {
      this.notifyScheduled = true;
      queueMicrotask(this.notifyWorker);
    }
    return n;
  }

  private onFailure(errno: number): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = errno;
    this.overflow = [];
    this.overflowBytes = 0;
    this.releaseWaiters();
    this.opts.onError?.(errno);
  }

  /** The errno the Worker's write failed with (-1: the Worker itself failed), or null. */
  get error(): number | null {
    return this.failure;
  }

  /** Bytes waiting in this thread because the ring was full (not yet visible to the Worker). */
  get overflowed(): number {
    return this.overflowBytes;
  }

  /** Resolves once every byte written so far is in the ring (or the writer closed/failed). */
  async whenAccepted(): Promise<void> {
    while (!this.closed && this.overflowBytes > 0) await this.nextProgress();
  }

  /** Resolves once every byte written so far was handed to the kernel (or the writer closed/failed). */
  async idle(): Promise<void> {
    while (!this.closed && this.backlogBytes() > 0) {
      const next = this.nextProgress();
      // Ask for a report after the Worker's next write; then look again, so a
      // write that finished just before the request is not waited for (both
      // sides use sequentially consistent Atomics: one of them sees the other).
      Atomics.store(this.ctl, WANT, 1);
      if (this.backlogBytes() === 0) {
        this.releaseWaiters();
        break;
      }
      await next;
    }
  }

  private nextProgress(): Promise<void> {
    return new Promise((resolve) => this.progressWaiters.push(resolve));
  }

  private releaseWaiters(): void {
    const ws = this.progressWaiters;
    this.progressWaiters = [];
    for (const w of ws) w();
  }

  private onProgress(): void {
    if (this.closed) return;
    this.countTail();
    while (this.overflow.length > 0) {
      const next = this.overflow[0]!;
      const n = this.put(next);
      this.overflowBytes -= n;
      if (n < next.byteLength) {
        this.overflow[0] = next.subarray(n);
        Atomics.store(this.ctl, WANT, 1);
        // The Worker may have emptied the ring between put() and WANT: it then reports again only if it writes more, which it will (the ring is not empty).
        break;
      }
      this.overflow.shift();
    }
    this.releaseWaiters();
    if (this.backlogBytes() <= Atomics.load(this.ctl, LOW)) for (const fn of this.drainListeners) fn();
  }

  /**
   * Stop: unsent bytes are dropped (like close(2) of a tty with O_NONBLOCK).
   * When this returns the Worker is out of its loop for good, so the owner
   * may close the fd at once: the handshake is a shared state word, waited
   * for here with Atomics.wait (the Worker leaves poll() or Atomics.wait
   * within microseconds of the eventfd/notify), not a message round trip
   * that would leave the fd open for a few more event-loop turns.
   */
  async close(): Promise<void> {
    this.closeNow();
  }

  /** close(), synchronously. */
  closeNow(): void {
    if (this.efd < 0) return;
    this.closed = true;
    this.overflow = [];
    this.overflowBytes = 0;
    Atomics.store(this.ctl, CLOSED, 1);
    if (Atomics.compareExchange(this.ctl, STATE, 0, 3) === 1) {
      Atomics.notify(this.ctl, HEAD);
      this.wake();
      // Bounded: 2 s in 10 ms steps, for a Worker that is (impossibly) stuck in a syscall.
      for (let i = 0; i < 200 && Atomics.load(this.ctl, STATE) !== 2; i++) Atomics.wait(this.ctl, STATE, 1, 10);
    }
    this.worker.terminate();
    libc.close(this.efd);
    this.efd = -1;
    this.releaseWaiters();
  }

  /** Ring the Worker's eventfd so a poll() in progress returns. */
  private wake(): void {
    if (this.efd < 0) return;
    try {
      fs.writeSync(this.efd, new Uint8Array(this.wakeBuf.buffer));
    } catch {
      // the Worker already closed it (it had exited)
    }
  }
}

/**
 * Write all of `data` to a non-blocking fd. Rejects CanceledError if
 * `isClosed()` turns true while waiting for room, or the write error.
 *
 * When the kernel's output buffer is full (EAGAIN) there is no writability
 * event we can wait on from Bun without `Bun.file(fd).writer()` (which must
 * not touch a tty), so we back off: first just yield one turn of the event
 * loop (an in-process reader on the far side, e.g. a pty master, gets to
 * drain), then sleep 1, 2, 4, 8 ms. This only runs while bytes are waiting
 * to go out; an idle port has no timer at all. At 8 ms a 115200 bit/s UART
 * drains ~115 bytes per wait, far less than its buffer, so throughput is
 * never limited by the backoff.
 */
export async function writeAll(fd: number, data: Uint8Array, isClosed: () => boolean): Promise<void> {
  let off = 0;
  let stalls = 0;
  while (off < data.byteLength) {
    if (isClosed()) throw new CanceledError();
    try {
      off += fs.writeSync(fd, data, off, data.byteLength - off);
      stalls = 0;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN" || code === "EWOULDBLOCK") {
        await waitForRoom(stalls++);
        continue;
      }
      if (code === "EINTR") continue;
      if (isClosed()) throw new CanceledError();
      throw err;
    }
  }
}

function waitForRoom(stalls: number): Promise<void> {
  if (stalls === 0) return new Promise((resolve) => setImmediate(resolve));
  return Bun.sleep(Math.min(1 << (stalls - 1), 8));
}

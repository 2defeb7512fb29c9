import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { FdReader } from "../../src/sys/fd-reader.ts";
import { DEFAULT_OVERFLOW_LIMIT_BYTES, FdWriter, WriteOverflowError } from "../../src/sys/fd-writer.ts";
import { openPtyPair, type PtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A pty whose slave is opened non-blocking (the writer's side) and whose master we read. */
function pty(): { pair: PtyPair; slave: number } {
  const pair = openPtyPair({ holdSlave: false });
  const slave = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open");
  let closed = false;
  cleanups.push(() => {
    if (!closed) libc.close(slave);
    closed = true;
    pair.close();
  });
  return { pair, slave };
}

function pattern(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return b;
}

/** Read from `fd` until `n` bytes arrived; returns them. */
async function readN(fd: number, n: number): Promise<Uint8Array> {
  const reader = new FdReader(fd, "master");
  const out = new Uint8Array(n);
  let got = 0;
  try {
    while (got < n) {
      const c = await reader.readChunk();
      out.set(c.subarray(0, Math.min(c.byteLength, n - got)), got);
      got += c.byteLength;
    }
  } finally {
    await reader.cancel();
  }
  return out;
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

const threadCount = () => fs.readdirSync("/proc/self/task").length;
const fdCount = () => fs.readdirSync("/proc/self/fd").length;

describe("FdWriter (Worker writer over a non-blocking fd)", () => {
  test("many writes of odd sizes through a small ring arrive complete and in order (ring wrap and overflow)", async () => {
    const { pair, slave } = pty();
    const w = new FdWriter(slave, { ringBytes: 4096 });
    cleanups.push(() => w.close());
    const total = 600_000;
    const data = pattern(total);
    const reading = readN(pair.masterFd, total);
    // Odd sizes so chunks straddle the ring's end; the buffer is reused to check that write() copies.
    const scratch = new Uint8Array(3001);
    for (let off = 0; off < total; ) {
      const n = Math.min(1 + ((off * 13) % 3001), total - off);
      scratch.set(data.subarray(off, off + n));
      expect(w.write(scratch.subarray(0, n))).toBe(true);
      scratch.fill(0);
      off += n;
    }
    expect(w.backlogBytes()).toBeGreaterThan(0);
    const got = await reading;
    expect(Buffer.compare(Buffer.from(got), Buffer.from(data))).toBe(0);
    await w.idle();
    expect(w.backlogBytes()).toBe(0);
    expect(w.bytesWritten).toBe(total);
  });

  test("back-pressure: with nobody reading, the backlog holds what the tty did not take, without burning CPU; drain fires once read", async () => {
    const { pair, slave } = pty();
    const w = new FdWriter(slave);
    cleanups.push(() => w.close());
    let drains = 0;
    w.onDrain(() => drains++);
    const n = 256 * 1024;
    w.write(pattern(n));
    await Bun.sleep(50);
    // The pty takes a few KiB at most; the rest waits (ring + overflow), counted.
    const stuck = w.backlogBytes();
    expect(stuck).toBeGreaterThan(n - 64 * 1024);
    expect(stuck).toBeLessThanOrEqual(n);
    expect(w.overflowed).toBeGreaterThan(0);
    // Blocked in poll(2), not spinning: the whole process uses little CPU meanwhile.
    const cpu0 = process.cpuUsage();
    await Bun.sleep(300);
    const cpu = process.cpuUsage(cpu0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(150);
    expect(w.backlogBytes()).toBe(stuck);
    expect(drains).toBe(0);
    const got = await readN(pair.masterFd, n);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(pattern(n)))).toBe(0);
    await waitFor(() => drains > 0 && w.backlogBytes() === 0, "drain after the reader took everything");
  });

  test("close while the Worker is blocked on a full tty resolves, and leaves no thread or fd behind", async () => {
    const { slave } = pty();
    // One warm-up writer so lazily created runtime threads are not counted as leaks.
    const warm = new FdWriter(slave);
    await warm.close();
    await Bun.sleep(20);
    const threads0 = threadCount();
    const fds0 = fdCount();
    const w = new FdWriter(slave);
    w.write(pattern(512 * 1024));
    await Bun.sleep(30);
    expect(threadCount()).toBeGreaterThan(threads0);
    expect(fdCount()).toBeGreaterThan(fds0); // its eventfd (and the Worker's own event loop)
    await w.close();
    expect(w.backlogBytes()).toBe(0);
    expect(w.write(new Uint8Array([1]))).toBe(false);
    await waitFor(() => threadCount() <= threads0, "the Worker thread to end");
    await waitFor(() => fdCount() === fds0, "the eventfd and the Worker's fds to be closed");
  });

  test("close with an empty ring (Worker asleep in Atomics.wait) resolves too; close twice is fine", async () => {
    const { slave } = pty();
    const w = new FdWriter(slave);
    await Bun.sleep(20);
    await w.close();
    await w.close();
    expect(w.error).toBeNull();
  });

  test("the far side vanishing while the Worker waits for room reports the write error once and drops the backlog", async () => {
    const { pair, slave } = pty();
    const errors: number[] = [];
    const w = new FdWriter(slave, { onError: (e) => errors.push(e) });
    cleanups.push(() => w.close());
    w.write(pattern(128 * 1024));
    await Bun.sleep(30);
    expect(w.backlogBytes()).toBeGreaterThan(0);
    // Hang up the pty: the slave's poll() wakes and write(2) fails (EIO).
    pair.close();
    await waitFor(() => errors.length > 0, "the write error");
    expect(errors).toEqual([libc.ERRNO.EIO]);
    expect(w.error).toBe(libc.ERRNO.EIO);
    expect(w.backlogBytes()).toBe(0);
    expect(w.write(new Uint8Array([1]))).toBe(false);
    await w.close();
    expect(errors.length).toBe(1);
  });

  test("the overflow list is bounded: a write that would pass the limit is refused whole with WriteOverflowError, the rest arrives in order", async () => {
    const { pair, slave } = pty();
    expect(DEFAULT_OVERFLOW_LIMIT_BYTES).toBe(4 * 1024 * 1024);
    const overflows: WriteOverflowError[] = [];
    const limit = 16 * 1024;
    const w = new FdWriter(slave, { ringBytes: 4096, overflowLimitBytes: limit, onOverflow: (e) => overflows.push(e) });
    cleanups.push(() => w.close());
    // Nobody reads: the pty, then the ring, then the overflow list fill up, until a write is refused.
    const accepted: Uint8Array[] = [];
    let refusedChunk: Uint8Array | null = null;
    // Read at the refusal itself: once the loop yields, a drain may move bytes from the list into the ring.
    let overflowedAtRefusal = -1;
    for (let i = 0; i < 10_000 && refusedChunk === null; i++) {
      const chunk = pattern(1000, i);
      if (w.write(chunk)) accepted.push(chunk);
      else {
        refusedChunk = chunk;
        overflowedAtRefusal = w.overflowed;
        break;
      }
      if (i % 16 === 0) await Bun.sleep(1); // let the Worker fill the pty
    }
    expect(refusedChunk).not.toBeNull();
    expect(overflowedAtRefusal).toBeLessThanOrEqual(limit);
    expect(overflowedAtRefusal).toBeGreaterThan(limit - 1000);
    expect(w.overflowed).toBeLessThanOrEqual(limit);
    expect(overflows).toHaveLength(1);
    const e = overflows[0]!;
    expect(e).toBeInstanceOf(WriteOverflowError);
    expect(e.name).toBe("WriteOverflowError");
    expect(e.code).toBe("ENOBUFS");
    expect(e.bytes).toBe(1000);
    expect(e.limit).toBe(limit);
    expect(e.message).toMatch(/^write of 1000 bytes refused: \d+ bytes already wait beyond the ring \(limit 16384\)$/);
    expect(w.lastOverflow).toBe(e);
    expect(w.refused).toEqual({ writes: 1, bytes: 1000 });
    // Still full: refused again, counted.
    expect(w.write(pattern(1000, 99_999))).toBe(false);
    expect(w.refused).toEqual({ writes: 2, bytes: 2000 });
    // The writer is not broken by it: no error, and once read, every accepted byte arrives in
    // order, without the refused writes.
    expect(w.error).toBeNull();
    const total = accepted.reduce((n, c) => n + c.byteLength, 0);
    const got = await readN(pair.masterFd, total);
    expect(Buffer.compare(Buffer.from(got), Buffer.concat(accepted.map((c) => Buffer.from(c))))).toBe(0);
    await waitFor(() => w.backlogBytes() === 0, "the backlog to drain");
    expect(w.write(pattern(1000, 7))).toBe(true);
  });

  test("idle() waits until the kernel took every byte; whenAccepted() until the overflow is in the ring", async () => {
    const { pair, slave } = pty();
    const w = new FdWriter(slave, { ringBytes: 8192 });
    cleanups.push(() => w.close());
    w.write(pattern(40_000));
    let accepted = false;
    let idle = false;
    void w.whenAccepted().then(() => (accepted = true));
    void w.idle().then(() => (idle = true));
    await Bun.sleep(30);
    expect(accepted).toBe(false);
    expect(idle).toBe(false);
    await readN(pair.masterFd, 40_000);
    await waitFor(() => accepted && idle, "accepted and idle");
    expect(w.backlogBytes()).toBe(0);
  });
});

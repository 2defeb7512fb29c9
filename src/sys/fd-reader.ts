/**
 * Event-loop driven reads on a non-blocking fd (tty, pty master, TUN;
 * bun-facts §1), shared by the serial port, the direct pipes and TUN:
 * - Reads go through ONE `Bun.file(fd).stream()` reader for the fd's whole
 *   life. Bun waits in epoll, so an idle port costs no CPU. A chunk larger
 *   than the caller's buffer is split and the rest kept for the next read.
 * - Writes live in fd-writer.ts. NEVER `Bun.file(fd).writer()` on a tty: it
 *   clears O_NONBLOCK on the shared open file description and its writes
 *   then block the event loop.
 * - The stream works on its own dup of the fd; `cancel()` closes that dup,
 *   and the owner closes the original fd afterwards.
 */

/** Error a pending read/write rejects with after cancel(): bindings-interface's `canceled` flag. */
export class CanceledError extends Error {
  readonly canceled = true;
  constructor(what = "port closed") {
    super(what);
    this.name = "CanceledError";
  }
}

/**
 * The tty hung up: read(2) returned 0 (the pty master closed, or a USB serial
 * device went away after its last read). On a raw tty with VMIN=1 a read
 * never returns 0 otherwise, so this is a disconnect, not an end of data.
 */
export class HangupError extends Error {
  readonly code = "EOF";
  constructor(what: string) {
    super(`${what}: hang-up (end of file on the tty)`);
    this.name = "HangupError";
  }
}

export class FdReader {
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private leftover: Uint8Array | null = null;
  private canceled = false;
  private pending: Promise<{ done: boolean; value?: Uint8Array }> | null = null;

  constructor(
    private readonly fd: number,
    private readonly label = `fd ${fd}`,
  ) {}

  /** Next chunk of at least one byte. Rejects CanceledError after cancel(), HangupError on EOF, or the read error (code "EIO"...). */
  async readChunk(): Promise<Uint8Array> {
    if (this.canceled) throw new CanceledError();
    if (this.leftover) {
      const chunk = this.leftover;
      this.leftover = null;
      return chunk;
    }
    this.reader ??= Bun.file(this.fd).stream().getReader();
    // Only ever one read outstanding on the stream.
    this.pending ??= this.reader.read();
    let result: { done: boolean; value?: Uint8Array };
    try {
      result = await this.pending;
    } catch (err) {
      if (this.canceled) throw new CanceledError();
      throw err;
    } finally {
      this.pending = null;
    }
    if (this.canceled) {
      // Bytes that raced with close are dropped, like a kernel close would.
      throw new CanceledError();
    }
    if (result.done || !result.value) throw new HangupError(this.label);
    if (result.value.byteLength === 0) return this.readChunk();
    return result.value;
  }

  /** Copy up to `length` bytes into `buf` at `offset`; resolves with the count (≥ 1). */
  async readInto(buf: Uint8Array, offset: number, length: number): Promise<number> {
    const chunk = await this.readChunk();
    if (chunk.byteLength <= length) {
      buf.set(chunk, offset);
      return chunk.byteLength;
    }
    buf.set(chunk.subarray(0, length), offset);
    this.leftover = chunk.subarray(length);
    return length;
  }

  /** Drop bytes received but not yet handed out (tcflush's user-space half). */
  discardBuffered(): void {
    this.leftover = null;
  }

  get isCanceled(): boolean {
    return this.canceled;
  }

  /** Stop reading: a pending read rejects with CanceledError; the stream's dup of the fd is closed. */
  async cancel(): Promise<void> {
    if (this.canceled) return;
    this.canceled = true;
    this.leftover = null;
    const reader = this.reader;
    this.reader = null;
    await cancelStreamReader(reader);
  }
}

/**
 * Cancel a `Bun.file(fd).stream()` reader, which closes the stream's dup of
 * the fd. A stream that had already failed (EIO) rejects the cancel; there
 * is nothing left to release then, so that rejection is swallowed.
 */
export async function cancelStreamReader(reader: ReadableStreamDefaultReader<Uint8Array> | null): Promise<void> {
  if (!reader) return;
  try {
    await reader.cancel();
  } catch {
    // the stream had already failed; nothing left to release
  }
}

/**
 * The read loop of a pipe over FdReader: hand each chunk to `onChunk` until
 * the reader is canceled (the owner closed it: ends quietly) or a read fails
 * (hang-up, EIO...: `onError` gets "<code>: <message>" and the error once,
 * then the loop ends).
 */
export async function pumpReads(
  reader: FdReader,
  onChunk: (chunk: Uint8Array) => void,
  onError: (detail: string, err: unknown) => void | Promise<void>,
): Promise<void> {
  // Yield once so listeners attached right after construction see the first bytes.
  await Promise.resolve();
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = await reader.readChunk();
    } catch (err) {
      if (err instanceof CanceledError) return;
      await onError(`${(err as { code?: string }).code ?? "error"}: ${(err as Error).message}`, err);
      return;
    }
    onChunk(chunk);
  }
}

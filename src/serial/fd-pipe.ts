/**
 * A BytePipe over any non-blocking fd (a pty master for the virtual modem,
 * or a tty opened elsewhere), without SerialPortStream in between.
 *
 * Reading is one event-loop driven loop over FdReader (no polling); writes
 * are queued and written in order with writeAll. A read error or hang-up
 * finishes the pipe with `port-vanished`; `close()` finishes it with null.
 */
import { cause } from "../core/cause.ts";
import { PipeBase } from "../core/pipe.ts";
import * as libc from "../sys/libc.ts";
import { CanceledError, FdReader, pumpReads } from "../sys/fd-reader.ts";
import { writeAll } from "../sys/fd-writer.ts";

export interface FdPipeOptions {
  /** Name used in causes and logs ("pty master /dev/pts/3"). */
  label?: string;
  /** Close the fd when the pipe closes (default false: the owner closes it). */
  ownsFd?: boolean;
}

export class FdPipe extends PipeBase {
  private readonly reader: FdReader;
  private readonly label: string;
  private queue: Uint8Array[] = [];
  private flushing = false;
  private closing: Promise<void> | null = null;
  droppedWrites = 0;

  constructor(
    readonly fd: number,
    private readonly opts: FdPipeOptions = {},
  ) {
    super();
    this.label = opts.label ?? `fd ${fd}`;
    this.reader = new FdReader(fd, this.label);
    void this.readLoop();
  }

  write(data: Uint8Array): void {
    if (this.closed || this.closing) {
      this.droppedWrites++;
      return;
    }
    if (data.byteLength === 0) return;
    this.queue.push(data.slice());
    if (!this.flushing) void this.flush();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown(null);
    return this.closing;
  }

  private readLoop(): Promise<void> {
    return pumpReads(
      this.reader,
      (chunk) => this.deliver(chunk),
      (detail) => {
        this.closing ??= this.shutdown(cause("port-vanished", `${this.label}: ${detail}`));
      },
    );
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.closed && !this.closing) {
        const next = this.queue.shift()!;
        await writeAll(this.fd, next, () => this.closed || this.closing !== null);
      }
    } catch (err) {
      if (!(err instanceof CanceledError)) {
        const code = (err as { code?: string }).code ?? "error";
        this.closing ??= this.shutdown(cause("port-vanished", `${this.label}: write failed: ${code}`));
      }
    } finally {
      this.flushing = false;
    }
  }

  private async shutdown(reason: ReturnType<typeof cause> | null): Promise<void> {
    this.queue = [];
    await this.reader.cancel();
    if (this.opts.ownsFd) libc.close(this.fd);
    this.finish(reason);
  }
}

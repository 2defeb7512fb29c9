/**
 * A byte pipe: the one interface between byte producers (a serial port, a pty,
 * the in-process virtual modem) and byte consumers (AtChannel, the PPP link),
 * after Zephyr's modem_pipe. Writes never block; data arrives through onData.
 */
import type { Cause } from "./cause.ts";

export interface BytePipe {
  readonly isOpen: boolean;
  /** Queue bytes for sending; the pipe copies what it keeps, so the caller may reuse `data` once this returns. Ignored (and counted by the adapter) once closed. */
  write(data: Uint8Array): void;
  /** Subscribe to incoming bytes; returns an unsubscribe function. */
  onData(fn: (data: Uint8Array) => void): () => void;
  /** Called once when the pipe closes; `reason` is null for a close we asked for. */
  onClose(fn: (reason: Cause | null) => void): () => void;
  close(): Promise<void>;
  /** Modem control lines, where the transport has them (a pty does not). */
  setLines?(lines: { dtr?: boolean; rts?: boolean }): Promise<void>;
  /**
   * Bytes accepted by write() but not yet handed to the device, where the
   * transport keeps such a queue (serial ports). Producers that can wait (the
   * packet pump) pace themselves by it instead of buffering without bound.
   */
  backlogBytes?(): number;
  /** Called when that backlog has drained (to the transport's low-water mark). */
  onDrain?(fn: () => void): () => void;
}

/** Base for pipe implementations: listener bookkeeping and close-once. */
export abstract class PipeBase implements BytePipe {
  private dataListeners = new Set<(data: Uint8Array) => void>();
  private closeListeners = new Set<(reason: Cause | null) => void>();
  protected closed = false;

  get isOpen(): boolean {
    return !this.closed;
  }
  abstract write(data: Uint8Array): void;
  abstract close(): Promise<void>;

  onData(fn: (data: Uint8Array) => void): () => void {
    this.dataListeners.add(fn);
    return () => this.dataListeners.delete(fn);
  }
  onClose(fn: (reason: Cause | null) => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }
  protected deliver(data: Uint8Array): void {
    for (const fn of this.dataListeners) fn(data);
  }
  protected finish(reason: Cause | null): void {
    if (this.closed) return;
    this.closed = true;
    for (const fn of this.closeListeners) fn(reason);
    this.dataListeners.clear();
    this.closeListeners.clear();
  }
}

class MemoryPipeEnd extends PipeBase {
  peer: MemoryPipeEnd | null = null;
  write(data: Uint8Array): void {
    if (this.closed || !this.peer) return;
    const peer = this.peer;
    const copy = data.slice();
    // Deliver asynchronously, like a real port, so re-entrancy bugs show up in tests.
    queueMicrotask(() => {
      if (!peer.closed) peer.receive(copy);
    });
  }
  receive(data: Uint8Array): void {
    this.deliver(data);
  }
  async close(): Promise<void> {
    const peer = this.peer;
    this.finish(null);
    if (peer && !peer.closed) queueMicrotask(() => peer.hangUp());
  }
  hangUp(): void {
    this.finish({ code: "port-vanished", hint: "the other end of the in-memory pipe closed" });
  }
}

/** Two connected in-memory ends, for in-process tests and the in-process virtual modem. */
export function createPipePair(): [BytePipe, BytePipe] {
  const a = new MemoryPipeEnd();
  const b = new MemoryPipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

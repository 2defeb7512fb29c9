/**
 * Server-Sent Events fan-out of the event bus. Each client is one listener on
 * the bus; the listener is removed when the client disconnects (stream
 * cancel or request abort), when the agent stops the server, or when the
 * client falls too far behind (a stalled browser must not grow memory
 * without bound). Every event is sanitised (IMSI/ICCID masked) and redacted.
 */
import type { EventBase, EventBus } from "../core/events.ts";
import { safeJson } from "../core/mask.ts";

export interface SseOptions {
  maxClients: number;
  keepAliveMs: number;
  /** Queued chunks after which a slow client is dropped. */
  maxQueued?: number;
}

const enc = new TextEncoder();

export class SseHub {
  private closers = new Set<() => void>();

  constructor(
    private readonly bus: EventBus<EventBase>,
    private readonly opts: SseOptions,
  ) {}

  get clients(): number {
    return this.closers.size;
  }

  /**
   * A streaming response, or null when the client limit is reached.
   * `lastEventId` (the Last-Event-ID header a reconnecting EventSource sends)
   * replays the events after it that the bus still holds, so a browser that
   * lost its connection for a moment misses nothing.
   */
  open(signal: AbortSignal | undefined, lastEventId?: string | null): Response | null {
    if (this.closers.size >= this.opts.maxClients) return null;
    const maxQueued = this.opts.maxQueued ?? 1024;
    let close = () => {};
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          let closed = false;
          const send = (text: string): boolean => {
            if (closed) return false;
            if ((controller.desiredSize ?? 0) < -maxQueued) {
              close();
              return false;
            }
            try {
              controller.enqueue(enc.encode(text));
              return true;
            } catch {
              close();
              return false;
            }
          };
          // The id is the event's ordinal on the bus (count() after it was emitted).
          // No `event:` name: every event reaches EventSource.onmessage; `type` is in the data.
          const frame = (id: number, event: EventBase) => `id: ${id}\ndata: ${safeJson(event)}\n\n`;
          const unsubscribe = this.bus.on((event) => send(frame(this.bus.count(), event)));
          const keepAlive = setInterval(() => send(": keep-alive\n\n"), this.opts.keepAliveMs);
          close = () => {
            if (closed) return;
            closed = true;
            unsubscribe();
            clearInterval(keepAlive);
            this.closers.delete(close);
            signal?.removeEventListener("abort", close);
            try {
              controller.close();
            } catch {
              // already closed or errored by the runtime
            }
          };
          this.closers.add(close);
          signal?.addEventListener("abort", close);
          // retry: how long a browser's EventSource waits before reconnecting.
          send(`retry: 3000\n: cellkeep events\n\n`);
          const last = lastEventId && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : null;
          if (last !== null) {
            const held = this.bus.recent();
            const firstId = this.bus.count() - held.length + 1;
            held.forEach((e, i) => {
              if (firstId + i > last) send(frame(firstId + i, e));
            });
          }
        },
        cancel: () => close(),
      },
      { highWaterMark: 64 },
    );
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** End every stream (server stop). */
  closeAll(): void {
    for (const c of [...this.closers]) c();
  }
}

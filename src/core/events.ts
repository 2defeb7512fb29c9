/**
 * Typed events (DESIGN.md rule 4). Every state change in every layer is an
 * event with a timestamp; logs, /status, /metrics and failure diagnosis are
 * views of one stream. Each module declares its own event union (for example
 * `PppEvent` in src/ppp/events.ts) whose `type` strings are prefixed with the
 * module's area ("ppp.phase", "modem.state", ...). The agent merges them.
 */
export interface EventBase {
  /** "<area>.<what>", e.g. "modem.state", "ppp.phase", "health.probe". */
  type: string;
  /** ms since the epoch, from the injected clock. */
  at: number;
}

export type Listener<E> = (event: E) => void;

/** A synchronous fan-out with a bounded history of recent events. */
export class EventBus<E extends EventBase = EventBase> {
  private listeners = new Set<Listener<E>>();
  private ring: E[] = [];
  private head = 0;
  private total = 0;

  constructor(private readonly historySize = 1000) {}

  emit(event: E): void {
    if (this.historySize > 0) {
      if (this.ring.length < this.historySize) this.ring.push(event);
      else this.ring[this.head] = event;
      this.head = (this.head + 1) % this.historySize;
    }
    this.total++;
    for (const fn of this.listeners) {
      try {
        fn(event);
      } catch (err) {
        // A broken view (log sink, SSE client) must never stop the agent.
        console.error(`event listener failed on ${event.type}:`, err);
      }
    }
  }

  on(fn: Listener<E>): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Oldest first. */
  recent(limit = this.historySize): E[] {
    const ordered =
      this.ring.length < this.historySize ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
    return limit >= ordered.length ? ordered : ordered.slice(ordered.length - limit);
  }

  /** Events emitted since start, including those that fell out of history. */
  count(): number {
    return this.total;
  }

  listenerCount(): number {
    return this.listeners.size;
  }
}

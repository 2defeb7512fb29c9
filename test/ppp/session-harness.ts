/** Test helpers: deterministic random, and two sessions wired in memory. */
import type { PppEvent } from "../../src/ppp/events.ts";
import { PppSession, type PppSessionOptions } from "../../src/ppp/session.ts";
import type { PppFrame } from "../../src/ppp/types.ts";

export { seededRandom } from "../support/random.ts";

export const T0 = 1_700_000_000_000;

/**
 * Two sessions joined back to back. `pump` moves frames both ways until
 * quiet; `advance` moves fake time forward, firing deadlines in order.
 * `drop` filters frames (return true to lose a frame) for fault scenarios.
 */
export class Pair {
  now = T0;
  readonly a: PppSession;
  readonly b: PppSession;
  readonly eventsA: PppEvent[] = [];
  readonly eventsB: PppEvent[] = [];
  readonly ipA: { version: 4 | 6; packet: Uint8Array }[] = [];
  readonly ipB: { version: 4 | 6; packet: Uint8Array }[] = [];
  readonly wire: { from: "a" | "b"; frame: PppFrame }[] = [];
  drop: (from: "a" | "b", f: PppFrame) => boolean = () => false;

  constructor(a: PppSessionOptions, b: PppSessionOptions) {
    this.a = new PppSession(a);
    this.b = new PppSession(b);
  }

  openBoth(): void {
    this.a.open(this.now);
    this.b.open(this.now);
    this.pump();
  }

  pump(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      const da = this.a.drain();
      const db = this.b.drain();
      this.eventsA.push(...da.events);
      this.eventsB.push(...db.events);
      this.ipA.push(...da.ip);
      this.ipB.push(...db.ip);
      if (da.frames.length === 0 && db.frames.length === 0) return;
      for (const f of da.frames) {
        this.wire.push({ from: "a", frame: f });
        if (!this.drop("a", f)) this.b.input(f, this.now);
      }
      for (const f of db.frames) {
        this.wire.push({ from: "b", frame: f });
        if (!this.drop("b", f)) this.a.input(f, this.now);
      }
    }
    throw new Error("pump did not go quiet");
  }

  /** Advance fake time to `target`, firing each session's deadlines in order. */
  advanceTo(target: number): void {
    for (;;) {
      const ds = [this.a.nextDeadline(), this.b.nextDeadline()].filter((d): d is number => d !== null && d <= target);
      if (ds.length === 0) break;
      this.now = Math.max(this.now, Math.min(...ds));
      this.a.poll(this.now);
      this.b.poll(this.now);
      this.pump();
    }
    this.now = target;
    this.pump();
  }

  advance(ms: number): void {
    this.advanceTo(this.now + ms);
  }
}

export function ofType<T extends PppEvent["type"]>(events: PppEvent[], type: T): Extract<PppEvent, { type: T }>[] {
  return events.filter((e): e is Extract<PppEvent, { type: T }> => e.type === type);
}

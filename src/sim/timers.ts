/**
 * The virtual modem's timers as data (DESIGN rule 1): one deadline per kind,
 * no clock. The owner asks `next()` for its "wake me at T" and, when woken,
 * takes the due timers one by one with `takeDue(now)` and runs them; a
 * handler may arm new ones, which the same loop then sees.
 *
 * Order: earliest deadline first; among timers due at the same instant, the
 * one whose kind was armed first (re-arming a kind that is still armed keeps
 * its place). That order is part of the modem's observable behaviour (e.g.
 * an attach and the AT+CGATT limit falling on the same millisecond), so it
 * is defined here once.
 */
export class TimerTable<K extends string> {
  private readonly deadlines = new Map<K, number>();

  arm(kind: K, at: number): void {
    this.deadlines.set(kind, at);
  }

  disarm(kind: K): void {
    this.deadlines.delete(kind);
  }

  has(kind: K): boolean {
    return this.deadlines.has(kind);
  }

  clear(): void {
    this.deadlines.clear();
  }

  /** The earliest deadline, or null when nothing is armed. */
  next(): number | null {
    let best: number | null = null;
    for (const at of this.deadlines.values()) if (best === null || at < best) best = at;
    return best;
  }

  /** Remove and return the first timer due at `now` (see the order above), or null. */
  takeDue(now: number): { kind: K; at: number } | null {
    let kind: K | null = null;
    let at = Number.POSITIVE_INFINITY;
    for (const [k, t] of this.deadlines) {
      if (t <= now && t < at) {
        kind = k;
        at = t;
      }
    }
    if (kind === null) return null;
    this.deadlines.delete(kind);
    return { kind, at };
  }
}

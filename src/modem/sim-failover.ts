/**
 * SIM slot failover (sim.failover_after): when the link has not been
 * connected for that long, the next recovery action the policy allows first
 * selects the other SIM slot. Pure state with an injected `now`, no I/O; the
 * switch itself (AT+QDSIM) is in sim-switch.ts.
 *
 * "Service" here is a connected data link: a SIM that registers but whose
 * APN or subscription is refused gives no service either. The clock restarts
 * at every connection and at every switch, so each SIM gets the whole
 * failover_after before the next switch, and switches happen only when the
 * recovery ladder lets the supervisor act (its spacing, never a burst).
 */
export class SimFailover {
  /** When the link was last connected, or the start / the last switch if later. */
  private serviceAt: number;
  /** null until known: the module has one slot (AT+QDSIM unsupported) when false. */
  dualSim: boolean | null = null;
  switches = 0;

  constructor(now: number) {
    this.serviceAt = now;
  }

  /** The link is (still) connected at `now`. */
  noteService(now: number): void {
    this.serviceAt = Math.max(this.serviceAt, now);
  }

  /** Whether a switch is due at `now` under sim.failover_after (`afterMs` undefined: failover off). */
  due(now: number, afterMs: number | undefined): boolean {
    if (afterMs === undefined || this.dualSim === false) return false;
    return now - this.serviceAt >= afterMs;
  }

  /** How long without service at `now`. */
  withoutServiceMs(now: number): number {
    return Math.max(0, now - this.serviceAt);
  }

  /** A switch was made at `now`: the other SIM gets its full time. */
  switched(now: number): void {
    this.switches++;
    this.serviceAt = now;
  }

  /** A switch failed at `now`: not tried again before another failover_after (never a burst of switches). */
  deferred(now: number): void {
    this.serviceAt = now;
  }
}

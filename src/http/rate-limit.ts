/**
 * A token bucket on the injected clock (no timers: a request takes a token or
 * learns how long to wait), so a test advances a manual clock instead of
 * sleeping. Used for ?force=1 actions: a forced reset skips the vendor's
 * spacing between resets, so a script or a stuck button must not be able to
 * power-cycle the module in a loop.
 */
export interface TokenBucketOptions {
  /** Tokens the bucket holds when full (a burst of this many is allowed). */
  capacity: number;
  /** One token comes back every this many ms. */
  refillMs: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

export class TokenBucket {
  private tokens: number;
  private last: number | null = null;

  constructor(private readonly opts: TokenBucketOptions) {
    this.tokens = opts.capacity;
  }

  private refill(now: number): void {
    // A clock that steps back (wall-clock change) adds nothing instead of draining the bucket.
    if (this.last !== null && now > this.last) {
      this.tokens = Math.min(this.opts.capacity, this.tokens + (now - this.last) / this.opts.refillMs);
    }
    this.last = now;
  }

  take(now: number): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - this.tokens) * this.opts.refillMs) };
  }

  /** Give a token back (the request it was taken for did nothing). */
  refund(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.opts.capacity, this.tokens + 1);
  }
}

/**
 * A bounded time series for the status page plots: a fixed number of time
 * buckets (default 1440 × 60 s = 24 h). Each bucket aggregates every sample
 * that fell into it (count, sum, min, max per field), so memory is fixed no
 * matter how often the modem reports signal or how often probes run.
 * Pure data: `at` comes in with the sample, nothing reads the clock.
 */
export interface BucketPoint<F extends string> {
  /** Bucket start, ms since the epoch. */
  at: number;
  /** Samples in the bucket (including samples where a field was null). */
  n: number;
  /** Per field: mean, min, max of the non-null values; null when none. */
  avg: Record<F, number | null>;
  min: Record<F, number | null>;
  max: Record<F, number | null>;
  /** Per field: how many non-null values. */
  count: Record<F, number>;
}

interface Bucket {
  start: number;
  n: number;
  count: Float64Array;
  sum: Float64Array;
  min: Float64Array;
  max: Float64Array;
}

export class BucketRing<F extends string> {
  private readonly buckets: (Bucket | undefined)[];

  constructor(
    readonly fields: readonly F[],
    readonly bucketMs = 60_000,
    readonly capacity = 1440,
  ) {
    if (!(bucketMs > 0) || !(capacity > 0)) throw new RangeError("bucketMs and capacity must be positive");
    this.buckets = new Array(capacity);
  }

  /** The time span the ring can hold (24 h with the defaults). */
  get windowMs(): number {
    return this.bucketMs * this.capacity;
  }

  add(at: number, values: Partial<Record<F, number | null>>): void {
    if (!Number.isFinite(at)) return;
    const start = Math.floor(at / this.bucketMs) * this.bucketMs;
    const slot = ((start / this.bucketMs) % this.capacity + this.capacity) % this.capacity;
    let b = this.buckets[slot];
    if (!b || b.start !== start) {
      // An older sample than what the slot holds belongs to a dropped window: ignore it.
      if (b && b.start > start) return;
      const k = this.fields.length;
      b = {
        start,
        n: 0,
        count: new Float64Array(k),
        sum: new Float64Array(k),
        min: new Float64Array(k).fill(Infinity),
        max: new Float64Array(k).fill(-Infinity),
      };
      this.buckets[slot] = b;
    }
    b.n++;
    this.fields.forEach((f, i) => {
      const v = values[f];
      if (typeof v !== "number" || !Number.isFinite(v)) return;
      b.count[i]!++;
      b.sum[i]! += v;
      if (v < b.min[i]!) b.min[i] = v;
      if (v > b.max[i]!) b.max[i] = v;
    });
  }

  /** Buckets within `windowMs` before `now` (inclusive), oldest first. */
  points(now: number, windowMs = this.windowMs): BucketPoint<F>[] {
    const from = now - windowMs;
    const live = this.buckets.filter((b): b is Bucket => b !== undefined && b.start + this.bucketMs > from && b.start <= now);
    live.sort((a, b) => a.start - b.start);
    return live.map((b) => {
      const avg = {} as Record<F, number | null>;
      const min = {} as Record<F, number | null>;
      const max = {} as Record<F, number | null>;
      const count = {} as Record<F, number>;
      this.fields.forEach((f, i) => {
        const c = b.count[i]!;
        count[f] = c;
        avg[f] = c > 0 ? round(b.sum[i]! / c) : null;
        min[f] = c > 0 ? b.min[i]! : null;
        max[f] = c > 0 ? b.max[i]! : null;
      });
      return { at: b.start, n: b.n, avg, min, max, count };
    });
  }

  /** Number of buckets holding data (≤ capacity). */
  size(): number {
    return this.buckets.reduce((n, b) => n + (b ? 1 : 0), 0);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

import { describe, expect, test } from "bun:test";
import { TokenBucket } from "../../src/http/rate-limit.ts";

describe("TokenBucket", () => {
  test("starts full, refills one token per refillMs, never beyond capacity", () => {
    const b = new TokenBucket({ capacity: 2, refillMs: 1000 });
    expect(b.take(0)).toEqual({ ok: true });
    expect(b.take(0)).toEqual({ ok: true });
    expect(b.take(0)).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(b.take(400)).toEqual({ ok: false, retryAfterMs: 600 });
    expect(b.take(1000)).toEqual({ ok: true });
    // a long idle time fills it to capacity only
    expect(b.take(100_000)).toEqual({ ok: true });
    expect(b.take(100_000)).toEqual({ ok: true });
    expect(b.take(100_000).ok).toBe(false);
  });

  test("a refund gives the token back, up to capacity", () => {
    const b = new TokenBucket({ capacity: 1, refillMs: 60_000 });
    expect(b.take(0).ok).toBe(true);
    b.refund(10);
    expect(b.take(20).ok).toBe(true);
    b.refund(30);
    b.refund(30);
    expect(b.take(40).ok).toBe(true);
    expect(b.take(40).ok).toBe(false);
  });

  test("a clock that steps back neither drains the bucket nor lengthens the wait past refillMs", () => {
    const b = new TokenBucket({ capacity: 1, refillMs: 60_000 });
    expect(b.take(100_000).ok).toBe(true);
    expect(b.take(0)).toEqual({ ok: false, retryAfterMs: 60_000 });
    expect(b.take(60_000).ok).toBe(true);
  });
});

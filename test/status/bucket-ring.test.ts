import { describe, expect, test } from "bun:test";
import { BucketRing } from "../../src/status/bucket-ring.ts";

describe("BucketRing", () => {
  test("aggregates samples of one bucket: mean, min, max, count; nulls count only in n", () => {
    const r = new BucketRing(["a", "b"] as const, 1000, 10);
    r.add(5_000, { a: 1, b: null });
    r.add(5_400, { a: 3, b: 10 });
    r.add(5_999, { a: 8 });
    const pts = r.points(6_000);
    expect(pts).toHaveLength(1);
    const p = pts[0]!;
    expect(p.at).toBe(5_000);
    expect(p.n).toBe(3);
    expect(p.count).toEqual({ a: 3, b: 1 });
    expect(p.avg.a).toBe(4);
    expect(p.min.a).toBe(1);
    expect(p.max.a).toBe(8);
    expect(p.avg.b).toBe(10);
  });

  test("returns buckets oldest first and only inside the window", () => {
    const r = new BucketRing(["v"] as const, 1000, 100);
    for (const t of [9_000, 1_000, 5_000]) r.add(t, { v: t });
    expect(r.points(10_000).map((p) => p.at)).toEqual([1_000, 5_000, 9_000]);
    expect(r.points(10_000, 5_500).map((p) => p.at)).toEqual([5_000, 9_000]);
  });

  test("memory stays bounded: a full day of 1 s samples keeps at most `capacity` buckets", () => {
    const r = new BucketRing(["v"] as const, 60_000, 1440);
    const day = 86_400_000;
    for (let t = 0; t < 2 * day; t += 1000) r.add(t, { v: t % 7 });
    expect(r.size()).toBe(1440);
    const pts = r.points(2 * day);
    expect(pts.length).toBe(1440);
    expect(pts[0]!.at).toBe(day);
    expect(pts.every((p) => p.n === 60)).toBe(true);
  });

  test("a sample older than the slot's current bucket is dropped, not merged", () => {
    const r = new BucketRing(["v"] as const, 1000, 4);
    r.add(10_000, { v: 1 });
    r.add(6_000, { v: 99 }); // same slot (4 buckets), one lap older
    const pts = r.points(10_500);
    expect(pts).toHaveLength(1);
    expect(pts[0]!.avg.v).toBe(1);
  });

  test("ignores non-finite times and values", () => {
    const r = new BucketRing(["v"] as const, 1000, 4);
    r.add(Number.NaN, { v: 1 });
    r.add(1000, { v: Number.POSITIVE_INFINITY });
    const pts = r.points(1500);
    expect(pts).toHaveLength(1);
    expect(pts[0]!.count.v).toBe(0);
    expect(pts[0]!.avg.v).toBeNull();
  });
});

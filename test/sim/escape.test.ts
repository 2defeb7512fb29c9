import { describe, expect, test } from "bun:test";
import { EscapeDetector } from "../../src/sim/escape.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");

describe("EscapeDetector (+++ with guard time)", () => {
  test("silence, +++, silence → escape; the pluses never reach the data stream", () => {
    const d = new EscapeDetector(1000);
    d.reset(0);
    expect(text(d.input(bytes("abc"), 10))).toBe("abc");
    expect(text(d.input(bytes("+++"), 1010))).toBe("");
    expect(d.deadline).toBe(2010);
    expect(d.poll(2009)).toBe(false);
    expect(d.poll(2010)).toBe(true);
    expect(d.poll(5000)).toBe(false);
  });

  test("pluses split over several reads still count", () => {
    const d = new EscapeDetector(1000);
    d.reset(0);
    expect(text(d.input(bytes("+"), 1000))).toBe("");
    expect(text(d.input(bytes("+"), 1100))).toBe("");
    expect(text(d.input(bytes("+"), 1200))).toBe("");
    expect(d.poll(2200)).toBe(true);
  });

  test("no leading guard time: +++ is data", () => {
    const d = new EscapeDetector(1000);
    d.reset(0);
    expect(text(d.input(bytes("+++"), 500))).toBe("+++");
    expect(d.deadline).toBeNull();
    expect(text(d.input(bytes("x+++"), 5000))).toBe("x+++");
  });

  test("data after the pluses within the guard time: all of it is data", () => {
    const d = new EscapeDetector(1000);
    d.reset(0);
    expect(text(d.input(bytes("++"), 2000))).toBe("");
    expect(text(d.input(bytes("+x"), 2100))).toBe("+++x");
    expect(d.poll(9999)).toBe(false);
    d.input(bytes("+++"), 20_000);
    expect(text(d.input(bytes("y"), 20_500))).toBe("+++y");
    expect(d.poll(30_000)).toBe(false);
  });

  test("a fourth plus is data", () => {
    const d = new EscapeDetector(1000);
    d.reset(0);
    expect(text(d.input(bytes("++++"), 2000))).toBe("++++");
    expect(d.poll(9999)).toBe(false);
  });
});

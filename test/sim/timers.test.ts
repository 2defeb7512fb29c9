import { describe, expect, test } from "bun:test";
import { TimerTable } from "../../src/sim/timers.ts";

type K = "a" | "b" | "c";

/** Every timer due at `now`, in the order the table hands them out. */
function drain(t: TimerTable<K>, now: number): string[] {
  const fired: string[] = [];
  for (let due = t.takeDue(now); due !== null; due = t.takeDue(now)) fired.push(`${due.kind}@${due.at}`);
  return fired;
}

describe("TimerTable", () => {
  test("next() is the earliest deadline; nothing armed is null", () => {
    const t = new TimerTable<K>();
    expect(t.next()).toBeNull();
    t.arm("a", 300);
    t.arm("b", 100);
    expect(t.next()).toBe(100);
    t.disarm("b");
    expect(t.next()).toBe(300);
    t.clear();
    expect(t.next()).toBeNull();
  });

  test("takeDue hands out due timers earliest first and removes them; a timer not yet due stays", () => {
    const t = new TimerTable<K>();
    t.arm("a", 30);
    t.arm("b", 10);
    t.arm("c", 50);
    expect(t.takeDue(5)).toBeNull();
    expect(drain(t, 30)).toEqual(["b@10", "a@30"]);
    expect(t.has("c")).toBe(true);
    expect(t.has("a")).toBe(false);
  });

  test("same deadline: the kind armed first goes first; re-arming keeps its place, disarm and arm moves it last", () => {
    const t = new TimerTable<K>();
    t.arm("a", 10);
    t.arm("b", 10);
    t.arm("c", 10);
    t.arm("a", 10);
    expect(drain(t, 10)).toEqual(["a@10", "b@10", "c@10"]);
    t.arm("a", 10);
    t.arm("b", 10);
    t.disarm("a");
    t.arm("a", 10);
    expect(drain(t, 10)).toEqual(["b@10", "a@10"]);
  });

  test("one deadline per kind: arming again replaces it", () => {
    const t = new TimerTable<K>();
    t.arm("a", 10);
    t.arm("a", 70);
    expect(drain(t, 50)).toEqual([]);
    expect(drain(t, 70)).toEqual(["a@70"]);
  });

  test("a handler may arm while the owner drains: a timer armed already due is seen in the same pass", () => {
    const t = new TimerTable<K>();
    t.arm("a", 10);
    const fired: string[] = [];
    for (let due = t.takeDue(20); due !== null; due = t.takeDue(20)) {
      fired.push(due.kind);
      if (due.kind === "a") t.arm("b", 15);
    }
    expect(fired).toEqual(["a", "b"]);
  });
});

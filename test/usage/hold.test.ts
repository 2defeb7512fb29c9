import { describe, expect, test } from "bun:test";
import { cause } from "../../src/core/cause.ts";
import type { RecoveryDecision, RecoveryPolicy } from "../../src/core/recovery-policy.ts";
import { UsageHoldPolicy } from "../../src/usage/hold.ts";

/** A policy that records what reached it. */
function recorder(): RecoveryPolicy & { calls: string[] } {
  const calls: string[] = [];
  const d = (why: string, now: number): RecoveryDecision => ({ action: "redial", notBefore: now + 1000, reason: why });
  return {
    calls,
    onBringUpFailure: (c, now) => (calls.push(`bringup:${c.code}`), d("ladder", now)),
    onLinkLost: (c, now) => (calls.push(`lost:${c.code}`), d("ladder", now)),
    onNetworkBackoff: (until) => (calls.push("backoff"), { action: "redial", notBefore: until, reason: "backoff" }),
    onActionStarted: (a, _now, forced) => void calls.push(`started:${a}:${forced}`),
    onActionUndelivered: (a) => void calls.push(`undelivered:${a}`),
    onConnected: () => void calls.push("connected"),
    onConfigChanged: () => void calls.push("config"),
  };
}

const cycleEnd = 5_000_000;

describe("the stop cap's hold policy", () => {
  test("data-cap-reached waits for the cycle's end without the ladder seeing it; other causes go to the ladder", () => {
    const inner = recorder();
    let until: number | null = cycleEnd;
    const planned: string[] = [];
    const p = new UsageHoldPolicy(inner, { holdUntil: () => until }, (r) => planned.push(r));
    const d = p.onLinkLost(cause("data-cap-reached"), 1000);
    expect(d).toMatchObject({ action: "redial", notBefore: cycleEnd, watchRegistration: false });
    expect(d.reason).toContain("data cap reached");
    expect(p.onBringUpFailure(cause("data-cap-reached"), 2000).notBefore).toBe(cycleEnd);
    expect(inner.calls).toEqual([]);
    expect(p.heldUntil(2000)).toBe(cycleEnd);
    // The redial at the cycle's end is reported to the ladder as a planned one.
    p.onActionStarted("redial", cycleEnd, false);
    expect(planned).toHaveLength(1);
    expect(inner.calls).toEqual(["started:redial:false"]);
    expect(p.heldUntil(cycleEnd)).toBeNull();
    // A link fault is the ladder's.
    expect(p.onLinkLost(cause("peer-dead"), 3000).reason).toBe("ladder");
    expect(inner.calls).toContain("lost:peer-dead");
    // Lifted meanwhile (resumed during the hang-up): dial at once.
    until = null;
    expect(p.onLinkLost(cause("data-cap-reached"), 4000)).toMatchObject({ notBefore: 4000, reason: "data cap lifted" });
  });
});

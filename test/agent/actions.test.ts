import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { cause } from "../../src/core/cause.ts";
import type { LinkState } from "../../src/core/agent-events.ts";
import { RecoveryLadder, type LadderOptions } from "../../src/health/ladder.ts";
import { ladderGuardedActions, type ActionTarget } from "../../src/agent/actions.ts";

const M = 60_000;
const VENDOR: LadderOptions = { backoffMs: [0, 10 * M, 30 * M, 60 * M], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: false, reboot: false };

/** What the supervisor does: report a failed bring-up, then start the decided action. Returns the last action. */
function fail(ladder: RecoveryLadder, sched: ManualScheduler, times: number): string {
  let action = "";
  for (let i = 0; i < times; i++) {
    const d = ladder.onBringUpFailure(cause("no-carrier"), sched.now());
    if (d.notBefore > sched.now()) sched.advanceTo(d.notBefore);
    action = d.action;
    ladder.onActionStarted(d.action, sched.now());
  }
  return action;
}

function target(state: LinkState): ActionTarget & { resets: number } {
  return {
    state,
    resets: 0,
    requestRedial() {},
    requestModemReset() {
      this.resets++;
    },
  };
}

describe("operator actions respect the vendor's spacing of resets", () => {
  test("a reset requested right after the ladder's reset is refused until the next backoff step, unless forced", async () => {
    const sched = new ManualScheduler();
    const ladder = new RecoveryLadder(VENDOR, null, sched.now());
    // 3 failed dials → the ladder's first module reset, at once (vendor rule); it runs now.
    expect(fail(ladder, sched, 3)).toBe("module-reset");
    const resetAt = sched.now();
    sched.advance(30_000);
    // The modem is booting / dialling again after that reset; a person clicks "reset modem".
    const sup = target("syncing");
    const actions = ladderGuardedActions(sup, ladder, sched);
    const r = await actions.resetModem(false);
    expect(r.outcome).toBe("refused-backoff");
    expect(r.nextActionAt).toBe(resetAt + 10 * M);
    expect(sup.resets).toBe(0);
    // Forced, it runs.
    expect((await actions.resetModem(true)).outcome).toBe("started");
    expect(sup.resets).toBe(1);
  });

  test("once the step has passed (or with no reset in this escalation) a reset is accepted", async () => {
    const sched = new ManualScheduler();
    const ladder = new RecoveryLadder(VENDOR, null, sched.now());
    const sup = target("connected");
    const actions = ladderGuardedActions(sup, ladder, sched);
    expect((await actions.resetModem(false)).outcome).toBe("started");
    expect(fail(ladder, sched, 3)).toBe("module-reset");
    sched.advance(10 * M);
    expect((await actions.resetModem(false)).outcome).toBe("started");
    expect(sup.resets).toBe(2);
  });

  test("during a network back-off an unforced reset is refused: a module restart only restarts the network's timer", async () => {
    const sched = new ManualScheduler();
    const ladder = new RecoveryLadder(VENDOR, null, sched.now());
    const until = sched.now() + 20 * M;
    ladder.onNetworkBackoff(until, sched.now());
    const sup = target("waiting");
    const actions = ladderGuardedActions(sup, ladder, sched);
    const r = await actions.resetModem(false);
    expect(r.outcome).toBe("refused-backoff");
    expect(r.nextActionAt).toBe(until);
    expect(sup.resets).toBe(0);
    expect((await actions.resetModem(true)).outcome).toBe("started");
  });
});

import { describe, expect, test } from "bun:test";
import { isAgentAlive, BRINGUP_SILENCE_MS, WAIT_MARGIN_MS, type LivenessInputs } from "../../src/agent/liveness.ts";

const T0 = 1_800_000_000_000;
const base: LivenessInputs = { state: "connected", stateSince: T0, lastRxAt: T0, waitingUntil: null, keepalive: { intervalMs: 30_000, failures: 4 } };

describe("watchdog liveness", () => {
  test("stopped is never alive", () => {
    expect(isAgentAlive({ ...base, state: "stopped" }, T0)).toBe(false);
  });

  test("connected stays alive while bytes arrive within the echo bound", () => {
    const bound = 30_000 * 6 + 60_000;
    expect(isAgentAlive(base, T0 + bound)).toBe(true);
    expect(isAgentAlive(base, T0 + bound + 1)).toBe(false);
    expect(isAgentAlive({ ...base, lastRxAt: T0 + bound }, T0 + bound + 1)).toBe(true);
  });

  test("connected on a bearer without a keepalive: an idle link's silence is no wedge", () => {
    const quiet = { ...base, keepalive: null, lastRxAt: null };
    expect(isAgentAlive(quiet, T0 + 24 * 3_600_000)).toBe(true);
  });

  test("a one-hour reset backoff is not mistaken for a wedge", () => {
    const waiting = { ...base, state: "waiting" as const, waitingUntil: T0 + 3_600_000 };
    expect(isAgentAlive(waiting, T0 + 3_600_000)).toBe(true);
    expect(isAgentAlive(waiting, T0 + 3_600_000 + WAIT_MARGIN_MS)).toBe(true);
    expect(isAgentAlive(waiting, T0 + 3_600_000 + WAIT_MARGIN_MS + 1)).toBe(false);
  });

  test("a bring-up state silent past the bound is a wedge", () => {
    const registering = { ...base, state: "registering" as const, lastRxAt: null };
    expect(isAgentAlive(registering, T0 + BRINGUP_SILENCE_MS)).toBe(true);
    expect(isAgentAlive(registering, T0 + BRINGUP_SILENCE_MS + 1)).toBe(false);
  });
});

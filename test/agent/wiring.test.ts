/**
 * The agent's wiring pieces that carry a decision of their own, each alone:
 * the reload plan, the receive tracker behind the systemd watchdog, the
 * ladder's maintenance rule and the teardown order.
 */
import { describe, expect, test } from "bun:test";
import { planReload, LINK_SECTIONS } from "../../src/agent/reload.ts";
import { ReceiveTracker } from "../../src/agent/watchdog.ts";
import { Teardown } from "../../src/agent/teardown.ts";
import { RecoveryLadder, type LadderOptions } from "../../src/health/ladder.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import { parseConfig } from "../support/agent-rig.ts";

const base = `[modem]\nport = "/dev/ttyUSB2"\n[network]\napn = "iot.example"\n`;
const M = 60_000;

describe("planReload", () => {
  const prev = parseConfig(base);

  test("an unchanged config: no sections, no redial", () => {
    const p = planReload(prev, parseConfig(base), null);
    expect(p).toEqual({ changed: [], linkChanged: false, redialNow: false, detail: "no changes" });
  });

  test("a new APN is a link change: redial now when no back-off runs", () => {
    const p = planReload(prev, parseConfig(base.replace("iot.example", "other.apn")), null);
    expect(p.changed).toEqual(["network"]);
    expect(p.linkChanged).toBe(true);
    expect(p.redialNow).toBe(true);
    expect(p.detail).toBe("changed: network (applied on the next bring-up or restart)");
  });

  test("during a network back-off the link change waits: no redial, the detail names the end", () => {
    const until = Date.UTC(2030, 0, 1, 0, 10);
    const p = planReload(prev, parseConfig(base.replace("iot.example", "other.apn")), until);
    expect(p.linkChanged).toBe(true);
    expect(p.redialNow).toBe(false);
    expect(p.detail).toContain("after the network's back-off ends at 2030-01-01T00:10:00.000Z");
  });

  test("a change outside the link sections (log level) is reported but redials nothing", () => {
    const p = planReload(prev, parseConfig(`${base}[log]\nlevel = "debug"\n`), null);
    expect(p.changed).toEqual(["log"]);
    expect(p.linkChanged).toBe(false);
    expect(p.redialNow).toBe(false);
  });

  test("the link sections are exactly those a bring-up reads", () => {
    expect([...LINK_SECTIONS].sort()).toEqual(["auth", "modem", "network", "ppp", "radio", "sim"]);
  });

  test("the plan never mutates either config", () => {
    const next = parseConfig(base.replace("iot.example", "other.apn"));
    const before = [JSON.stringify(prev), JSON.stringify(next)];
    planReload(prev, next, null);
    expect([JSON.stringify(prev), JSON.stringify(next)]).toEqual(before);
  });
});

describe("ReceiveTracker", () => {
  test("the last receive time moves only when bytesIn changes", () => {
    const rx = new ReceiveTracker();
    expect(rx.observe(null, 1000)).toBeNull();
    expect(rx.observe(0, 2000)).toBe(2000);
    expect(rx.observe(0, 3000)).toBe(2000);
    expect(rx.observe(120, 4000)).toBe(4000);
    expect(rx.observe(null, 5000)).toBe(4000);
    // A new bearer starts its counters again: a different reading is progress too.
    expect(rx.observe(10, 6000)).toBe(6000);
  });
});

describe("RecoveryLadder.acceptMaintenance", () => {
  const opts: LadderOptions = { backoffMs: [0, 10 * M, 30 * M, 60 * M], dialFailures: 3, stableAfterMs: 10 * M, powerCycle: false, reboot: false };

  test("outside a network back-off the rung is accepted and marked forced", () => {
    const ladder = new RecoveryLadder(opts, null, 0);
    expect(ladder.acceptMaintenance("module-reset", 1000)).toBeNull();
    ladder.onActionStarted("module-reset", 1000, false);
    // Forced: a planned reset does not set the escalation's "last reset" spacing for the next one.
    expect(ladder.resetAllowedAt(1001)).toBeNull();
  });

  test("during a network back-off it is refused with the back-off's end", () => {
    const ladder = new RecoveryLadder(opts, null, 0);
    ladder.onNetworkBackoff(20 * M, 1000);
    const refused = ladder.acceptMaintenance("redial", 2000);
    expect(refused).toBe(`maintenance redial skipped: the network's back-off runs until ${new Date(20 * M).toISOString()}`);
    expect(ladder.acceptMaintenance("redial", 20 * M + 1)).toBeNull();
  });
});

describe("Teardown", () => {
  test("runs steps last-added first, once; a failing step is logged and the rest still run", async () => {
    const sink = new MemorySink();
    const log = createLogger({ level: "debug", format: "text", sink });
    const order: string[] = [];
    const t = new Teardown();
    t.add(() => void order.push("a"));
    t.add(() => {
      throw new Error("tun busy");
    });
    t.add(async () => void order.push("c"));
    await t.run(log);
    await t.run(log);
    expect(order).toEqual(["c", "a"]);
    expect(sink.lines.some((l) => l.includes("teardown step failed: tun busy"))).toBe(true);
  });
});

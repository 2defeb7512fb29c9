/**
 * The status page's cards for the fields issue 14 and 17 added to /status
 * (CMUX, radio policy, APN and SIM failover, network time, SMS control),
 * rendered by the page's own script in headless Chromium from a live app:
 * the text a person reads, masking of a phone number, the CMUX card hidden
 * on a plain port, and a card following the SSE stream.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Page } from "playwright-core";
import { cause } from "../../src/core/cause.ts";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { StatusModel } from "../../src/status/model.ts";
import type { UsageStatus } from "../../src/status/usage.ts";
import { FakeLinkSource } from "../support/fake-source.ts";
import { featureEvents, MASKED_SENDER, RAW_SENDER } from "../support/feature-events.ts";
import { CHROMIUM_PATH } from "./page-check.ts";

/**
 * One fixed time for the app and the browser, so "50 s ago" is exact and no
 * timestamp holds a standalone "42": in a full run the process-wide secret
 * registry may hold "42" (test/core/log.test.ts), and /status bodies are
 * redacted through it.
 */
const NOW = Date.parse("2025-02-20T12:00:00Z");

/** 2.5 MB used: the page once printed "2. MB" for such a value. */
function usageOf(now: number): UsageStatus {
  const start = new Date(now - 86_400_000).toISOString(), end = new Date(now + 20 * 86_400_000).toISOString();
  return {
    sim: "89001*************34",
    cycle: { start, end, bytesIn: 2_000_000, bytesOut: 500_000, day: 1, timezone: "UTC" },
    bytesTotal: 2_500_000,
    caps: { warn: null, quiet: null, stop: null },
    reached: [],
    lifted: [],
    enforcing: { quiet: false, stop: false },
    heldUntil: null,
    previousCycle: null,
    sims: [],
    savedAt: null,
    probes: { quietLiveness: false, quiet: null, roundsActive: 1, roundsSkipped: 0, bytesTotal: 0, bytesLast24h: 0, bytesPerDayEstimate: null, bytesComplete: true },
  } as UsageStatus;
}

/** Serve a status model that follows `bus`, open the page, run `check` on it; console errors fail the test. */
async function withPage(bus: EventBus<EventBase>, usage: UsageStatus | null, check: (page: Page) => Promise<void>): Promise<void> {
  const clock = { now: () => NOW };
  const status = new StatusModel({ clock, version: "0.1.0", startedAt: NOW - 60_000, usage: () => usage });
  const unfollow = status.follow(bus);
  const server = startHttpServer(createHttpApp({ events: bus, clock, status, token: null }), "127.0.0.1:0");
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    await page.clock.setFixedTime(NOW);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(server.url + "/", { waitUntil: "domcontentloaded", timeout: 15_000 });
    // render() fills #version last-but-one of the plain fields; wait until a full render happened
    await page.waitForFunction(() => (document.getElementById("version")?.textContent ?? "") === "0.1.0", undefined, { timeout: 15_000 });
    await check(page);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    await server.stop();
    unfollow();
  }
}

const text = (page: Page, id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? null, id);

describe.skipIf(!existsSync(CHROMIUM_PATH))("status page: CMUX, radio, failover, time and SMS cards", () => {
  test("every card shows its facts; the SMS sender is masked; a new SMS command arrives live", async () => {
    const bus = new EventBus<EventBase>(2000);
    const src = new FakeLinkSource(bus, () => NOW);
    src.bringUp(4000);
    for (const e of featureEvents(NOW)) bus.emit(e);
    await withPage(bus, usageOf(NOW), async (page) => {
      await page.waitForFunction(() => document.getElementById("smscmds")?.textContent === "2", undefined, { timeout: 10_000 });
      expect(await page.evaluate(() => (document.getElementById("muxcard") as HTMLElement).hidden)).toBe(false);
      expect(await page.evaluate(() => (document.getElementById("muxcard") as HTMLElement).offsetHeight > 0)).toBe(true);
      expect(await text(page, "mux")).toStartWith("CMUX open, N1 127 since ");
      expect(await text(page, "muxdlcis")).toBe("DLCI 1 control open, DLCI 2 data open DCD on");
      expect(await text(page, "muxframes")).toBe("in 5120, out 4800; bad FCS 2, retransmissions 1");
      expect(await text(page, "muxfault")).toBe("none");

      expect(await text(page, "radio")).toBe("applied (50 s ago)");
      expect(await text(page, "rsettings")).toBe("technologies written (was gsm), bands unchanged, roaming unchanged");
      expect(await text(page, "rnotes")).toBe("operator left as the modem has it");
      expect(await text(page, "roaming")).toBe("no");
      expect(await text(page, "rwrites")).toBe("1");
      expect(await text(page, "apn")).toBe("iot.backup (2 of 3), failovers 1");
      expect(await text(page, "simslot")).toBe("slot 2, switches 1, last 30 s ago");

      expect(await text(page, "ntime")).toEndWith(" (nitz, read 20 s ago)");
      expect(await text(page, "noffset")).toBe("system clock 1.5 s ahead");
      expect(await text(page, "clockstep")).toBe("none");
      expect(await text(page, "clockset")).toBe("set by cellkeep 19 s ago");

      expect(await text(page, "smsrej")).toBe("3 (rate-limited 2, unknown-sender 1)");
      expect(await text(page, "smsreplies")).toBe("1 sent, 1 failed");
      expect(await text(page, "smslast")).toMatch(/^redial \(forced\) from \+4917\*{6}67: started — redialling \(10 s ago\)$/);
      expect(await page.evaluate(() => document.body.innerText)).not.toContain(RAW_SENDER);

      expect(await text(page, "usage")).toBe("2.5 MB — in 2 MB, out 500 kB");

      // a command handled after the page loaded shows up through the SSE stream
      await page.waitForFunction(() => document.getElementById("live")?.className === "on", undefined, { timeout: 10_000 });
      bus.emit({ type: "sms.command", at: NOW + 1000, from: MASKED_SENDER, command: "status", force: false, outcome: "done", message: "status sent" } as EventBase);
      await page.waitForFunction(() => document.getElementById("smscmds")?.textContent === "3", undefined, { timeout: 10_000 });
      expect(await text(page, "smslast")).toMatch(/^status from \+4917\*{5}23: done — status sent \(in 1 s\)$/);
    });
  }, 60_000);

  test("a plain port hides the CMUX card; a failed clock set and a roaming hold are named; absent facts show —", async () => {
    const bus = new EventBus<EventBase>(2000);
    const src = new FakeLinkSource(bus, () => NOW);
    src.bringUp(4000);
    bus.emit({ type: "time.system-clock", at: NOW, result: "failed", reason: "unset", from: 0, to: 1, method: "clock_settime", cause: cause("clock-set-failed") } as EventBase);
    src.setState("waiting", cause("roaming-denied"));
    await withPage(bus, null, async (page) => {
      await page.waitForFunction(() => document.getElementById("state")?.textContent === "waiting", undefined, { timeout: 10_000 });
      await page.waitForFunction(() => (document.getElementById("clockset")?.textContent ?? "").startsWith("FAILED"), undefined, { timeout: 10_000 });
      expect(await page.evaluate(() => (document.getElementById("muxcard") as HTMLElement).hidden)).toBe(true);
      expect(await page.evaluate(() => (document.getElementById("muxcard") as HTMLElement).offsetHeight)).toBe(0);
      expect(await text(page, "clockset")).toStartWith("FAILED: clock-set-failed (time.set_system_clock could not set");
      expect(await text(page, "roaming")).toBe("DENIED: waiting for the home network, no dialling");
      expect(await text(page, "radio")).toBe("—");
      expect(await text(page, "apn")).toBe("—");
      expect(await text(page, "simslot")).toBe("—");
      expect(await text(page, "ntime")).toBe("—");
      expect(await text(page, "noffset")).toBe("—");
      expect(await text(page, "smscmds")).toBe("0");
      expect(await text(page, "smsrej")).toBe("0");
      expect(await text(page, "smslast")).toBe("—");
      expect(await text(page, "usage")).toBe("—");
    });
  }, 60_000);
});

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventBus, type EventBase } from "../../src/core/events.ts";
import { cause } from "../../src/core/cause.ts";
import { createHttpApp } from "../../src/http/app.ts";
import { startHttpServer } from "../../src/http/server.ts";
import { FakeLinkSource, FAKE_IPV4 } from "../support/fake-source.ts";
import { CHROMIUM_PATH, checkStatusPage } from "./page-check.ts";

/** Screenshots stay for a person to look at (path printed); the dir is removed unless CELLKEEP_KEEP_SCREENSHOT=1. */
const shotDir = mkdtempSync(join(tmpdir(), "cellkeep-page-"));
afterAll(() => {
  if (process.env.CELLKEEP_KEEP_SCREENSHOT !== "1") rmSync(shotDir, { recursive: true, force: true });
});

describe.skipIf(!existsSync(CHROMIUM_PATH))("status page in headless Chromium", () => {
  test("shows state, address, timeline and plots with points that grow live from SSE", async () => {
    const bus = new EventBus<EventBase>(2000);
    const src = new FakeLinkSource(bus, () => Date.now());
    // 6 h of history (one sample per 5 min), then a bring-up that just finished
    src.backfill(6 * 3_600_000, 300_000);
    src.bringUp(4000);
    src.signal();
    src.probe(true);
    const app = createHttpApp({
      events: bus,
      clock: { now: () => Date.now() },
      version: "0.1.0",
      startedAt: Date.now() - 3_600_000,
      token: null,
      counters: () => ({ bytesIn: 1_234_567, bytesOut: 234_567, packetsIn: 4567, packetsOut: 3456, errors: { badFcs: 1, runts: 0 } }),
    });
    // bucket the live samples one per 60 s as the server does; the page adds raw live points itself
    const server = startHttpServer(app, "127.0.0.1:0");
    let stopLive: () => void = () => {};
    try {
      // keep emitting signal/probe reports only once the page is loading, so the live growth is real
      stopLive = src.startLive(300);
      const shot = join(shotDir, "status-page.png");
      const r = await checkStatusPage(server.url + "/", { expectState: "connected", expectAddress: FAKE_IPV4.local, screenshotPath: shot, timeoutMs: 15_000 });
      console.log(`status page screenshot: ${shot}`);
      expect(r.state).toBe("connected");
      expect(r.address).toBe(FAKE_IPV4.local);
      expect(r.plotPoints.rsrp).toBeGreaterThanOrEqual(60);
      expect(r.plotPoints.rtt).toBeGreaterThanOrEqual(60);
      expect(r.plotPointsAfterLive!.rsrp).toBeGreaterThan(r.plotPoints.rsrp);
      expect(r.liveIndicator).toBe("live");
      expect(r.timelineSteps).toBeGreaterThan(10);
      expect(r.requests.every((u) => u.startsWith(server.url))).toBe(true);
      expect(r.requests.some((u) => u.endsWith("/events/stream"))).toBe(true);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      stopLive();
      await server.stop();
    }
  }, 60_000);

  test("a link that is down shows the cause and its hint in the banner", async () => {
    const bus = new EventBus<EventBase>(2000);
    const src = new FakeLinkSource(bus, () => Date.now());
    src.backfill(3_600_000, 60_000);
    src.bringUp(4000);
    src.flap();
    src.setState("waiting", cause("registration-denied"));
    bus.emit({ type: "ppp.down", at: Date.now(), cause: cause("registration-denied") } as EventBase);
    const app = createHttpApp({ events: bus, clock: { now: () => Date.now() }, version: "0.1.0", startedAt: Date.now(), token: null });
    const server = startHttpServer(app, "127.0.0.1:0");
    try {
      const r = await checkStatusPage(server.url + "/", {
        expectState: "waiting",
        expectAddress: null,
        expectCause: "registration-denied",
        requireLiveUpdate: false,
        screenshotPath: join(shotDir, "status-page-down.png"),
        timeoutMs: 15_000,
      });
      expect(r.state).toBe("waiting");
      expect(r.cause).toBe("registration-denied");
      expect(r.address).toBe("—");
    } finally {
      await server.stop();
    }
  }, 60_000);
});

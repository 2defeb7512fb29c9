/**
 * Browser check of the status page, reusable against any running agent:
 * opens the URL in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), waits for the state, the IPv4 address and plots with data
 * points, then checks that the plots grow from the live SSE stream (the
 * caller's event source must keep emitting signal/probe events) and saves a
 * screenshot. Throws with a readable message when a check fails.
 *
 *   const r = await checkStatusPage("http://127.0.0.1:8080/", { expectState: "connected", screenshotPath: "/tmp/page.png" });
 */
import { chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface PageCheckOptions {
  /** Expected text of #state (e.g. "connected"); default: any non-placeholder value. */
  expectState?: string;
  /** Expected IPv4 address in #ipv4; default: any dotted quad; null: no address expected (link down). */
  expectAddress?: string | null;
  /** Expected cause code shown in the cause banner (the hint must be shown too). */
  expectCause?: string;
  /** Require the plots to gain points from the SSE stream (default true). */
  requireLiveUpdate?: boolean;
  /** Where to save a PNG screenshot; default: none. */
  screenshotPath?: string;
  /** Per-step timeout (default 10 s). */
  timeoutMs?: number;
}

export interface PageCheckResult {
  state: string;
  address: string;
  cause: string;
  plotPoints: { rsrp: number; sinr: number; rtt: number };
  plotPointsAfterLive: { rsrp: number; sinr: number; rtt: number } | null;
  timelineSteps: number;
  liveIndicator: string;
  /** Every URL the page requested (all must be on the page's own origin). */
  requests: string[];
  consoleErrors: string[];
  screenshotPath: string | null;
}

export async function checkStatusPage(url: string, opts: PageCheckOptions = {}): Promise<PageCheckResult> {
  const timeout = opts.timeoutMs ?? 10_000;
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    // playwright gives the browser a fresh temporary profile (user-data-dir) and removes it on close
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1300 } });
    const requests: string[] = [];
    const consoleErrors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));

    await page.goto(url, { timeout, waitUntil: "domcontentloaded" });

    const stateSel = "#state";
    if (opts.expectState) {
      await page.waitForFunction((s) => document.querySelector("#state")?.textContent === s, opts.expectState, { timeout });
    } else {
      await page.waitForFunction(() => (document.querySelector("#state")?.textContent ?? "…") !== "…", undefined, { timeout });
    }
    const state = (await page.textContent(stateSel)) ?? "";

    if (opts.expectAddress === null) {
      // link down: nothing to wait for
    } else if (opts.expectAddress) {
      await page.waitForFunction((a) => document.querySelector("#ipv4")?.textContent === a, opts.expectAddress, { timeout });
    } else {
      await page.waitForFunction(() => /^\d+\.\d+\.\d+\.\d+$/.test(document.querySelector("#ipv4")?.textContent ?? ""), undefined, { timeout });
    }
    const address = (await page.textContent("#ipv4")) ?? "";

    const points = () =>
      page.evaluate(() => {
        const n = (id: string) => Number(document.getElementById(id)?.getAttribute("data-points") ?? 0);
        return { rsrp: n("plot-rsrp"), sinr: n("plot-sinr"), rtt: n("plot-rtt") };
      });
    await page.waitForFunction(
      () => ["plot-rsrp", "plot-rtt"].every((id) => Number(document.getElementById(id)?.getAttribute("data-points") ?? 0) > 0),
      undefined,
      { timeout },
    );
    const plotPoints = await points();
    // a plot with data must actually draw: a polyline with as many vertices as points
    const drawn = await page.evaluate(() => (document.querySelector("#plot-rsrp polyline")?.getAttribute("points") ?? "").trim().split(/\s+/).length);
    if (drawn !== plotPoints.rsrp) throw new Error(`RSRP plot draws ${drawn} vertices for ${plotPoints.rsrp} points`);

    let plotPointsAfterLive: PageCheckResult["plotPointsAfterLive"] = null;
    if (opts.requireLiveUpdate ?? true) {
      await page.waitForFunction(() => document.querySelector("#live")?.className === "on", undefined, { timeout });
      await page.waitForFunction(
        (before) => Number(document.getElementById("plot-rsrp")?.getAttribute("data-points") ?? 0) > before.rsrp
          && Number(document.getElementById("plot-rtt")?.getAttribute("data-points") ?? 0) > before.rtt,
        plotPoints,
        { timeout },
      );
      plotPointsAfterLive = await points();
    }
    const timelineSteps = await page.locator("#timeline li").count();
    if (opts.expectCause) {
      await page.waitForFunction(
        (c) => document.querySelector("#cause")?.textContent === c && !(document.getElementById("causebox") as HTMLElement).hidden
          && (document.querySelector("#hint")?.textContent ?? "").length > 10,
        opts.expectCause,
        { timeout },
      );
    }
    const cause = (await page.textContent("#cause")) ?? "";
    const liveIndicator = (await page.textContent("#live")) ?? "";

    const origin = new URL(url).origin;
    const foreign = requests.filter((r) => !r.startsWith(origin) && !r.startsWith("data:"));
    if (foreign.length) throw new Error(`the page requested external resources: ${foreign.join(", ")}`);
    if (consoleErrors.length) throw new Error(`the page logged errors: ${consoleErrors.join(" | ")}`);

    let screenshotPath: string | null = null;
    if (opts.screenshotPath) {
      await page.screenshot({ path: opts.screenshotPath, fullPage: true });
      screenshotPath = opts.screenshotPath;
    }
    return { state, address, cause, plotPoints, plotPointsAfterLive, timelineSteps, liveIndicator, requests, consoleErrors, screenshotPath };
  } finally {
    await browser.close();
  }
}

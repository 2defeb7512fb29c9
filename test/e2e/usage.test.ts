/**
 * Data usage end to end: the whole agent against the virtual modem on a real
 * pty, with HTTP. The SIM's ICCID comes from the modem (AT+QCCID), the bytes
 * from the data plane's IP counters (the health probes' echoes through the
 * link), and /status, /metrics and the usage file show them. A small stop cap
 * hangs the link up and keeps it down (cause data-cap-reached, no ladder
 * action) until POST /actions/usage-resume dials again.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { UsageStatus } from "../../src/status/usage.ts";
import { ICCID } from "../../src/sim/quectel-text.ts";
import { is, startRig, stopAllRigs, tempDir } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(30_000);
const T = 15_000;

/** Waits until `n` ICMP probes have succeeded since the rig started. */
function probesOk(r: Awaited<ReturnType<typeof startRig>>, n: number) {
  let seen = 0;
  return r.events.waitFor((e) => is.probeOk("icmp")(e) && ++seen >= n, T);
}

async function usageOf(url: string): Promise<UsageStatus> {
  const s = (await (await fetch(`${url}/status`)).json()) as { usage: UsageStatus | null };
  if (!s.usage) throw new Error("no usage block in /status");
  return s.usage;
}

describe("data usage over a pty", () => {
  test("probe traffic is counted for the SIM the modem reports, shown in /status and /metrics, and saved", async () => {
    const r = await startRig({ scenarios: ["healthy"], overrides: { noHttp: false, httpListen: "127.0.0.1:0" }, tail: '[usage]\ncycle_day = 31\ntimezone = "UTC"\nwarn_at = "1GB"\n' });
    try {
      await r.events.waitFor(is.state("connected"), T);
      // Two probe rounds (ICMP echoes through the link); no need to wait for the 10 s count: /status counts on read.
      await probesOk(r, 2);
      const u = await usageOf(r.agent.httpUrl!);
      expect(u.sim).toBe(`${ICCID.slice(0, 5)}${"*".repeat(ICCID.length - 7)}${ICCID.slice(-2)}`);
      // At least two echo requests out and their replies in, 60 IP bytes each.
      expect(u.cycle.bytesOut).toBeGreaterThanOrEqual(120);
      expect(u.cycle.bytesIn).toBeGreaterThanOrEqual(120);
      expect(u.cycle.day).toBe(31);
      expect(u.caps).toEqual({ warn: 1_000_000_000, quiet: null, stop: null });
      expect(u.probes.roundsActive).toBeGreaterThanOrEqual(2);
      expect(u.probes.bytesTotal).toBeGreaterThanOrEqual(240);
      // One 8.8.8.8 echo per round every 1 s: 86,400 rounds × 120 bytes.
      expect(u.probes.bytesPerDayEstimate).toBe(86_400 * 120);
      const metrics = await (await fetch(`${r.agent.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/^cellkeep_usage_cycle_bytes\{direction="out"\} \d+$/m);
      expect(metrics).toContain('cellkeep_usage_cap_bytes{action="warn"} 1000000000');
      expect(metrics).toMatch(/^cellkeep_probe_bytes_per_day 10368000$/m);
      expect(metrics).not.toContain(ICCID);
      await r.agent.stop("test done");
      // A clean stop saves the counts under the full ICCID (the file is the agent's alone).
      const saved = JSON.parse(readFileSync(join(r.dir, "usage.json"), "utf8")) as { sims: Record<string, { bytesOut: number }> };
      expect(saved.sims[ICCID]!.bytesOut).toBeGreaterThanOrEqual(u.cycle.bytesOut);
    } finally {
      await r.stop();
    }
  });

  test("a stop cap hangs up and holds the link down without any ladder action; usage-resume dials again", async () => {
    const dir = tempDir();
    const tokenFile = join(dir, "token");
    const token = "usage-e2e-token-0123456789abcdef";
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    // 240 bytes: two rounds of one echo each way; the count runs every 10 s, and /status reads count too.
    const r = await startRig({
      scenarios: ["healthy"],
      dir,
      overrides: { noHttp: false, httpListen: "127.0.0.1:0" },
      tables: { http: `token_file = ${JSON.stringify(tokenFile)}` },
      tail: '[usage]\ntimezone = "UTC"\nstop_at = 240\n',
    });
    try {
      await r.events.waitFor(is.state("connected"), T);
      // Let two probe rounds spend the allowance, then a /status read counts it and acts.
      await probesOk(r, 2);
      await usageOf(r.agent.httpUrl!);
      await r.events.waitFor((e) => e.type === "usage.cap", T);
      const waiting = await r.events.waitFor(is.state("waiting", "data-cap-reached"), T);
      expect(waiting.cause?.hint).toContain("usage.stop_at");
      const held = await usageOf(r.agent.httpUrl!);
      expect(held.enforcing.stop).toBe(true);
      expect(held.heldUntil).not.toBeNull();
      expect(held.reached).toEqual(["stop"]);
      // No recovery action and no ladder escalation for a cap.
      expect(r.events.of("recovery.action")).toEqual([]);
      const status = (await (await fetch(`${r.agent.httpUrl}/status`)).json()) as { state: string; cause: { code: string } | null };
      expect(status.state).toBe("waiting");
      expect(status.cause?.code).toBe("data-cap-reached");
      // The resume needs the token like every action.
      expect((await fetch(`${r.agent.httpUrl}/actions/usage-resume`, { method: "POST" })).status).toBe(401);
      const mark = r.events.length;
      const res = await fetch(`${r.agent.httpUrl}/actions/usage-resume`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(202);
      expect(((await res.json()) as { outcome: string }).outcome).toBe("started");
      await r.events.waitFor(is.state("connected"), T, mark);
      const after = await usageOf(r.agent.httpUrl!);
      expect(after.lifted).toEqual(["stop"]);
      expect(after.enforcing.stop).toBe(false);
    } finally {
      await r.stop();
    }
  });
});

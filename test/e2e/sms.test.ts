/**
 * SMS control and the network's time against the whole agent over a pty
 * (issue 17). The t3396 scenario rejects every dial for a while: the IP link
 * is down and the agent waits out the network's back-off in command mode,
 * exactly when SMS control matters; the modem has one port, so the SMS are
 * read on the data port while it idles.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { SmsCommandEvent, SmsRejectedEvent, SmsReplyEvent, TimeNetworkEvent } from "../../src/core/agent-events.ts";
import { is, startRig, stopAllRigs } from "./harness.ts";

afterEach(stopAllRigs);
setDefaultTimeout(40_000);
const T = 15_000;
const ALLOWED = "+491701234567";

describe("SMS control over a pty", () => {
  test("status answered, wrong secret and unknown number deleted and counted, redial refused in the back-off, rate limit", async () => {
    const r = await startRig({
      // Every dial is refused for 600 s of modem time (12 s here): a network back-off with no IP.
      scenarios: ["t3396:600"],
      tail: `[sms]\nallow_from = ["${ALLOWED}"]\nsecret = "e2e-sms-pw"\nmax_per_hour = 3\n`,
    });
    try {
      await r.events.waitFor(is.cause("network-backoff"), T);
      await r.events.waitFor(is.state("waiting"), T);
      const modem = r.sim.modem;

      modem.deliverSms(ALLOWED, "e2e-sms-pw status");
      const first = await r.events.waitFor((e): e is SmsReplyEvent => e.type === "sms.reply", T);
      expect(first.ok).toBe(true);
      const status = modem.sentSms.map((m) => m.text).join(" ");
      expect(status).toContain("waiting");
      expect(status).toContain("network-backoff");
      expect(modem.sentSms[0]!.to).toBe(ALLOWED);

      modem.deliverSms(ALLOWED, "wrong-pw status");
      modem.deliverSms("+4930999999", "e2e-sms-pw reboot");
      await r.events.waitFor(() => r.events.of("sms.rejected").length >= 2, T);
      expect((r.events.of("sms.rejected") as SmsRejectedEvent[]).map((e) => e.reason).sort()).toEqual(["bad-secret", "unknown-sender"]);

      const before = modem.sentSms.length;
      modem.deliverSms(ALLOWED, "e2e-sms-pw redial");
      await r.events.waitFor(() => r.events.of("sms.reply").length >= 2, T);
      const cmd = r.events.of("sms.command").at(-1) as SmsCommandEvent;
      expect(cmd).toMatchObject({ command: "redial", outcome: "refused-backoff" });
      const refusal = modem.sentSms.slice(before).map((m) => m.text.replace(/^\d\/\d /, "")).join(" ");
      expect(refusal).toContain("redial: refused-backoff: the network's back-off runs until");

      // The fourth message from the allowed number this hour (max_per_hour = 3): deleted unanswered.
      const sent = modem.sentSms.length;
      modem.deliverSms(ALLOWED, "e2e-sms-pw status");
      await r.events.waitFor(() => (r.events.of("sms.rejected") as SmsRejectedEvent[]).some((e) => e.reason === "rate-limited"), T);
      expect(modem.sentSms.length).toBe(sent);
      expect(modem.core.sms.count).toBe(0);

      const snap = r.agent.status();
      expect(snap.sms).toMatchObject({ commands: 2, rejected: 3, rejectedBy: { "bad-secret": 1, "unknown-sender": 1, "rate-limited": 1 } });
      // The secret is in no event and no log line.
      expect(JSON.stringify(r.events.all)).not.toContain("e2e-sms-pw");
      expect(r.logs.lines.join("\n")).not.toContain("e2e-sms-pw");

      // The network's time was read on the same port (AT+QLTS) and is on /status.
      const t = (await r.events.waitFor((e): e is TimeNetworkEvent => e.type === "time.network", T)) as TimeNetworkEvent;
      expect(t.source === "qlts" || t.source === "nitz").toBe(true);
      expect(r.agent.status().time.source).not.toBeNull();
    } finally {
      await r.stop();
    }
  });
});

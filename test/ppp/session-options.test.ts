import { expect, test } from "bun:test";
import { clientSessionOptions, type PppConfigInput } from "../../src/ppp/options.ts";
import { PppSession } from "../../src/ppp/session.ts";

const cfg = {
  network: { apn: "internet", pdp_type: "IPV4V6", cid: 1, dial: "ATD*99#" },
  auth: { method: "chap", username: "u", password: "p4ss" },
  ppp: { mru: 1400, echo_interval: 20_000, echo_failures: 4, echo_only_when_idle: true, restart_timer: 2000, max_configure: 7, max_failure: 5, max_terminate: 2 },
} as PppConfigInput;

test("config keys map onto the session options", () => {
  const o = clientSessionOptions(cfg);
  expect(o).toMatchObject({
    role: "client",
    mru: 1400,
    echo: { intervalMs: 20_000, failures: 4, skipWhenBusy: true },
    ncps: { ipv4: true, ipv6: true },
    lcp: { restartMs: 2000, maxConfigure: 7 },
    auth: { method: "chap", username: "u" },
  });
  // ppp.restart_timer and max_configure reach the automaton: 7 requests, 2 s apart.
  const s = new PppSession(o);
  s.open(0);
  let sent = s.drain().frames.length;
  for (let t = 0; t <= 30_000; t += 500) {
    s.poll(t);
    sent += s.drain().frames.length;
  }
  expect(sent).toBe(7);
  expect(s.status().lastCause?.code).toBe("lcp-timeout");
});

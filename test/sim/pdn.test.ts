/** The network's answer to packet calls and the AT+CEER report (pdn.ts); the PDP context table (pdp.ts). */
import { describe, expect, test } from "bun:test";
import { PdnModel } from "../../src/sim/pdn.ts";
import { PdpContexts } from "../../src/sim/pdp.ts";

const NO_REPORT = '+CEER: "No report available"';

describe("PdnModel", () => {
  test("any APN, no back-off: every call is accepted and there is nothing to report", () => {
    const n = new PdnModel({ acceptApn: null, t3396Ms: null });
    expect(n.admit("", 0)).toBe(true);
    expect(n.admit("whatever", 1)).toBe(true);
    expect(n.ceer(2)).toBe(NO_REPORT);
  });

  test("apn-rejected: another APN is refused with ESM #27, the accepted one in any case passes", () => {
    const n = new PdnModel({ acceptApn: "internet", t3396Ms: null });
    expect(n.admit("iot.example", 0)).toBe(false);
    expect(n.ceer(0)).toBe('+CEER: "ESM reject",27,"Missing or unknown APN"');
    expect(n.admit("INTERNET", 1)).toBe(true);
  });

  test("t3396: the first attempt starts the timer; refusals until it runs out; the report counts down", () => {
    const n = new PdnModel({ acceptApn: null, t3396Ms: 30_000 });
    expect(n.admit("a", 1000)).toBe(false);
    expect(n.ceer(1000)).toBe('+CEER: "ESM reject",26,"Insufficient resources, T3396 30 s"');
    expect(n.ceer(21_001)).toBe('+CEER: "ESM reject",26,"Insufficient resources, T3396 10 s"');
    expect(n.ceer(40_000)).toBe('+CEER: "ESM reject",26,"Insufficient resources, T3396 0 s"');
    expect(n.admit("a", 30_999)).toBe(false);
    expect(n.admit("a", 31_000)).toBe(true);
    // A module reset does not restart the network's timer.
    n.reset();
    expect(n.admit("a", 31_001)).toBe(true);
  });

  test("how a call's end shows in AT+CEER", () => {
    const n = new PdnModel({ acceptApn: null, t3396Ms: null });
    n.callStarted();
    n.callEnded("drop-after");
    expect(n.ceer(0)).toBe('+CEER: "ESM deactivation",36,"Regular deactivation"');
    for (const reason of ["ath", "dtr", "ppp-terminated"] as const) {
      n.networkLost();
      n.callEnded(reason);
      expect(n.ceer(0)).toBe(NO_REPORT);
    }
    n.networkLost();
    n.callEnded("network-drop");
    expect(n.ceer(0)).toBe('+CEER: "EMM detach",10,"Implicitly detached"');
  });

  test("a refused login stays the report when PPP then ends, until the next call or reset", () => {
    const n = new PdnModel({ acceptApn: null, t3396Ms: null });
    n.callStarted();
    n.loginRefused();
    n.callEnded("ppp-terminated");
    expect(n.ceer(0)).toBe('+CEER: "ESM reject",29,"User authentication or authorization failed"');
    n.callStarted();
    expect(n.ceer(0)).toBe(NO_REPORT);
    n.loginRefused();
    n.reset();
    expect(n.ceer(0)).toBe(NO_REPORT);
  });
});

describe("PdpContexts", () => {
  test("context 1 exists from the start; set, replace, delete, list by cid", () => {
    const c = new PdpContexts();
    expect(c.list()).toEqual([{ cid: 1, type: "IP", apn: "" }]);
    c.set({ cid: 5, type: "IPV6", apn: "v6" });
    c.set({ cid: 2, type: "IP", apn: "a" });
    c.set({ cid: 2, type: "IP", apn: "b" });
    expect(c.list().map((x) => `${x.cid}:${x.apn}`)).toEqual(["1:", "2:b", "5:v6"]);
    c.delete(1);
    expect(c.get(1)).toBeUndefined();
    expect(c.get(5)?.type).toBe("IPV6");
  });
});

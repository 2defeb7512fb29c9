import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { buildEchoReply, parseEcho, type PingResult } from "../../src/net/icmp.ts";
import { createIpLinkPair } from "../../src/net/ip-link.ts";
import { parseIpv4 } from "../../src/net/packet.ts";
import { PingService } from "../../src/net/ping-service.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

/** The far side of the link answers pings to `alive` only. */
function farEnd(far: ReturnType<typeof createIpLinkPair>[1], alive: string) {
  far.onIp((v, p) => {
    const e = parseEcho(p);
    if (v !== 4 || !e || e.type !== 8 || e.destination !== alive) return;
    far.sendIp(4, buildEchoReply({ source: parseIpv4(e.destination)!, destination: parseIpv4(e.source)!, identifier: e.identifier, sequence: e.sequence, payload: e.payload.slice() }));
  });
}

describe("PingService (link.mode none: no TUN)", () => {
  test("reply → ok result; silent target → timeout at exactly timeoutMs on fake time; no timers left", async () => {
    const sched = new ManualScheduler(0);
    const [link, far] = createIpLinkPair();
    farEnd(far, "8.8.8.8");
    const results: PingResult[] = [];
    const svc = new PingService({ link, scheduler: sched, onResult: (r) => results.push(r), identifier: 77, timeoutMs: 5000 });
    svc.attach();
    expect(svc.ping("8.8.8.8")).toBe(false); // no IPCP address yet
    svc.setSource("10.64.1.2");
    expect(svc.ping("8.8.8.8")).toBe(true);
    expect(svc.ping("1.1.1.1")).toBe(true);
    await tick();
    expect(results).toMatchObject([{ target: "8.8.8.8", ok: true, rttMs: 0 }]);
    sched.advance(4999);
    expect(results.length).toBe(1);
    sched.advance(1);
    expect(results[1]).toMatchObject({ target: "1.1.1.1", ok: false, detail: "timeout" });
    expect(sched.pendingCount()).toBe(0);
    svc.stop();
    expect(link.listenerCount()).toBe(0);
  });

  test("link down fails outstanding requests at once; a refused send fails immediately", () => {
    const sched = new ManualScheduler(0);
    const [link] = createIpLinkPair();
    const results: PingResult[] = [];
    const svc = new PingService({ link, scheduler: sched, onResult: (r) => results.push(r), identifier: 5 });
    svc.setSource("10.0.0.2");
    svc.ping("9.9.9.9");
    svc.setSource(null);
    expect(results).toMatchObject([{ ok: false, detail: "link down" }]);
    svc.setSource("10.0.0.2");
    link.open = false;
    expect(svc.ping("9.9.9.9")).toBe(false);
    expect(results[1]).toMatchObject({ ok: false, detail: "link refused the packet" });
    expect(sched.pendingCount()).toBe(0);
  });
});

/**
 * cellkeep's data plane against a PPP peer written by others: PppLink
 * (client) over a pty to `slirp-fullbolt ppp nozeros`, the TUN in a namespace
 * this test creates, then an HTTP GET from that namespace via slirp's
 * 10.0.2.2 to a Bun.serve server on this host's 127.0.0.1. Also the in-link
 * pinger: its echo to 10.0.2.2 is answered by slirp and taken off the link
 * before TUN. Root needed; skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RealScheduler } from "../../src/core/clock.ts";
import { InLinkPinger, type PingResult } from "../../src/net/icmp.ts";
import { LinkInterface } from "../../src/net/iface.ts";
import { PacketPump } from "../../src/net/pump.ts";
import { PppLink } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";
import { canUseNetns, ipShow, NetnsHarness, uniqueName } from "../support/netns.ts";
import { type SlirpPeer, slirpAvailable, startSlirp } from "../support/slirp.ts";

/**
 * Resolves once `count()` has not changed for `quietMs` (or after `maxMs`).
 * curl exits as soon as it has the response; slirp's FIN/ACK of the same
 * connection can still be on its way to TUN, and would otherwise land in the
 * next test's counters.
 */
async function untilQuiet(count: () => number, quietMs = 200, maxMs = 3000): Promise<void> {
  const end = Date.now() + maxMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < end && Date.now() - since < quietMs) {
    await Bun.sleep(10);
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

const enabled = canUseNetns() && slirpAvailable() && Bun.which("curl") !== null;

describe.skipIf(!enabled)("data plane through slirp", () => {
  const h = new NetnsHarness();
  let ns: string;
  let peer: SlirpPeer;
  let link: PppLink;
  let iface: LinkInterface;
  let pump: PacketPump;
  let server: ReturnType<typeof Bun.serve>;
  const pinger = new InLinkPinger({ identifier: 0x4b43, timeoutMs: 3000 });
  const pingResults: PingResult[] = [];

  beforeAll(async () => {
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(`hello from the host, path ${new URL(req.url).pathname}\n`) });
    h.defer(() => server.stop(true));
    ns = await h.create("ckS");
    peer = startSlirp();
    h.defer(() => peer.stop());
    const scheduler = new RealScheduler();
    link = new PppLink({ pipe: peer.pipe, scheduler, session: new PppSession({ role: "client", echo: { intervalMs: 0, failures: 3 } }) });
    h.defer(() => link.stop());
    iface = new LinkInterface({ name: uniqueName("cks"), netns: ns, defaultRoute: true, routeMetric: 700, replaceDefault: false, dns: "none" });
    h.trackLink(iface.name);
    const tun = await iface.open();
    h.defer(() => iface.close());
    pump = new PacketPump({
      tun,
      link,
      filter: (v, p) => {
        if (v !== 4) return false;
        const r = pinger.handleReply(p, Date.now());
        if (r && r !== "consumed") pingResults.push(r);
        return r !== null;
      },
    });
    h.defer(() => pump.stop());
    pump.start();
    link.start();
    const end = Date.now() + 10_000;
    while (link.status().phase !== "open" || !link.status().ipv4) {
      if (Date.now() > end) throw new Error(`PPP with slirp did not open; slirp stderr: ${peer.stderr()}`);
      await Bun.sleep(10);
    }
    const st = link.status();
    await iface.up({ mtu: st.peerMru, local: st.ipv4!.local, peer: st.ipv4!.remote, dns: st.ipv4!.dns });
    pinger.setSource(st.ipv4!.local);
  }, 30_000);

  afterAll(async () => {
    await h.cleanup();
  }, 20_000);

  test("HTTP GET from the namespace through TUN → PPP → slirp → host loopback", async () => {
    const r = await h.exec(ns, ["curl", "-sS", "--max-time", "10", `http://10.0.2.2:${server.port}/through-slirp`], { timeoutMs: 15_000 });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("hello from the host, path /through-slirp\n");
    await untilQuiet(() => pump.counters.toTun.packets + pump.counters.toLink.packets);
    expect(pump.counters.toLink.packets).toBeGreaterThan(3);
    expect(pump.counters.toTun.packets).toBeGreaterThan(3);
    expect(await ipShow(ns, ["-4", "addr", "show", "dev", iface.name])).toContain("inet 10.0.2.15 peer");
  }, 20_000);

  test("in-link ICMP echo to 10.0.2.2: answered by slirp, taken off before TUN, RTT measured", async () => {
    const toTunBefore = pump.counters.toTun.packets;
    for (let i = 0; i < 3; i++) {
      const pkt = pinger.request("10.0.2.2", Date.now());
      expect(pkt).not.toBeNull();
      expect(link.sendIp(4, pkt!)).toBe(true);
    }
    const end = Date.now() + 3000;
    while (pingResults.length < 3 && Date.now() < end) await Bun.sleep(5);
    expect(pingResults.map((r) => r.ok)).toEqual([true, true, true]);
    expect(pingResults.every((r) => r.rttMs !== null && r.rttMs >= 0)).toBe(true);
    expect(pinger.statsOf("10.0.2.2")).toMatchObject({ sent: 3, received: 3, loss: 0 });
    expect(pump.counters.filtered).toBe(3);
    // none of the replies reached the TUN device
    expect(pump.counters.toTun.packets).toBe(toTunBefore);
  });
});

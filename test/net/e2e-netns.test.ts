/**
 * Real traffic through the whole data plane between two namespaces this test
 * creates (root needed; skipped otherwise). Bounded: a few pings, iperf3 -t 2.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { canUseNetns, ipShow, NetnsHarness } from "../support/netns.ts";
import { buildStack, CLIENT_IP, iperf, SERVER_DNS, SERVER_IP, type Stack } from "./stack.ts";

const enabled = canUseNetns() && Bun.which("iperf3") !== null && Bun.which("ping") !== null;

describe.skipIf(!enabled)("data plane end to end: TUN ↔ PPP ↔ pty ↔ PPP ↔ TUN across namespaces", () => {
  const h = new NetnsHarness();
  let s: Stack;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cellkeep-net-"));
  const dnsFile = path.join(dir, "resolv.conf.cell");

  beforeAll(async () => {
    s = await buildStack(h, { dns: dnsFile, ipv6: true });
  }, 20_000);

  afterAll(async () => {
    await h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  test("interface configured from IPCP: address/peer, MTU, default route with metric, DNS fragment", async () => {
    const addr = await ipShow(s.nsA, ["-4", "addr", "show", "dev", s.ifA.name]);
    expect(addr).toContain(`inet ${CLIENT_IP} peer ${SERVER_IP}/32`);
    expect(addr).toMatch(/mtu 1500/);
    const routes = await ipShow(s.nsA, ["-4", "route", "show", "default"]);
    expect(routes).toContain(`default dev ${s.ifA.name} scope link metric 700`);
    expect(fs.readFileSync(dnsFile, "utf8")).toContain(`nameserver ${SERVER_DNS[0]}`);
    const ev = s.netEvents.find((e) => e.type === "link.interface" && e.name === s.ifA.name);
    expect(ev).toMatchObject({ up: true, ipv4: CLIENT_IP, peer: SERVER_IP, defaultRoute: true, cause: null });
  });

  test("ping both ways", async () => {
    const ab = await h.exec(s.nsA, ["ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER_IP], { timeoutMs: 10_000 });
    expect(ab.stdout).toContain("3 received");
    const ba = await h.exec(s.nsB, ["ping", "-c", "3", "-i", "0.2", "-W", "2", CLIENT_IP], { timeoutMs: 10_000 });
    expect(ba.stdout).toContain("3 received");
    expect(s.pumpA.counters.toLink.packets).toBeGreaterThanOrEqual(6);
    expect(s.pumpB.counters.toTun.packets).toBeGreaterThanOrEqual(6);
  }, 20_000);

  test("IPv6 link-local from IPV6CP: addresses set, ping6 across (PPP 0x0057)", async () => {
    const a = s.client.status().ipv6!;
    const b = s.server.status().ipv6!;
    expect(a.local).toStartWith("fe80::");
    expect(await ipShow(s.nsA, ["-6", "addr", "show", "dev", s.ifA.name])).toContain(`inet6 ${a.local}/64 scope link`);
    expect(await ipShow(s.nsB, ["-6", "addr", "show", "dev", s.ifB.name])).toContain(`inet6 ${b.local}/64 scope link`);
    const before = s.server.session.status().counters.byClass.ipv6.framesIn;
    const r = await h.exec(s.nsA, ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", `${a.remote}%${s.ifA.name}`], { timeoutMs: 10_000 });
    expect(r.stdout).toContain("2 received");
    expect(s.server.session.status().counters.byClass.ipv6.framesIn - before).toBeGreaterThanOrEqual(2);
  }, 20_000);

  test("iperf3 TCP A→B and B→A moves real bytes through the pty", async () => {
    const before = s.clientPipe.bytesWritten;
    const up = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds: 2 });
    expect(up.bytes).toBeGreaterThan(100_000);
    // The bytes crossed the pty as HDLC (>= payload, plus framing and escapes).
    expect(s.clientPipe.bytesWritten - before).toBeGreaterThan(up.bytes);
    const beforeDown = s.serverPipe.bytesWritten;
    const down = await iperf(h, s.nsB, s.nsA, SERVER_IP, { seconds: 2, reverse: true });
    expect(down.bytes).toBeGreaterThan(100_000);
    expect(s.serverPipe.bytesWritten - beforeDown).toBeGreaterThan(down.bytes);
    expect(s.pumpA.counters.drops.malformed).toBe(0);
    // A frame with a bad FCS is counted and dropped (TCP retransmits); more than
    // 1 in 1000 would mean corruption on the pty or in framing, not a rare glitch.
    const dec = s.client.counters().decoder;
    expect(dec.badFcs).toBeLessThanOrEqual(Math.ceil(dec.frames / 1000));
    // Back-pressure kept the line's write backlog bounded.
    expect(s.clientPipe.backlogBytes()).toBeLessThan(256 * 1024);
  }, 40_000);

  test("down() removes exactly what up() added; close() removes the interface", async () => {
    await s.ifA.down(null);
    expect(await ipShow(s.nsA, ["-4", "addr", "show", "dev", s.ifA.name])).not.toContain(CLIENT_IP);
    expect(await ipShow(s.nsA, ["-4", "route", "show", "default"])).toBe("");
    expect(fs.existsSync(dnsFile)).toBe(false);
    expect(s.netEvents.at(-1)).toMatchObject({ type: "link.interface", up: false, ipv4: null, defaultRoute: false });
    await s.ifA.close();
    expect(await ipShow(s.nsA, ["link", "show", "dev", s.ifA.name])).toBe("");
  });
});

import { describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { buildEchoReply, InLinkPinger, parseEcho } from "../../src/net/icmp.ts";
import type { IpVersion } from "../../src/core/ip-link.ts";
import { createIpLinkPair, MemoryIpLink } from "../../src/net/ip-link.ts";
import { parseIpv4 } from "../../src/net/packet.ts";
import { PacketPump } from "../../src/net/pump.ts";
import { MemoryTun } from "../../src/net/tun.ts";
import { concatBytes, ipv4OfLength, ipv6OfLength } from "../support/ip.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A link whose send queue the test drains by hand: the "slow serial line". */
class SlowLink extends MemoryIpLink {
  backlog = 0;
  backlogBytes(): number {
    return this.backlog;
  }
  override sendIp(version: IpVersion, packet: Uint8Array): boolean {
    const ok = super.sendIp(version, packet);
    if (ok) this.backlog += packet.byteLength;
    return ok;
  }
}

describe("PacketPump", () => {
  test("TUN → link with the right version, merged chunks split; link → TUN", async () => {
    const tun = new MemoryTun();
    const [link, far] = createIpLinkPair();
    const got: Array<[IpVersion, number]> = [];
    far.onIp((v, p) => got.push([v, p.byteLength]));
    const pump = new PacketPump({ tun, link });
    pump.start();
    tun.inject(ipv4OfLength(100, 1));
    tun.inject(concatBytes(ipv4OfLength(60, 2), ipv6OfLength(20, 3), ipv4OfLength(1500, 4)));
    await tick();
    await tick();
    expect(got).toEqual([[4, 100], [4, 60], [6, 60], [4, 1500]]);
    far.sendIp(6, ipv6OfLength(8, 9));
    far.sendIp(4, ipv4OfLength(33, 8));
    await tick();
    expect(tun.written.map((p) => p.byteLength)).toEqual([48, 33]);
    expect(pump.counters.toLink).toEqual({ packets: 4, bytes: 1720 });
    expect(pump.counters.toTun).toEqual({ packets: 2, bytes: 81 });
    await pump.stop();
    await tun.close();
    await pump.done();
  });

  test("a read that brings several chunks: every packet goes to the link, in order, in one turn", async () => {
    const tun = new MemoryTun("tun-mem", 8);
    const [link, far] = createIpLinkPair();
    const got: number[] = [];
    far.onIp((_v, p) => got.push(p[20]!));
    const pump = new PacketPump({ tun, link });
    for (let i = 0; i < 5; i++) tun.inject(ipv4OfLength(100, i));
    tun.inject(concatBytes(ipv4OfLength(60, 5), ipv4OfLength(60, 6)));
    pump.start();
    await tick();
    await tick();
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(tun.reads).toBe(2); // the batch, then the read now waiting
    await pump.stop();
    await tun.close();
    await pump.done();
  });

  test("link flaps: a stopped pump's pending TUN read does not swallow the next link's packets", async () => {
    // The TUN device outlives the PPP link (the interface is kept across redials) and a real
    // TUN fd's stream serves concurrent reads first come, first served, as this stand-in does.
    class FifoTun extends MemoryTun {
      private readers: Array<(c: Uint8Array[] | null) => void> = [];
      override read(): Promise<Uint8Array[] | null> {
        this.reads++;
        return new Promise((resolve) => this.readers.push(resolve));
      }
      override inject(chunk: Uint8Array): void {
        this.readers.shift()?.([chunk.slice()]);
      }
      override async close(): Promise<void> {
        for (const r of this.readers.splice(0)) r(null);
      }
      get pendingReads(): number {
        return this.readers.length;
      }
    }
    const tun = new FifoTun();
    // Three link flaps without traffic in between (an idle gateway at night).
    for (let i = 0; i < 3; i++) {
      const [link] = createIpLinkPair();
      const pump = new PacketPump({ tun, link });
      pump.start();
      await tick();
      await pump.stop();
    }
    const [link, far] = createIpLinkPair();
    const got: number[] = [];
    far.onIp((_v, p) => got.push(p.byteLength));
    const pump = new PacketPump({ tun, link });
    pump.start();
    await tick();
    // One read outstanding on the device, not one per past link.
    expect(tun.pendingReads).toBe(1);
    tun.inject(ipv4OfLength(100, 1));
    await tick();
    await tick();
    expect(got).toEqual([100]);
    await pump.stop();
    await tun.close();
    await pump.done();
  });

  test("drops are counted by reason: link-not-open, malformed, version mismatch, tun-write", async () => {
    const tun = new MemoryTun();
    const [link, far] = createIpLinkPair();
    const pump = new PacketPump({ tun, link, linkOpen: false });
    pump.start();
    tun.inject(concatBytes(ipv4OfLength(40), ipv4OfLength(40)));
    await tick();
    expect(pump.counters.drops["link-not-open"]).toBe(2);
    expect(link.sent.length).toBe(0);
    pump.setLinkOpen(true);
    tun.inject(concatBytes(ipv4OfLength(40), new Uint8Array([0x99, 1, 2])));
    await tick();
    expect(link.sent.length).toBe(1);
    expect(pump.counters.drops.malformed).toBe(1);
    far.sendIp(6, ipv4OfLength(40)); // says v6, is v4
    tun.refuseWrites = true;
    far.sendIp(4, ipv4OfLength(40));
    await tick();
    expect(pump.counters.drops.malformed).toBe(2);
    expect(pump.counters.drops["tun-write"]).toBe(1);
    await pump.stop();
    await tun.close();
  });

  test("back-pressure: no TUN reads while the link backlog is over high water; queue is bounded", async () => {
    const sched = new ManualScheduler(0);
    const tun = new MemoryTun();
    const link = new SlowLink();
    const pump = new PacketPump({ tun, link, scheduler: sched, highWaterBytes: 3000, queuePackets: 4 });
    pump.start();
    // The LAN sends far more than the line can take.
    for (let i = 0; i < 50; i++) tun.inject(ipv4OfLength(1000, i));
    await tick();
    await tick();
    // 4 packets went to the link (backlog 4000 > 3000), then the pump stopped reading.
    expect(link.sent.length).toBe(4);
    expect(pump.queueLength()).toBe(0);
    expect(tun.pendingChunks()).toBe(46);
    expect(pump.counters.pauses).toBeGreaterThan(0);
    // Time passes but the line has not drained: still nothing read.
    sched.advance(10);
    await tick();
    expect(tun.pendingChunks()).toBe(46);
    // The line drains: the pump resumes at its next poll.
    link.backlog = 0;
    sched.advance(1);
    await tick();
    await tick();
    expect(link.sent.length).toBe(8);
    expect(tun.pendingChunks()).toBe(42);
    await pump.stop();
    sched.advance(1);
    await tun.close();
    await pump.done();
    expect(sched.pendingCount()).toBe(0);
  });

  test("a link that reports drains resumes the pump at once, without its poll timer", async () => {
    const sched = new ManualScheduler(0);
    const tun = new MemoryTun();
    const drains = new Set<() => void>();
    const link = Object.assign(new SlowLink(), {
      onDrain: (fn: () => void) => {
        drains.add(fn);
        return () => drains.delete(fn);
      },
    });
    const pump = new PacketPump({ tun, link, scheduler: sched, highWaterBytes: 1500 });
    pump.start();
    for (let i = 0; i < 5; i++) tun.inject(ipv4OfLength(1000, i));
    await tick();
    expect(link.sent.length).toBe(2);
    link.backlog = 0;
    for (const fn of drains) fn();
    await tick();
    await tick();
    // time did not move: the drain callback alone resumed reading
    expect(sched.now()).toBe(0);
    expect(link.sent.length).toBe(4);
    await pump.stop();
    expect(drains.size).toBe(0);
    await tun.close();
    await pump.done();
  });

  test("a merged chunk is kept whole up to the byte cap; beyond it the excess is dropped as queue-full", async () => {
    const tun = new MemoryTun();
    const link = new SlowLink();
    link.open = true;
    const sched = new ManualScheduler(0);
    const pump = new PacketPump({ tun, link, scheduler: sched, queuePackets: 3, queueBytesCap: 300, highWaterBytes: 0 });
    pump.start();
    tun.inject(concatBytes(ipv4OfLength(100), ipv4OfLength(100), ipv4OfLength(100), ipv4OfLength(100), ipv4OfLength(100)));
    await tick();
    // The cap holds 3 of the 5, the other 2 are dropped; then the first goes out and the link is busy.
    expect(pump.counters.drops["queue-full"]).toBe(2);
    expect(link.sent.length).toBe(1);
    expect(pump.queueLength()).toBe(2);
    expect(pump.queuedBytes()).toBe(200);
    // The link is busy: the next chunk stays in the device, not in our memory.
    tun.inject(concatBytes(ipv4OfLength(50), ipv4OfLength(50)));
    await tick();
    expect(tun.pendingChunks()).toBe(1);
    expect(pump.queuedBytes()).toBe(200);
    await pump.stop();
    await tun.close();
    await pump.done();
  });

  test("link refuses although open → queue-full drop (the link's own queue)", async () => {
    const tun = new MemoryTun();
    const link = new MemoryIpLink();
    const pump = new PacketPump({ tun, link });
    pump.start();
    link.open = false; // refuses every sendIp
    tun.inject(ipv4OfLength(40));
    await tick();
    expect(pump.counters.drops["queue-full"]).toBe(1);
    await pump.stop();
    await tun.close();
  });

  test("the pinger filter takes our echo replies off before TUN; others pass", async () => {
    const tun = new MemoryTun();
    const [link, far] = createIpLinkPair();
    const pinger = new InLinkPinger({ identifier: 0x1234, source: "10.0.0.2" });
    const results: unknown[] = [];
    const pump = new PacketPump({
      tun,
      link,
      filter: (v, p) => {
        if (v !== 4) return false;
        const r = pinger.handleReply(p, 5);
        if (r && r !== "consumed") results.push(r);
        return r !== null;
      },
    });
    pump.start();
    // The far end answers pings.
    far.onIp((v, p) => {
      const e = parseEcho(p);
      if (v === 4 && e && e.type === 8) {
        far.sendIp(4, buildEchoReply({ source: parseIpv4(e.destination)!, destination: parseIpv4(e.source)!, identifier: e.identifier, sequence: e.sequence, payload: e.payload.slice() }));
      }
    });
    link.sendIp(4, pinger.request("10.0.0.1", 0)!);
    far.sendIp(4, ipv4OfLength(50));
    await tick();
    await tick();
    expect(results).toMatchObject([{ ok: true, target: "10.0.0.1", rttMs: 5 }]);
    expect(pump.counters.filtered).toBe(1);
    expect(tun.written.map((p) => p.byteLength)).toEqual([50]);
    await pump.stop();
    await tun.close();
  });
});

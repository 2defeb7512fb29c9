/**
 * FdTun reads on a real TUN device (root; skipped otherwise) and the batch
 * limit of one read. The kernel queues what it routes to the device while
 * nobody reads; one read() then hands out everything queued (up to
 * READ_BATCH_BYTES), each packet whole and in order.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { LinkInterface } from "../../src/net/iface.ts";
import { splitPackets } from "../../src/net/packet.ts";
import { READ_BATCH_BYTES, takeBatch } from "../../src/net/tun.ts";
import { canUseNetns, NetnsHarness, uniqueName } from "../support/netns.ts";

describe("takeBatch", () => {
  const chunks = (...sizes: number[]) => sizes.map((n, i) => new Uint8Array(n).fill(i));

  test("takes chunks from the front while their total fits, in order", () => {
    const q = chunks(1500, 1500, 1500, 40);
    const b = takeBatch(q, 3000);
    expect(b.map((c) => c[0])).toEqual([0, 1]);
    expect(q.map((c) => c[0])).toEqual([2, 3]);
    expect(takeBatch(q, 3000).map((c) => c.byteLength)).toEqual([1500, 40]);
    expect(q).toEqual([]);
  });

  test("a chunk larger than the limit still goes out, alone", () => {
    const q = chunks(70_000, 10);
    expect(takeBatch(q, READ_BATCH_BYTES).map((c) => c.byteLength)).toEqual([70_000]);
    expect(takeBatch(q, READ_BATCH_BYTES).map((c) => c.byteLength)).toEqual([10]);
  });
});

const h = new NetnsHarness();
afterAll(() => h.cleanup());

describe.skipIf(!canUseNetns())("FdTun on a real device", () => {
  test("packets the kernel queued while nobody read come out of one read(), whole and in order", async () => {
    const ns = await h.create("cktun");
    const iface = new LinkInterface({ name: uniqueName("ckt"), netns: ns, defaultRoute: false, routeMetric: 700, replaceDefault: false, dns: "none" });
    h.trackLink(iface.name);
    const tun = await iface.open();
    h.defer(() => iface.close());
    await iface.up({ mtu: 1500, local: "10.79.0.2", peer: "10.79.0.1", dns: [] });
    // 20 ICMP echo requests to the peer (nobody answers): the kernel routes each into the TUN.
    const count = 20;
    const ping = await h.exec(ns, ["ping", "-c", String(count), "-i", "0.002", "-W", "0.01", "-s", "1000", "-q", "10.79.0.1"]);
    expect(ping.stdout).toContain(`${count} packets transmitted`);
    const seqs: number[] = [];
    let reads = 0;
    let bytes = 0;
    while (seqs.length < count) {
      const batch = await tun.read();
      expect(batch).not.toBeNull();
      reads++;
      for (const chunk of batch!) {
        bytes += chunk.byteLength;
        const { packets, malformed } = splitPackets(chunk);
        expect(malformed).toBe(0);
        // Echo requests only (IPv6 router solicitations etc. are not sent: the TUN has no IPv6 here).
        for (const p of packets) if (p[9] === 1 && p[20] === 8) seqs.push((p[26]! << 8) | p[27]!);
      }
    }
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // Fewer reads than packets: the queued ones came in batches, each within the limit.
    expect(reads).toBeLessThan(count);
    expect(bytes).toBeLessThanOrEqual(reads * READ_BATCH_BYTES);
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { MeteredFdPipe } from "../../src/net/metered-pipe.ts";
import { openPtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";

describe("MeteredFdPipe over a real pty", () => {
  const pair = openPtyPair();
  const fd = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open");
  const a = new MeteredFdPipe(fd, "slave");
  const b = new MeteredFdPipe(pair.masterFd, "master");
  afterAll(async () => {
    await a.close();
    await b.close();
    libc.close(fd);
    pair.close();
  });

  test("many writes arrive complete and in order; the backlog is reported, then drains to 0 with a drain event", async () => {
    const got: Uint8Array[] = [];
    let total = 0;
    b.onData((d) => {
      got.push(d.slice());
      total += d.byteLength;
    });
    let drains = 0;
    a.onDrain(() => drains++);
    // 2 MB in 1000-byte writes, far more than the pty buffers: EAGAIN must happen.
    const N = 2000;
    const buf = new Uint8Array(1000);
    for (let i = 0; i < N; i++) {
      buf.fill(i & 0xff);
      a.write(buf); // reused buffer: the pipe must have copied it
    }
    // The writer Worker may already have filled the pty (a few KiB), but the
    // reader here cannot run yet, so nearly everything is still backlog.
    expect(a.backlogBytes()).toBeGreaterThan(N * 1000 - 64 * 1024);
    const end = Date.now() + 10_000;
    while (total < N * 1000 && Date.now() < end) await Bun.sleep(2);
    expect(total).toBe(N * 1000);
    expect(a.backlogBytes()).toBe(0);
    // The drain report comes from the writer Worker as a message, which may
    // arrive a turn after the last bytes were read on this thread.
    const drainBy = Date.now() + 5000;
    while (drains === 0 && Date.now() < drainBy) await Bun.sleep(2);
    expect(drains).toBeGreaterThan(0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const g of got) {
      all.set(g, o);
      o += g.byteLength;
    }
    for (let i = 0; i < N; i++) {
      if (all[i * 1000] !== (i & 0xff) || all[i * 1000 + 999] !== (i & 0xff)) throw new Error(`block ${i} out of order or corrupt`);
    }
    expect(a.bytesWritten).toBe(N * 1000);
  }, 15_000);

  test("an idle pipe costs no CPU (reader in epoll, writer Worker in Atomics.wait)", async () => {
    const pair2 = openPtyPair();
    const p = new MeteredFdPipe(pair2.masterFd, "idle");
    p.write(new Uint8Array([1, 2, 3])); // wake the Worker once, then let it go back to sleep
    await Bun.sleep(50);
    const cpu0 = process.cpuUsage();
    await Bun.sleep(300);
    const cpu = process.cpuUsage(cpu0);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(60);
    await p.close();
    pair2.close();
  });

  test("writes after close are counted, not sent", async () => {
    const pair2 = openPtyPair();
    const p = new MeteredFdPipe(pair2.masterFd, "m2");
    await p.close();
    p.write(new Uint8Array([1, 2, 3]));
    expect(p.droppedWrites).toBe(1);
    expect(p.isOpen).toBe(false);
    pair2.close();
  });
});

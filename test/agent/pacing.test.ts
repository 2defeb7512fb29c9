/**
 * The packet pump is paced by the serial line: the port's write backlog and
 * drain reports pass through the AT channel's data-mode pipe and the PPP link
 * (BytePipe.backlogBytes/onDrain), so no layer has to reach around the others.
 */
import { expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { PipeBase } from "../../src/core/pipe.ts";
import { AtChannel } from "../../src/at/channel.ts";
import { PppLink } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";

/** A serial port stand-in that answers ATD with CONNECT and reports a write backlog. */
class SlowPort extends PipeBase {
  backlog = 0;
  private drains = new Set<() => void>();
  write(data: Uint8Array): void {
    if (new TextDecoder().decode(data).startsWith("ATD")) queueMicrotask(() => this.deliver(new TextEncoder().encode("\r\nCONNECT 150000000\r\n")));
    else this.backlog += data.length;
  }
  async close(): Promise<void> {
    this.finish(null);
  }
  backlogBytes(): number {
    return this.backlog;
  }
  onDrain(fn: () => void): () => void {
    this.drains.add(fn);
    return () => this.drains.delete(fn);
  }
  drain(): void {
    this.backlog = 0;
    for (const fn of this.drains) fn();
  }
}

test("the serial port's write backlog and drain reach the PPP link through the data-mode pipe", async () => {
  const sched = new ManualScheduler();
  const port = new SlowPort();
  const channel = new AtChannel(port, sched);
  const r = await channel.command("ATD*99#");
  expect(r.status).toBe("connect");
  const data = channel.dataPipe!;
  const link = new PppLink({ pipe: data, session: new PppSession({ role: "client", auth: { method: "none", username: "", password: "" } }), scheduler: sched });
  link.start(); // LCP Configure-Request goes out: it is the backlog now
  expect(port.backlog).toBeGreaterThan(0);
  expect(link.backlogBytes()).toBe(port.backlog);
  let drained = 0;
  const off = link.onDrain(() => drained++);
  port.drain();
  expect(drained).toBe(1);
  expect(link.backlogBytes()).toBe(0);
  off();
  port.drain();
  expect(drained).toBe(1);
  link.stop();
  sched.runDue();
});

/**
 * The adapter that turns the data plane's InLinkPinger core (src/net/icmp.ts:
 * builds echo requests from our IPCP address, matches replies, expires by
 * `now`) into the promise-per-echo IcmpProber the health probes use.
 *
 * It owns the one timer (a WakeTimer on the pinger's next deadline) and the
 * send path; the agent feeds it every IPv4 packet from the link through
 * `offer` (e.g. as the PacketPump's filter) so our replies are taken off the
 * link before TUN.
 */
import { WakeTimer, type Scheduler } from "../core/clock.ts";
import { parseEcho, type InLinkPinger, type PingResult } from "../net/icmp.ts";
import type { IcmpPingResult, IcmpProber } from "./probes.ts";

export class InLinkIcmpProber implements IcmpProber {
  /** Per outstanding sequence: its resolver and the IP bytes of its request. */
  private readonly waiters = new Map<number, { resolve: (r: IcmpPingResult) => void; sentBytes: number }>();
  private readonly timer: WakeTimer;

  constructor(
    private readonly pinger: InLinkPinger,
    /** Hand an IPv4 packet to the link (IpLink.sendIp(4, p)); false = not sent. */
    private readonly send: (packet: Uint8Array) => boolean,
    private readonly scheduler: Scheduler,
  ) {
    this.timer = new WakeTimer(scheduler, () => this.expire());
  }

  ping(target: string, timeoutMs: number): Promise<IcmpPingResult> {
    const now = this.scheduler.now();
    const packet = this.pinger.request(target, now, timeoutMs);
    if (packet === null) {
      return Promise.resolve({ ok: false, rttMs: null, detail: this.pinger.sourceAddress === null ? "link has no IPv4 address yet" : `not an IPv4 target: ${target}` });
    }
    const sequence = parseEcho(packet)?.sequence;
    if (sequence === undefined) return Promise.resolve({ ok: false, rttMs: null, detail: "could not build the echo request" });
    const result = new Promise<IcmpPingResult>((resolve) => this.waiters.set(sequence, { resolve, sentBytes: packet.length }));
    if (!this.send(packet)) {
      // Not on the wire: fail it now rather than wait for the timeout.
      this.pinger.abandonAll("link not open");
      this.settleAll({ ok: false, rttMs: null, detail: "link not open" });
    }
    this.timer.arm(this.pinger.nextDeadline());
    return result;
  }

  /** Offer an IPv4 packet from the link; true when it was ours (do not pass it on to TUN). */
  offer(packet: Uint8Array): boolean {
    const r = this.pinger.handleReply(packet, this.scheduler.now());
    if (r === null) return false;
    if (r !== "consumed") this.settle(r, packet.length);
    this.timer.arm(this.pinger.nextDeadline());
    return true;
  }

  /** The link went down: fail every outstanding echo now. */
  linkDown(): void {
    for (const r of this.pinger.abandonAll("link down")) this.settle(r);
    this.timer.disarm();
  }

  pendingCount(): number {
    return this.waiters.size;
  }

  private expire(): void {
    for (const r of this.pinger.poll(this.scheduler.now())) this.settle(r);
    this.timer.arm(this.pinger.nextDeadline());
  }

  /** `replyBytes`: the size of the reply that settled it (0: timed out or abandoned). */
  private settle(r: PingResult, replyBytes = 0): void {
    const w = this.waiters.get(r.sequence);
    if (!w) return;
    this.waiters.delete(r.sequence);
    w.resolve({ ok: r.ok, rttMs: r.rttMs, bytes: w.sentBytes + replyBytes, ...(r.detail ? { detail: r.detail } : {}) });
  }

  /** Nothing went out (the link refused the packet): no bytes were spent. */
  private settleAll(r: IcmpPingResult): void {
    for (const w of this.waiters.values()) w.resolve({ ...r, bytes: 0 });
    this.waiters.clear();
  }
}

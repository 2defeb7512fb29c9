/**
 * The thin adapter around InLinkPinger: sends requests on an IpLink, owns the
 * one timer for timeouts (WakeTimer on a Scheduler), and reports results.
 *
 * link.mode "tun": give `filter` to PacketPump so our replies never reach TUN.
 * link.mode "none": call `attach()` and it listens on the link itself (there
 * is no TUN; every other inbound packet is simply not ours).
 */
import { type Scheduler, WakeTimer } from "../core/clock.ts";
import { InLinkPinger, type PingResult, randomIdentifier } from "./icmp.ts";
import type { IpLink, IpVersion } from "./ip-link.ts";

export interface PingServiceOptions {
  link: IpLink;
  scheduler: Scheduler;
  onResult: (result: PingResult) => void;
  identifier?: number;
  timeoutMs?: number;
}

export class PingService {
  readonly pinger: InLinkPinger;
  private readonly wake: WakeTimer;
  private detach: (() => void) | null = null;

  constructor(private readonly opts: PingServiceOptions) {
    this.pinger = new InLinkPinger({ identifier: opts.identifier ?? randomIdentifier(), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    this.wake = new WakeTimer(opts.scheduler, () => this.expire());
  }

  /** Our IPCP address (on ppp up) or null (on down: outstanding requests fail with "link down"). */
  setSource(address: string | null): void {
    this.pinger.setSource(address);
    if (address === null) {
      for (const r of this.pinger.abandonAll()) this.opts.onResult(r);
      this.wake.arm(null);
    }
  }

  /** Send one echo request; false when it could not be sent (no address yet, link refused). The result comes through onResult. */
  ping(target: string): boolean {
    const now = this.opts.scheduler.now();
    const packet = this.pinger.request(target, now);
    if (!packet) return false;
    if (!this.opts.link.sendIp(4, packet)) {
      // Never left: fail it now rather than waiting for the timeout.
      for (const r of this.pinger.abandonAll("link refused the packet")) this.opts.onResult(r);
      this.wake.arm(this.pinger.nextDeadline());
      return false;
    }
    this.wake.arm(this.pinger.nextDeadline());
    return true;
  }

  /** Inbound filter: true when the packet was ours (take it off the link). */
  readonly filter = (version: IpVersion, packet: Uint8Array): boolean => {
    if (version !== 4) return false;
    const r = this.pinger.handleReply(packet, this.opts.scheduler.now());
    if (r === null) return false;
    if (r !== "consumed") this.opts.onResult(r);
    this.wake.arm(this.pinger.nextDeadline());
    return true;
  };

  /** link.mode "none": listen on the link directly. */
  attach(): void {
    this.detach ??= this.opts.link.onIp((v, p) => {
      this.filter(v, p);
    });
  }

  stop(): void {
    this.detach?.();
    this.detach = null;
    this.wake.disarm();
  }

  private expire(): void {
    for (const r of this.pinger.poll(this.opts.scheduler.now())) this.opts.onResult(r);
    this.wake.arm(this.pinger.nextDeadline());
  }
}

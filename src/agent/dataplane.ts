/**
 * What happens to IP while a PPP link is open: the in-link ICMP prober gets
 * our IPCP address and the link to send on; in tun mode the interface is
 * configured and the packet pump joins TUN and the link; in none mode every
 * inbound packet is offered to the prober only. On link down it all unwinds.
 * Counters are kept as totals since the agent started (metrics never go back).
 */
import type { Config } from "../config/schema.ts";
import type { Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { PppLink, PppLinkCounters } from "../ppp/link.ts";
import type { PppUpInfo } from "../modem/supervisor.ts";
import { InLinkPinger, randomIdentifier } from "../net/icmp.ts";
import { LinkInterface } from "../net/iface.ts";
import { PacketPump, type PacedIpLink } from "../net/pump.ts";
import type { IpVersion } from "../net/ip-link.ts";
import type { TunDevice } from "../net/tun.ts";
import { InLinkIcmpProber } from "../health/icmp-prober.ts";
import type { PppCounters } from "../status/counters.ts";

export class DataPlane {
  readonly pinger: InLinkPinger;
  readonly prober: InLinkIcmpProber;
  private link: PppLink | null = null;
  private unsubscribe: (() => void) | null = null;
  /**
   * One pump for the TUN's whole life (there must be only one reader of the
   * TUN): a pump made per link-up leaves its last TUN read pending after
   * stop(), and that read ate the first packet after every redial. On link
   * down the pump stays and drops what it reads as link-not-open (counted);
   * on link up the new link is switched in under it.
   */
  private pump: PacketPump | null = null;
  private pumpTun: TunDevice | null = null;
  private readonly pumpLink = new SwitchableIpLink();
  private iface: LinkInterface | null = null;
  private base: PppLinkCounters | null = null;
  private info: PppUpInfo | null = null;

  constructor(
    private readonly config: Config,
    private readonly deps: { scheduler: Scheduler; log: Logger; emit: (e: EventBase) => void; netns?: string },
  ) {
    this.pinger = new InLinkPinger({ identifier: randomIdentifier() });
    this.prober = new InLinkIcmpProber(this.pinger, (p) => this.link?.sendIp(4, p) ?? false, deps.scheduler);
    if (config.link.mode === "tun") {
      this.iface = new LinkInterface({
        name: config.link.interface,
        defaultRoute: config.link.default_route,
        routeMetric: config.link.route_metric,
        replaceDefault: config.link.replace_default,
        dns: config.link.dns,
        clock: deps.scheduler,
        emit: deps.emit,
        ...(deps.netns ? { netns: deps.netns } : {}),
      });
    }
  }

  /** tun mode: create the TUN device early (stale cleanup, permission check) so a problem shows at start. */
  async open(): Promise<void> {
    await this.iface?.open();
  }

  get localAddress(): string | null {
    return this.info?.ipv4?.local ?? null;
  }

  get dnsServers(): readonly string[] {
    return this.info?.ipv4?.dns ?? [];
  }

  /** The pump is paced by the link's own write backlog (the serial line under it). */
  async linkUp(link: PppLink, info: PppUpInfo): Promise<void> {
    await this.linkDown(null);
    this.link = link;
    this.info = info;
    this.pinger.setSource(info.ipv4?.local ?? null);
    if (this.iface && info.ipv4) {
      try {
        const tun = await this.iface.open();
        const pump = this.pumpFor(tun);
        this.pumpLink.attach(link);
        await this.iface.up({ mtu: info.mru, local: info.ipv4.local, peer: info.ipv4.remote, dns: info.ipv4.dns, ipv6: info.ipv6 });
        pump.setLinkOpen(true);
      } catch (err) {
        this.deps.log.error(`interface setup failed: ${(err as Error).message}`);
      }
    } else {
      this.unsubscribe = link.onIp((v, p) => {
        if (v === 4) this.prober.offer(p);
      });
    }
  }

  async linkDown(cause: Cause | null): Promise<void> {
    if (!this.link) return;
    this.base = addCounters(this.base, this.link.counters());
    this.link = null;
    this.info = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.prober.linkDown();
    this.pinger.setSource(null);
    this.pump?.setLinkOpen(false);
    this.pumpLink.detach();
    if (this.iface) await this.iface.down(cause).catch((err: unknown) => this.deps.log.warn(`interface teardown: ${(err as Error).message}`));
  }

  async close(cause: Cause | null): Promise<void> {
    await this.linkDown(cause);
    const pump = this.pump;
    this.pump = null;
    this.pumpTun = null;
    if (pump) await pump.stop();
    await this.iface?.close(cause).catch((err: unknown) => this.deps.log.warn(`interface close: ${(err as Error).message}`));
  }

  /** PPP counters since the agent started, for /status and /metrics. */
  counters(): PppCounters | null {
    const total = this.link ? addCounters(this.base, this.link.counters()) : this.base;
    if (!total) return null;
    const d = total.decoder as unknown as Record<string, number>;
    const errors: Record<string, number> = {};
    for (const [k, v] of Object.entries(d)) if (typeof v === "number" && k !== "frames") errors[k] = v;
    errors.packetsRefused = total.packetsRefused;
    return { bytesIn: total.bytesIn, bytesOut: total.bytesOut, packetsIn: total.packetsIn, packetsOut: total.packetsOut, errors };
  }

  /** The packet pump's counters since the TUN was opened (tun mode), or null. */
  pumpCounters() {
    return this.pump?.counters ?? null;
  }

  private pumpFor(tun: TunDevice): PacketPump {
    if (this.pump && this.pumpTun === tun) return this.pump;
    void this.pump?.stop();
    this.pump = new PacketPump({ tun, link: this.pumpLink, scheduler: this.deps.scheduler, linkOpen: false, filter: (v, p) => v === 4 && this.prober.offer(p) });
    this.pumpTun = tun;
    this.pump.start();
    return this.pump;
  }
}

/**
 * The link under the one pump: forwards to whichever PPP link is up now
 * (its packets, its write backlog and drain reports), and to nothing while
 * the link is down (sendIp says no; the pump is told the link is closed).
 */
class SwitchableIpLink implements PacedIpLink {
  private current: PacedIpLink | null = null;
  private offCurrent: Array<() => void> = [];
  private readonly ipListeners = new Set<(version: IpVersion, packet: Uint8Array) => void>();
  private readonly drainListeners = new Set<() => void>();

  attach(link: PacedIpLink): void {
    this.detach();
    this.current = link;
    this.offCurrent.push(
      link.onIp((v, p) => {
        for (const l of this.ipListeners) l(v, p);
      }),
    );
    const offDrain = link.onDrain?.(() => {
      for (const d of this.drainListeners) d();
    });
    if (offDrain) this.offCurrent.push(offDrain);
  }

  detach(): void {
    for (const off of this.offCurrent.splice(0)) off();
    this.current = null;
  }

  sendIp(version: IpVersion, packet: Uint8Array): boolean {
    return this.current?.sendIp(version, packet) ?? false;
  }

  onIp(cb: (version: IpVersion, packet: Uint8Array) => void): () => void {
    this.ipListeners.add(cb);
    return () => this.ipListeners.delete(cb);
  }

  backlogBytes(): number {
    return this.current?.backlogBytes?.() ?? 0;
  }

  onDrain(fn: () => void): () => void {
    this.drainListeners.add(fn);
    return () => this.drainListeners.delete(fn);
  }
}

function addCounters(a: PppLinkCounters | null, b: PppLinkCounters): PppLinkCounters {
  if (!a) return structuredClone(b);
  const sum = (x: Record<string, unknown>, y: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const xv = x[k];
      const yv = y[k];
      if (typeof xv === "number" || typeof yv === "number") out[k] = (typeof xv === "number" ? xv : 0) + (typeof yv === "number" ? yv : 0);
      else if (xv && typeof xv === "object") out[k] = sum(xv as Record<string, unknown>, (yv ?? {}) as Record<string, unknown>);
      else out[k] = yv ?? xv;
    }
    return out;
  };
  return sum(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>) as unknown as PppLinkCounters;
}

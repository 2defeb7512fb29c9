/**
 * What happens to IP while a data bearer is up (PPP today; only its
 * DataBearer interface is known here): the in-link ICMP prober gets our
 * address and the bearer's IP link to send on; in tun mode the interface is
 * configured and the packet pump joins TUN and the bearer's IP link; in none
 * mode every inbound packet is offered to the prober only. On link down it all
 * unwinds. Counters are kept as totals since the agent started (metrics never
 * go back).
 *
 * Besides the bearer's line counters (octets on the serial line: HDLC framing,
 * escapes and LCP included), it counts the IP packets it moves each way: what
 * a carrier bills, and what data usage (src/agent/usage.ts) counts. Inbound
 * packets that are not our own probe answers are counted apart, for quiet
 * liveness ("data was received through the link").
 */
import type { Config } from "../config/schema.ts";
import type { Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { BearerCounters, BearerUpInfo, DataBearer } from "../core/data-bearer.ts";
import type { IpVersion, PacedIpLink } from "../core/ip-link.ts";
import { InLinkPinger, randomIdentifier } from "../net/icmp.ts";
import { LinkInterface } from "../net/iface.ts";
import { PacketPump } from "../net/pump.ts";
import type { TunDevice } from "../net/tun.ts";
import { InLinkIcmpProber } from "../health/icmp-prober.ts";

export class DataPlane {
  readonly pinger: InLinkPinger;
  readonly prober: InLinkIcmpProber;
  private bearer: DataBearer | null = null;
  private unsubscribe: (() => void) | null = null;
  /**
   * One pump for the TUN's whole life (there must be only one reader of the
   * TUN): a pump made per link-up leaves its last TUN read pending after
   * stop(), and that read ate the first packet after every redial. On link
   * down the pump stays and drops what it reads as link-not-open (counted);
   * on link up the new link is switched in under it.
   */
  private pump: PacketPump | null = null;
  /** A packet the link accepted counts as sent. */
  private countOut(sent: boolean, p: Uint8Array): boolean {
    if (sent) {
      this.ip.bytesOut += p.length;
      this.ip.packetsOut++;
    }
    return sent;
  }
  private pumpTun: TunDevice | null = null;
  private readonly pumpLink = new SwitchableIpLink();
  private iface: LinkInterface | null = null;
  /** Counters of the bearers that have gone down, summed. */
  private base: BearerCounters | null = null;
  private info: BearerUpInfo | null = null;
  private readonly ip: IpTraffic = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, otherPacketsIn: 0 };
  private offIpCount: (() => void) | null = null;

  constructor(
    private readonly config: Config,
    private readonly deps: { scheduler: Scheduler; log: Logger; emit: (e: EventBase) => void; netns?: string },
  ) {
    this.pinger = new InLinkPinger({ identifier: randomIdentifier() });
    this.prober = new InLinkIcmpProber(this.pinger, (p) => this.countOut(this.bearer?.ip.sendIp(4, p) ?? false, p), deps.scheduler);
    this.pumpLink.onSent = (p) => void this.countOut(true, p);
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

  /** The pump is paced by the bearer's own write backlog (the serial line under it). */
  async linkUp(bearer: DataBearer, info: BearerUpInfo): Promise<void> {
    await this.linkDown(null);
    this.bearer = bearer;
    const link = bearer.ip;
    this.info = info;
    this.offIpCount = link.onIp((_v, p) => {
      this.ip.bytesIn += p.length;
      this.ip.packetsIn++;
    });
    this.pinger.setSource(info.ipv4?.local ?? null);
    if (this.iface && info.ipv4) {
      try {
        const tun = await this.iface.open();
        const pump = this.pumpFor(tun);
        this.pumpLink.attach(link);
        await this.iface.up({ mtu: info.mtu, local: info.ipv4.local, peer: info.ipv4.remote, dns: info.ipv4.dns, ipv6: info.ipv6 });
        pump.setLinkOpen(true);
      } catch (err) {
        this.deps.log.error(`interface setup failed: ${(err as Error).message}`);
      }
    } else {
      this.unsubscribe = link.onIp((v, p) => {
        if (!(v === 4 && this.prober.offer(p))) this.ip.otherPacketsIn++;
      });
    }
  }

  async linkDown(cause: Cause | null): Promise<void> {
    if (!this.bearer) return;
    this.base = addCounters(this.base, this.bearer.counters());
    this.bearer = null;
    this.info = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.offIpCount?.();
    this.offIpCount = null;
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

  /** Bearer counters since the agent started, for /status and /metrics (there named "ppp"). */
  counters(): BearerCounters | null {
    if (this.bearer) return addCounters(this.base, this.bearer.counters());
    return this.base ? addCounters(null, this.base) : null;
  }

  /** IP packets and bytes through the link since the agent started, both ways (what a carrier bills). */
  ipCounters(): Readonly<IpTraffic> {
    return { ...this.ip };
  }

  /** The packet pump's counters since the TUN was opened (tun mode), or null. */
  pumpCounters() {
    return this.pump?.counters ?? null;
  }

  private pumpFor(tun: TunDevice): PacketPump {
    if (this.pump && this.pumpTun === tun) return this.pump;
    void this.pump?.stop();
    this.pump = new PacketPump({
      tun,
      link: this.pumpLink,
      scheduler: this.deps.scheduler,
      linkOpen: false,
      filter: (v, p) => {
        const ours = v === 4 && this.prober.offer(p);
        if (!ours) this.ip.otherPacketsIn++;
        return ours;
      },
    });
    this.pumpTun = tun;
    this.pump.start();
    return this.pump;
  }
}

/**
 * The link under the one pump: forwards to whichever bearer's IP link is up now
 * (its packets, its write backlog and drain reports), and to nothing while
 * the link is down (sendIp says no; the pump is told the link is closed).
 */
class SwitchableIpLink implements PacedIpLink {
  private current: PacedIpLink | null = null;
  /** Told of every packet the current link accepted (the data plane's IP counters). */
  onSent: ((packet: Uint8Array) => void) | null = null;
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
    const sent = this.current?.sendIp(version, packet) ?? false;
    if (sent) this.onSent?.(packet);
    return sent;
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

/** IP traffic through the link (packets as IP datagrams, without PPP framing). */
export interface IpTraffic {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Inbound packets that were not answers to the in-link ICMP probe: traffic that proves the link alive. */
  otherPacketsIn: number;
}

/** a + b; an error kind only one of them has counts as 0 in the other. */
function addCounters(a: BearerCounters | null, b: BearerCounters): BearerCounters {
  if (!a) return { ...b, errors: { ...b.errors } };
  const errors: Record<string, number> = { ...a.errors };
  for (const [k, v] of Object.entries(b.errors)) errors[k] = (errors[k] ?? 0) + v;
  return { bytesIn: a.bytesIn + b.bytesIn, bytesOut: a.bytesOut + b.bytesOut, packetsIn: a.packetsIn + b.packetsIn, packetsOut: a.packetsOut + b.packetsOut, errors };
}

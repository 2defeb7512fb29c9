/**
 * The packet pump: TUN → link and link → TUN.
 *
 * Back-pressure (why no queue grows without bound when the serial line is far
 * slower than the LAN): the TUN side is pulled, not pushed. We only read the
 * next chunk from TUN when our outbound queue has room and the link's own
 * backlog (if it reports one) is under its high-water mark. While we do not
 * read, the kernel's TUN tx queue fills and the kernel drops, which TCP sees
 * as loss and slows down: the same as a real slow NIC.
 *
 * Link → TUN needs no queue: it is bounded by the line rate, and a TUN write
 * does not block.
 */
import { RealScheduler, type CancelTimer, type Scheduler } from "../core/clock.ts";
import type { IpVersion, PacedIpLink } from "../core/ip-link.ts";
import { ipVersion, splitPackets } from "./packet.ts";
import type { TunDevice } from "./tun.ts";

export type DropReason = "queue-full" | "link-not-open" | "malformed" | "tun-write";

export interface PumpCounters {
  /** Packets/bytes handed to the link. */
  toLink: { packets: number; bytes: number };
  /** Packets/bytes written to TUN. */
  toTun: { packets: number; bytes: number };
  /** Packets taken off the link by the filter (our own ICMP replies). */
  filtered: number;
  drops: Record<DropReason, number>;
  /** How often reading TUN waited for the link to drain. */
  pauses: number;
}

export interface PacketPumpOptions {
  tun: TunDevice;
  link: PacedIpLink;
  /** Inbound filter, called on every packet from the link before TUN: return true to take it off (e.g. InLinkPinger replies). */
  filter?: (version: IpVersion, packet: Uint8Array) => boolean;
  /** Stop reading TUN while this many packets wait for the link (default 64). */
  queuePackets?: number;
  /**
   * Hard cap on bytes waiting for the link (default 256 KiB). One TUN read can
   * bring a whole merged chunk (Bun reads up to 256 KiB at once, bun-facts §4);
   * the chunk is kept as long as it fits under this cap, because dropping the
   * tail of a burst we already read would hit TCP with a burst loss for no
   * gain. Packets beyond it are dropped as queue-full.
   */
  queueBytesCap?: number;
  /** Stop reading TUN while the link's backlog exceeds this many bytes (default 32 KiB). */
  highWaterBytes?: number;
  /** How often to re-check a full link backlog, ms (default 1; 10 when the link reports drains). */
  drainPollMs?: number;
  scheduler?: Scheduler;
  /** Whether the link is open at start (default true). */
  linkOpen?: boolean;
}

/**
 * The one read outstanding on each TUN device. The device outlives a PPP link
 * (the interface is kept across redials) and its fd stream serves concurrent
 * reads first come, first served: a pump stopped while its read waits would
 * otherwise leave that read behind, one per link flap, each swallowing a chunk
 * of the next link's packets. A stopped pump leaves its read here instead, and
 * the next pump on the same device takes it over.
 */
const outstandingReads = new WeakMap<TunDevice, Promise<Uint8Array[] | null>>();

function readTun(tun: TunDevice): Promise<Uint8Array[] | null> {
  let p = outstandingReads.get(tun);
  if (!p) {
    p = tun.read();
    outstandingReads.set(tun, p);
  }
  return p;
}

const STOPPED = Symbol("stopped");

export class PacketPump {
  readonly counters: PumpCounters = {
    toLink: { packets: 0, bytes: 0 },
    toTun: { packets: 0, bytes: 0 },
    filtered: 0,
    drops: { "queue-full": 0, "link-not-open": 0, malformed: 0, "tun-write": 0 },
    pauses: 0,
  };
  private readonly tun: TunDevice;
  private readonly link: PacedIpLink;
  private readonly filter: ((version: IpVersion, packet: Uint8Array) => boolean) | undefined;
  private readonly queueLimit: number;
  private readonly queueBytesCap: number;
  private queueBytes = 0;
  private readonly highWater: number;
  private readonly drainPollMs: number;
  private readonly scheduler: Scheduler;
  private queue: Array<{ version: IpVersion; packet: Uint8Array }> = [];
  private linkOpen: boolean;
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private drainTimer: CancelTimer | null = null;
  private stopSignal: Promise<typeof STOPPED> | null = null;
  private signalStop: (() => void) | null = null;

  constructor(opts: PacketPumpOptions) {
    this.tun = opts.tun;
    this.link = opts.link;
    this.filter = opts.filter;
    this.queueLimit = opts.queuePackets ?? 64;
    this.queueBytesCap = opts.queueBytesCap ?? 256 * 1024;
    this.highWater = opts.highWaterBytes ?? 32 * 1024;
    this.drainPollMs = opts.drainPollMs ?? (opts.link.onDrain ? 10 : 1);
    this.scheduler = opts.scheduler ?? new RealScheduler();
    this.linkOpen = opts.linkOpen ?? true;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopSignal = new Promise((resolve) => (this.signalStop = () => resolve(STOPPED)));
    const offIp = this.link.onIp((v, p) => this.fromLink(v, p));
    const offDrain = this.link.onDrain?.(() => {
      this.flush();
      if (this.canRead()) this.kick();
    });
    this.unsubscribe = () => {
      offIp();
      offDrain?.();
    };
    this.loop = this.readLoop();
  }

  /** The agent calls this on ppp.up / ppp.down. While closed, TUN packets are read and dropped (counted). */
  setLinkOpen(open: boolean): void {
    this.linkOpen = open;
    if (!open) {
      this.counters.drops["link-not-open"] += this.queue.length;
      this.queue = [];
      this.queueBytes = 0;
    }
    this.kick();
  }

  get isLinkOpen(): boolean {
    return this.linkOpen;
  }

  queueLength(): number {
    return this.queue.length;
  }

  queuedBytes(): number {
    return this.queueBytes;
  }

  /** Stop pumping. Does not close the TUN device or the link (their owners do). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.signalStop?.();
    this.signalStop = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.drainTimer?.();
    this.drainTimer = null;
    this.kick();
    this.queue = [];
    this.queueBytes = 0;
    // The read loop ends when the TUN read resolves (next packet or close).
  }

  /** Resolves when the read loop has finished (after stop() and one more TUN read, or TUN close). */
  async done(): Promise<void> {
    await this.loop;
  }

  private fromLink(version: IpVersion, packet: Uint8Array): void {
    if (this.filter?.(version, packet)) {
      this.counters.filtered++;
      return;
    }
    const v = ipVersion(packet);
    if (v === null || v !== version) {
      this.counters.drops.malformed++;
      return;
    }
    if (this.tun.write(packet)) {
      this.counters.toTun.packets++;
      this.counters.toTun.bytes += packet.byteLength;
    } else this.counters.drops["tun-write"]++;
  }

  private async readLoop(): Promise<void> {
    while (this.running) {
      if (!this.canRead()) {
        this.counters.pauses++;
        await this.waitForRoom();
        continue;
      }
      const read = readTun(this.tun);
      const batch = await Promise.race([read, this.stopSignal!]);
      // Stopped: the read stays outstanding for the next pump on this device (batch included, unconsumed).
      if (batch === STOPPED || !this.running) break;
      if (outstandingReads.get(this.tun) === read) outstandingReads.delete(this.tun);
      if (batch === null) break;
      for (const chunk of batch) this.acceptChunk(chunk);
      this.flush();
    }
    this.drainTimer?.();
    this.drainTimer = null;
  }

  private acceptChunk(chunk: Uint8Array): void {
    const { packets, malformed } = splitPackets(chunk);
    if (malformed > 0) this.counters.drops.malformed++;
    for (const packet of packets) {
      const version = ipVersion(packet)!;
      if (!this.linkOpen || !this.running) {
        this.counters.drops["link-not-open"]++;
      } else if (this.queueBytes + packet.byteLength > this.queueBytesCap) {
        this.counters.drops["queue-full"]++;
      } else {
        this.queue.push({ version, packet });
        this.queueBytes += packet.byteLength;
      }
    }
  }

  private linkBusy(): boolean {
    const backlog = this.link.backlogBytes?.();
    return backlog !== undefined && backlog > this.highWater;
  }

  private canRead(): boolean {
    return this.queue.length < this.queueLimit && !this.linkBusy();
  }

  private flush(): void {
    while (this.queue.length > 0 && this.linkOpen && !this.linkBusy()) {
      const item = this.queue.shift()!;
      this.queueBytes -= item.packet.byteLength;
      if (this.link.sendIp(item.version, item.packet)) {
        this.counters.toLink.packets++;
        this.counters.toLink.bytes += item.packet.byteLength;
      } else {
        // The link said no although we think it is open: its own queue is full.
        this.counters.drops["queue-full"]++;
      }
    }
  }

  private waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      // Poll the link's backlog only while it is over high water: idle costs nothing.
      this.drainTimer = this.scheduler.setTimer(this.scheduler.now() + this.drainPollMs, () => {
        this.drainTimer = null;
        this.flush();
        this.kick();
      });
    });
  }

  private kick(): void {
    const w = this.wake;
    if (!w) return;
    this.wake = null;
    this.drainTimer?.();
    this.drainTimer = null;
    w();
  }
}

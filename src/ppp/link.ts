/**
 * PppLink: the thin adapter between a BytePipe (serial port, pty, in-memory
 * pipe) and the PppSession core. It owns the only I/O and the only timer of
 * the PPP stack:
 *
 *   pipe bytes → HdlcDecoder → session.input(frame, now)
 *   session.drain().frames → encodeFrame → pipe.write
 *   session.nextDeadline() → one WakeTimer → session.poll(now)
 *
 * LCP packets always go out with the default framing (RFC 1662 §7.1: the
 * ACCM applies only once LCP is Opened, and RFC 1661 §6.5/§6.6: LCP packets
 * are never sent with PFC/ACFC); everything else uses what the peer acked.
 * After every step the decoder is told the receive ACCM/MRU we negotiated.
 */
import type { Cause } from "../core/cause.ts";
import { type Scheduler, WakeTimer } from "../core/clock.ts";
import type { EventBase } from "../core/events.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { PppEvent } from "./events.ts";
import { type DecoderCounters, HdlcDecoder, encodeFrameInto, maxFrameSize } from "./hdlc.ts";
import { PcapFile, type PcapSink } from "./pcap.ts";
import type { PppSession, PppStatus } from "./session.ts";
import { DEFAULT_FRAMING, PROTO } from "./types.ts";

/**
 * The byte pipe under the link closed (port vanished, pty hung up, or we
 * closed it). The modem's NO CARRIER arrives this way too: the AT channel
 * recognises it between frames and ends its data-mode pipe with cause
 * carrier-lost (src/at/core.ts); this link never looks for modem text.
 */
export interface PppPipeClosedEvent extends EventBase {
  type: "ppp.link.closed";
  cause: Cause | null;
}

/** The pcap file (`ppp.pcap`) could not be opened; the link runs without recording. */
export interface PppPcapErrorEvent extends EventBase {
  type: "ppp.link.pcap-error";
  path: string;
  detail: string;
}

export type PppLinkEvent = PppEvent | PppPipeClosedEvent | PppPcapErrorEvent;

export interface PppLinkCounters {
  /** Octets read from / written to the pipe (flags, escapes and FCS included). */
  bytesIn: number;
  bytesOut: number;
  /** Frames decoded and handed to the session / encoded and written. */
  framesIn: number;
  framesOut: number;
  /** IP packets delivered to onIp listeners / accepted by sendIp. */
  packetsIn: number;
  packetsOut: number;
  /** IP packets sendIp refused (NCP not open, larger than the peer's MRU). */
  packetsRefused: number;
  /** Writes attempted after the pipe had closed. */
  writesDropped: number;
  decoder: DecoderCounters;
}

export interface PppLinkOptions {
  pipe: BytePipe;
  session: PppSession;
  scheduler: Scheduler;
  /** Record every frame: a file path (`ppp.pcap`) or any sink. */
  pcap?: string | PcapSink;
  /** With a file path: record IPv4/IPv6 frames too (`ppp.pcap_payload`, default true); false: control protocols only. */
  pcapPayload?: boolean;
}

type IpListener = (version: 4 | 6, packet: Uint8Array) => void;
type EventListener = (event: PppLinkEvent) => void;

export class PppLink {
  readonly session: PppSession;
  private readonly pipe: BytePipe;
  private readonly scheduler: Scheduler;
  private readonly decoder = new HdlcDecoder();
  private readonly wake: WakeTimer;
  /** Recording sink: given by the caller, or a PcapFile this link opens on start() and closes on stop(). */
  private pcap: PcapSink | null;
  private readonly pcapPath: string | null;
  private readonly pcapPayload: boolean;
  private readonly ipListeners = new Set<IpListener>();
  private readonly eventListeners = new Set<EventListener>();
  private unsubscribe: (() => void)[] = [];
  private started = false;
  /**
   * The frames of one flush, framed back to back and handed to the pipe in
   * one write. Reused: every BytePipe copies what write() is given before it
   * returns (core/pipe.ts), so no array per frame or per batch is needed.
   */
  private txBuf = new Uint8Array(16 * 1024);
  private flushing = false;
  private flushAgain = false;
  private readonly c = {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
    packetsRefused: 0,
    writesDropped: 0,
  };

  constructor(opts: PppLinkOptions) {
    this.session = opts.session;
    this.pipe = opts.pipe;
    this.scheduler = opts.scheduler;
    this.pcapPath = typeof opts.pcap === "string" ? opts.pcap : null;
    this.pcap = typeof opts.pcap === "object" ? opts.pcap : null;
    this.pcapPayload = opts.pcapPayload !== false;
    this.wake = new WakeTimer(this.scheduler, () => this.onWake());
  }

  /**
   * Attach to the pipe and open the session (LCP starts). Call once the modem
   * is in data mode. A stopped link can be started again (next data call).
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.pcapPath !== null && this.pcap === null) {
      try {
        this.pcap = new PcapFile(this.pcapPath, { payload: this.pcapPayload });
      } catch (err) {
        // Recording is a diagnostic aid: never let it stop the link.
        this.emit({ type: "ppp.link.pcap-error", at: this.scheduler.now(), path: this.pcapPath, detail: String((err as Error).message ?? err) });
      }
    }
    this.unsubscribe.push(this.pipe.onData((d) => this.onBytes(d)));
    this.unsubscribe.push(this.pipe.onClose((reason) => this.onPipeClosed(reason)));
    this.decoder.reset();
    this.session.open(this.scheduler.now());
    this.flush();
  }

  /** Administrative close: LCP Terminate-Request with `reason`; the link stays attached until stop(). */
  close(reason: string): void {
    if (!this.started) return;
    this.session.close(reason, this.scheduler.now());
    this.flush();
  }

  /**
   * Detach from the pipe now: the session sees the lower layer go down, the
   * timer is cancelled, the pcap file closed. The pipe itself stays open
   * (the owner may hand it back to the AT channel).
   */
  stop(): void {
    if (!this.started) return;
    this.session.lowerDown(this.scheduler.now());
    this.flush();
    this.detach();
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Send one IP packet; false when the session refused it (NCP not open, too big). */
  sendIp(version: 4 | 6, packet: Uint8Array): boolean {
    if (!this.started) return false;
    const ok = this.session.sendIp(version, packet, this.scheduler.now());
    if (ok) this.c.packetsOut++;
    else this.c.packetsRefused++;
    this.flush();
    return ok;
  }

  onIp(fn: IpListener): () => void {
    this.ipListeners.add(fn);
    return () => this.ipListeners.delete(fn);
  }

  onEvent(fn: EventListener): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /**
   * The line's write backlog and drain reports (PacedIpLink in src/net/pump.ts):
   * the packet pump stops reading TUN while the serial line is behind.
   */
  backlogBytes(): number {
    return this.pipe.backlogBytes?.() ?? 0;
  }

  onDrain(fn: () => void): () => void {
    return this.pipe.onDrain?.(fn) ?? (() => {});
  }

  counters(): PppLinkCounters {
    return { ...this.c, decoder: { ...this.decoder.counters } };
  }

  status(): PppStatus & { link: PppLinkCounters } {
    return { ...this.session.status(), link: this.counters() };
  }

  // ------------------------------------------------------------ internals

  private onBytes(data: Uint8Array): void {
    if (!this.started) return;
    this.c.bytesIn += data.length;
    // Frame by frame: the session may open LCP on one frame, and the next
    // frame in the same read already uses the receive ACCM we negotiated.
    this.decoder.decode(data, (ev) => {
      const now = this.scheduler.now();
      this.c.framesIn++;
      this.pcap?.record("in", ev.protocol, ev.info, now);
      this.session.input({ protocol: ev.protocol, info: ev.info }, now);
      // Only LCP changes the receive framing; IP frames (nearly all of them) cannot.
      if (ev.protocol !== PROTO.IPV4 && ev.protocol !== PROTO.IPV6) this.syncReceiveFraming();
    });
    this.flush();
  }

  /** Receive side follows what LCP negotiated (defaults while not Opened). */
  private syncReceiveFraming(): void {
    const rx = this.session.rxFraming();
    this.decoder.setAccm(rx.accm);
    this.decoder.setMru(rx.mru);
    this.decoder.setFcs32(rx.fcs32);
  }

  private onPipeClosed(reason: Cause | null): void {
    if (!this.started) return;
    const now = this.scheduler.now();
    this.emit({ type: "ppp.link.closed", at: now, cause: reason });
    this.session.lowerDown(now);
    this.flush();
    this.detach();
  }

  private detach(): void {
    this.started = false;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.wake.disarm();
    // Close only the file we opened; a caller's sink stays the caller's.
    if (this.pcapPath !== null) {
      this.pcap?.close();
      this.pcap = null;
    }
  }

  private onWake(): void {
    if (!this.started) return;
    this.session.poll(this.scheduler.now());
    this.flush();
  }

  /** Move everything the session produced to the wire and the listeners; re-arm the timer. */
  private flush(): void {
    // Listeners may call sendIp() from inside a callback: run one loop, not nested ones.
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    try {
      do {
        this.flushAgain = false;
        const out = this.session.drain();
        if (out.frames.length > 0) this.writeFrames(out.frames);
        // The receive framing follows LCP's state, and every LCP state change
        // comes with an event (ppp.fsm): a drain without events (IP in or out)
        // leaves it as it was.
        if (out.events.length > 0) this.syncReceiveFraming();
        for (const ev of out.events) this.emit(ev);
        for (const p of out.ip) {
          this.c.packetsIn++;
          for (const fn of this.ipListeners) {
            try {
              fn(p.version, p.packet);
            } catch (err) {
              console.error("ppp link IP listener failed:", err);
            }
          }
        }
      } while (this.flushAgain);
    } finally {
      this.flushing = false;
    }
    if (this.started) this.wake.arm(this.session.nextDeadline());
  }

  private writeFrames(frames: { protocol: number; info: Uint8Array }[]): void {
    const now = this.scheduler.now();
    const tx = this.session.txFraming();
    let room = 0;
    for (const f of frames) room += maxFrameSize(f.info.length);
    if (this.txBuf.length < room) this.txBuf = new Uint8Array(Math.max(room, this.txBuf.length * 2));
    let end = 0;
    for (const f of frames) {
      end = encodeFrameInto(this.txBuf, end, f.protocol, f.info, f.protocol === PROTO.LCP ? DEFAULT_FRAMING : tx);
      this.pcap?.record("out", f.protocol, f.info, now);
    }
    this.c.framesOut += frames.length;
    if (!this.pipe.isOpen) {
      this.c.writesDropped += frames.length;
      return;
    }
    // One write per batch: fewer syscalls, frames stay in order.
    this.c.bytesOut += end;
    this.pipe.write(this.txBuf.subarray(0, end));
  }

  private emit(ev: PppLinkEvent): void {
    for (const fn of this.eventListeners) {
      try {
        fn(ev);
      } catch (err) {
        // A broken listener must not stop the link.
        console.error(`ppp link listener failed on ${ev.type}:`, err);
      }
    }
  }
}

/**
 * PPP over the modem's data-mode pipe: the first DataBearer (src/core/data-bearer.ts).
 * Builds a PppSession (client role) from the config (src/ppp/options.ts) and a
 * PppLink on the pipe, and turns the link's events into the bearer's up/down
 * hooks with the most precise cause PPP knows.
 */
import { cause, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { BearerCounters, BearerHooks, CreateBearer, DataBearer, KeepaliveStatus } from "../core/data-bearer.ts";
import type { PacedIpLink } from "../core/ip-link.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { Config } from "../config/schema.ts";
import { PppLink, type PppLinkEvent } from "../ppp/link.ts";
import { PppSession } from "../ppp/session.ts";
import { clientSessionOptions } from "../ppp/options.ts";

export interface PppBearerOptions {
  config: Config;
  scheduler: Scheduler;
  /** Every PPP event (forward to the agent's bus). */
  onEvent?: (e: PppLinkEvent) => void;
  random?: (n: number) => Uint8Array;
  /** Record frames (ppp.pcap). */
  pcap?: string;
}

/** The factory the supervisor takes (SupervisorDeps.createBearer). */
export function pppBearerFactory(opts: PppBearerOptions): CreateBearer<PppBearer> {
  return (pipe, hooks) => new PppBearer(pipe, hooks, opts);
}

export class PppBearer implements DataBearer {
  readonly kind = "ppp";
  readonly session: PppSession;
  readonly link: PppLink;
  private readonly echo: { intervalMs: number; failures: number } | null;
  private ended = false;
  /** Why the pipe closed (port-vanished...), when it said. */
  private lineCause: Cause | null = null;
  private readonly endWaiters: Array<() => void> = [];

  constructor(
    pipe: BytePipe,
    private readonly hooks: BearerHooks,
    private readonly opts: PppBearerOptions,
  ) {
    const options = clientSessionOptions(opts.config, opts.random);
    this.echo = options.echo && options.echo.intervalMs > 0 ? { intervalMs: options.echo.intervalMs, failures: options.echo.failures } : null;
    this.session = new PppSession(options);
    const pcap = opts.pcap ?? opts.config.ppp.pcap;
    this.link = new PppLink({ pipe, session: this.session, scheduler: opts.scheduler, ...(pcap ? { pcap, pcapPayload: opts.config.ppp.pcap_payload !== false } : {}) });
    this.link.onEvent((e) => this.onLinkEvent(e));
  }

  /** PppLink is the IP link: sendIp/onIp through the session, backlog and drain from the pipe. */
  get ip(): PacedIpLink {
    return this.link;
  }

  start(): void {
    this.link.start();
  }

  async stop(): Promise<void> {
    if (!this.ended) {
      this.link.close("cellkeep hangs up");
      // The close may have ended the link on the spot (nothing to wait for).
      if (!this.ended) {
        const { scheduler } = this.opts;
        const waitMs = terminateWaitMs(this.opts.config, this.session.lastFrameReceivedAt(), scheduler.now());
        if (waitMs > 0) {
          await new Promise<void>((resolve) => {
            let cancel: CancelTimer = () => {};
            this.endWaiters.push(() => {
              cancel();
              resolve();
            });
            cancel = scheduler.setTimer(scheduler.now() + waitMs, resolve);
          });
        }
      }
    }
    this.link.stop();
  }

  /** The link's octets and packets; errors = the HDLC decoder's counters (not its good frames) and packets sendIp refused. */
  counters(): BearerCounters {
    const c = this.link.counters();
    const errors: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.decoder)) if (typeof v === "number" && k !== "frames") errors[k] = v;
    errors.packetsRefused = c.packetsRefused;
    return { bytesIn: c.bytesIn, bytesOut: c.bytesOut, packetsIn: c.packetsIn, packetsOut: c.packetsOut, errors };
  }

  /** LCP echo (ppp.echo_interval, ppp.echo_failures); null when switched off. */
  keepalive(): KeepaliveStatus | null {
    if (!this.echo) return null;
    return { ...this.echo, ...this.session.status().echo };
  }

  private end(c: Cause | null): void {
    if (this.ended) return;
    this.ended = true;
    this.hooks.down(c);
    for (const w of this.endWaiters.splice(0)) w();
  }

  private onLinkEvent(e: PppLinkEvent): void {
    this.opts.onEvent?.(e);
    switch (e.type) {
      case "ppp.open": {
        const st = this.session.status();
        this.hooks.up({
          ipv4: st.ipv4 ? { local: st.ipv4.local, remote: st.ipv4.remote, dns: st.ipv4.dns } : null,
          ipv6: st.ipv6 ? { local: st.ipv6.local, remote: st.ipv6.remote } : null,
          mtu: st.peerMru,
        });
        break;
      }
      case "ppp.dead":
        // PppLink reports a closed pipe as carrier-lost; the pipe's own cause (port-vanished) is more precise.
        this.end(e.cause?.code === "carrier-lost" && this.lineCause ? this.lineCause : (e.cause ?? null));
        break;
      // The line dropped: the modem's NO CARRIER (the AT channel ends the data-mode pipe with
      // cause carrier-lost) or the pipe closed (port-vanished...). Tell the session its lower
      // layer is down: it then reports its own pending cause (auth-rejected,
      // terminated-after-auth...) when it has one, which says more than the line drop that
      // typically follows the network's PAP Nak or Terminate-Request; otherwise the line's cause.
      case "ppp.link.closed": {
        const fallback = e.cause ?? cause("carrier-lost");
        if (e.cause) this.lineCause = e.cause;
        queueMicrotask(() => {
          this.link.stop();
          const own = this.session.status().lastCause;
          this.end(own && own.code !== "carrier-lost" ? own : fallback);
        });
        break;
      }
    }
  }
}

/** Longest wait for the peer's Terminate-Ack on hang-up, whatever the RFC 1661 timers say. */
const TERMINATE_ACK_WAIT_CAP_MS = 3_000;

/**
 * How long stop() waits for the Terminate-Ack after its Terminate-Request.
 * RFC 1661 §5.5 resends the request every Restart timer up to Max-Terminate
 * times, i.e. up to restart_timer × (max_terminate + 1) before giving up
 * (9 s with the defaults). The peer is the modem on a local line, which
 * answers in milliseconds if it listens at all, so:
 * - nothing received from it within the last restart_timer (frozen peer, or
 *   the modem is gone): it is not listening, send and do not wait (0);
 * - otherwise wait for the Ack, at most min(that RFC total, 3 s).
 */
export function terminateWaitMs(config: Config, lastFrameReceivedAt: number | null, now: number): number {
  const { restart_timer: restart, max_terminate: maxTerminate } = config.ppp;
  if (lastFrameReceivedAt === null || now - lastFrameReceivedAt > restart) return 0;
  return Math.min(restart * (maxTerminate + 1), TERMINATE_ACK_WAIT_CAP_MS);
}

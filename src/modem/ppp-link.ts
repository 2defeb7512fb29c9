/**
 * Joins the supervisor to the PPP stack: builds a PppSession (client role)
 * from the config and a PppLink on the data-mode pipe, and turns the link's
 * events into the supervisor's up/down hooks. The data plane reaches the
 * running link through `supervisor.pppLink.link` (sendIp/onIp).
 */
import { cause, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { Config } from "../config/schema.ts";
import { PppLink, type PppLinkEvent } from "../ppp/link.ts";
import { PppSession, type PppSessionOptions } from "../ppp/session.ts";
import { clientSessionOptions } from "../ppp/options.ts";
import type { CreatePppLink, PppLinkLike } from "./types.ts";

export interface PppLinkHandle extends PppLinkLike {
  readonly link: PppLink;
  readonly session: PppSession;
}

export interface PppLinkFactoryOptions {
  config: Config;
  scheduler: Scheduler;
  /** Every PPP event (forward to the agent's bus). */
  onEvent?: (e: PppLinkEvent) => void;
  random?: (n: number) => Uint8Array;
  /** Record frames (ppp.pcap). */
  pcap?: string;
}

/** PppSession options from the config (ppp.*, auth.*, network.pdp_type); one mapping, in src/ppp/options.ts. */
export function sessionOptions(config: Config, random?: (n: number) => Uint8Array): PppSessionOptions {
  return clientSessionOptions(config, random);
}

export function pppLinkFactory(opts: PppLinkFactoryOptions): CreatePppLink<PppLinkHandle> {
  return (pipe, hooks) => {
    const session = new PppSession(sessionOptions(opts.config, opts.random));
    const pcap = opts.pcap ?? opts.config.ppp.pcap;
    const link = new PppLink({ pipe, session, scheduler: opts.scheduler, ...(pcap ? { pcap, pcapPayload: opts.config.ppp.pcap_payload !== false } : {}) });
    let ended = false;
    let lineCause: Cause | null = null;
    const endWaiters: Array<() => void> = [];
    const end = (c: Cause | null) => {
      if (ended) return;
      ended = true;
      hooks.down(c);
      for (const w of endWaiters.splice(0)) w();
    };
    link.onEvent((e) => {
      opts.onEvent?.(e);
      switch (e.type) {
        case "ppp.open": {
          const st = session.status();
          hooks.up({
            ipv4: st.ipv4 ? { local: st.ipv4.local, remote: st.ipv4.remote, dns: st.ipv4.dns } : null,
            ipv6: st.ipv6 ? { local: st.ipv6.local, remote: st.ipv6.remote } : null,
            mru: st.peerMru,
          });
          break;
        }
        case "ppp.dead":
          // PppLink reports a closed pipe as carrier-lost; the pipe's own cause (port-vanished) is more precise.
          end(e.cause?.code === "carrier-lost" && lineCause ? lineCause : (e.cause ?? null));
          break;
        // The line dropped: the modem's NO CARRIER (the AT channel ends the data-mode pipe with
        // cause carrier-lost) or the pipe closed (port-vanished...). Tell the session its lower
        // layer is down: it then reports its own pending cause (auth-rejected,
        // terminated-after-auth...) when it has one, which says more than the line drop that
        // typically follows the network's PAP Nak or Terminate-Request; otherwise the line's cause.
        case "ppp.link.closed": {
          const fallback = e.cause ?? cause("carrier-lost");
          if (e.cause) lineCause = e.cause;
          queueMicrotask(() => {
            link.stop();
            const own = session.status().lastCause;
            end(own && own.code !== "carrier-lost" ? own : fallback);
          });
          break;
        }
      }
    });
    const handle: PppLinkHandle = {
      link,
      session,
      start: () => link.start(),
      stop: async () => {
        if (!ended) {
          link.close("cellkeep hangs up");
          // The close may have ended the link on the spot (nothing to wait for).
          if (!ended) {
            const waitMs = terminateWaitMs(opts.config, session.lastFrameReceivedAt(), opts.scheduler.now());
            if (waitMs > 0) {
              await new Promise<void>((resolve) => {
                let cancel: CancelTimer = () => {};
                endWaiters.push(() => {
                  cancel();
                  resolve();
                });
                cancel = opts.scheduler.setTimer(opts.scheduler.now() + waitMs, resolve);
              });
            }
          }
        }
        link.stop();
      },
    };
    return handle;
  };
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

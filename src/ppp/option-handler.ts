/**
 * What LCP, IPCP and IPV6CP share as OptionHandlers of the one automaton
 * (DESIGN.md rule 2): building the verdict on the peer's Configure-Request,
 * and handing the This-Layer-* actions to the protocol's listener. Each
 * protocol then supplies only its options.
 */
import type { OptionHandler, RequestVerdict } from "./fsm.ts";
import type { ConfigOption } from "./packet.ts";

/**
 * The verdict on one Configure-Request (RFC 1661 §5.2-5.4): any Reject wins
 * over any Nak, and only a request with neither is Acked.
 */
export class RequestCheck {
  private readonly naks: ConfigOption[] = [];
  private readonly rejs: ConfigOption[] = [];

  /** `rejectIfDisagree`: Max-Failure Naks were sent, Naks turn into Rejects (RFC 1661 §4.6). */
  constructor(private readonly rejectIfDisagree: boolean) {}

  /** An option we do not support, or a malformed one. */
  reject(o: ConfigOption): void {
    this.rejs.push(o);
  }

  /**
   * We want `suggestion` instead of the peer's option: Nak with it (RFC 1661
   * §5.3), or, once Naks turn into Rejects after Max-Failure, Reject the
   * peer's option unmodified (§5.4).
   */
  disagree(peer: ConfigOption, suggestion: ConfigOption): void {
    if (this.rejectIfDisagree) this.rejs.push(peer);
    else this.naks.push(suggestion);
  }

  /** The verdict; `acked` runs only when the request is Acked (commit the peer's values). */
  verdict(acked: () => void): RequestVerdict {
    if (this.rejs.length > 0) return { kind: "rej", options: this.rejs };
    if (this.naks.length > 0) return { kind: "nak", options: this.naks };
    acked();
    return { kind: "ack", options: [] };
  }
}

/** The This-Layer-* actions (RFC 1661 §4.4) every protocol reports. */
export interface LayerListener {
  up(): void;
  down(): void;
  started(): void;
  finished(): void;
}

/** Hands tlu/tld/tls/tlf to the protocol's listener. */
export abstract class LayerHandler<L extends LayerListener>
  implements Pick<OptionHandler, "up" | "down" | "started" | "finished">
{
  constructor(protected readonly listener: L) {}

  up(): void {
    this.listener.up();
  }
  down(): void {
    this.listener.down();
  }
  started(): void {
    this.listener.started();
  }
  finished(): void {
    this.listener.finished();
  }
}

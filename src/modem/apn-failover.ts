/**
 * APN failover (network.apns): which APN the next data call defines. Pure
 * state, no I/O. A bring-up starts with the APN that connected last (the
 * first of the list until one has); when the network rejects it with an
 * APN-class cause (apn-rejected, pdp-rejected: ESM #27, #33...), the next one
 * in the list is tried at once in the same bring-up, each APN at most once
 * per bring-up. When every APN was rejected the cause goes to the recovery
 * policy as usual (an operator fault: slow retries, never a reset).
 */
import type { CauseCode } from "../core/cause.ts";

/** The causes after which another APN may succeed where this one did not. */
export const APN_CLASS_CAUSES: ReadonlySet<CauseCode> = new Set<CauseCode>(["apn-rejected", "pdp-rejected"]);

export class ApnFailover {
  private list: readonly string[] = [];
  /** The APN to start with (the one that connected last). */
  private preferred = 0;
  private current = 0;
  private triedThisAttempt = 0;

  /** A bring-up begins with `apns` (the config in force): back to the preferred APN. A changed list starts over at its first. */
  begin(apns: readonly string[]): void {
    if (apns.length !== this.list.length || apns.some((a, i) => a !== this.list[i])) {
      this.list = [...apns];
      this.preferred = 0;
    }
    this.current = this.preferred;
    this.triedThisAttempt = 1;
  }

  get apn(): string {
    return this.list[this.current] ?? "";
  }

  get index(): number {
    return this.current;
  }

  get count(): number {
    return this.list.length;
  }

  /**
   * The data call with the current APN failed with `code`: the next APN to
   * try now, or null when the cause is not about the APN or every APN has
   * had its try in this bring-up.
   */
  failed(code: CauseCode): string | null {
    if (!APN_CLASS_CAUSES.has(code) || this.triedThisAttempt >= this.list.length) return null;
    this.current = (this.current + 1) % this.list.length;
    this.triedThisAttempt++;
    return this.apn;
  }

  /** The call connected: later bring-ups start with this APN. */
  connected(): void {
    this.preferred = this.current;
  }

  /** Another SIM is in use: its subscription may want the first APN again. */
  restart(): void {
    this.preferred = 0;
    this.current = 0;
  }
}

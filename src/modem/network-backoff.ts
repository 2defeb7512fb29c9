/**
 * Back-off imposed by the network. A congested network rejects with a timer
 * (EMM cause #22 with T3346, TS 24.301 §5.5.1.2.5; ESM back-off T3396);
 * retrying or resetting before it runs out is futile, so the step ends in a
 * NetworkBackoff and the supervisor waits instead of escalating.
 */
import type { AtChannel, AtResponse } from "../at/channel.ts";
import type { AtCommands } from "./commands.ts";
import { NetworkBackoff } from "./failures.ts";
import { parseBackoff, T3402_DEFAULT_S } from "./parse.ts";
import type { ModemProfile } from "./profiles.ts";

/** EMM cause #22 "Congestion" (TS 24.301 annex A). */
export const EMM_CONGESTION = 22;

/** A back-off the modem announced (in a URC or a command's answer), until a step acts on it. */
export class PendingBackoff {
  private seconds: number | null = null;

  clear(): void {
    this.seconds = null;
  }

  /** Notes a back-off in a line of modem text; true when there was one. */
  noteText(text: string): boolean {
    const s = parseBackoff(text);
    if (s !== null) this.seconds = s;
    return s !== null;
  }

  noteResponse(r: AtResponse): void {
    this.noteText(`${r.detail} ${r.lines.join(" ")}`);
  }

  /** Ends the step with a NetworkBackoff when one was announced (and forgets it). */
  throwIfAny(): void {
    const s = this.seconds;
    if (s === null) return;
    this.seconds = null;
    throw new NetworkBackoff(s, `network back-off of ${s} s`);
  }
}

/** The remaining T3346 back-off: Quectel's AT+QNWCFG="backoff", else the T3402 default of 12 min. */
export async function congestionBackoffSeconds(at: AtCommands, profile: ModemProfile, ch: AtChannel): Promise<number> {
  if (profile.id !== "generic") {
    const r = await at.cmd('AT+QNWCFG="backoff"', ch);
    const m = r.status === "ok" ? r.lines.map((l) => /^\+QNWCFG:\s*"backoff",(\d+)/i.exec(l)).find((x) => x) : null;
    if (m) return Math.max(1, Number(m[1]));
  }
  return T3402_DEFAULT_S;
}

/**
 * Watching registration while the supervisor waits to retry. Resets are
 * spaced by the vendor's backoff, but dialling must not be: when the network
 * comes back (a +CEREG URC, or a poll no less often than
 * `recovery.registration_poll`), the wait ends and the supervisor dials.
 *
 * The trigger is an edge: registration usable after it was seen unusable (or
 * unknown) during this wait. A wait that began registered (wrong password,
 * APN refused) is not cut short by registration that never went away.
 */
import type { AtChannel } from "../at/channel.ts";
import type { ModemContext } from "./context.ts";
import { bestRegistration } from "./bringup.ts";
import { isRegistered, type Registration } from "./parse.ts";

export class RegistrationReturn {
  private sawUnusable: boolean;

  /** `allowed`: which registered stats may be dialled (radio.roaming = "deny" leaves out roaming, stat 5). */
  constructor(
    initial: Registration | null,
    private readonly allowed: (stat: number) => boolean = isRegistered,
  ) {
    this.sawUnusable = !this.usable(initial);
  }

  /** True once registration is usable after having been unusable or unknown during this wait. */
  returned(reg: Registration | null): boolean {
    if (!this.usable(reg)) {
      this.sawUnusable = true;
      return false;
    }
    return this.sawUnusable;
  }

  private usable(reg: Registration | null): boolean {
    return reg !== null && isRegistered(reg.stat) && this.allowed(reg.stat);
  }
}

/**
 * One quiet poll of registration on the control port, or on the data port
 * when it is open, idle and in command mode. Never throws, never waits out the
 * hung-module limit (that is bring-up's job): a silent modem simply teaches us
 * nothing. The best answer goes to the modem facts.
 */
export async function pollRegistrationQuietly(ctx: ModemContext): Promise<Registration | null> {
  const ch = idleChannel(ctx);
  if (!ch) return null;
  const best = await bestRegistration(async (c) => {
    const r = await ch.command(c, ctx.profile.limits.basic * 3);
    return r.status === "timeout" || r.status === "aborted" ? null : r;
  });
  if (best) ctx.facts.noteRegistration(best);
  return best;
}

/**
 * A channel that may take a query now without disturbing anything: the
 * control port when open, else the data port when open and in command mode
 * (a command queued in data mode would wait for command mode forever). The
 * caller decides whether its state allows using the data port at all.
 */
export function idleChannel(ctx: ModemContext): AtChannel | null {
  const control = ctx.ports.controlChannel;
  if (control) return control;
  const ch = ctx.ports.channel;
  if (!ch || ch.isDetached || !ch.pipe.isOpen || ch.mode !== "command") return null;
  return ch;
}

/**
 * An AT channel for work beside the link (SMS control, the network's time):
 * the control port when the modem has one (opened on first use), else the
 * data port, but only while it idles in command mode in a state that sends
 * no ATD: waiting between attempts, or registering/attaching (the IP link is
 * down then, which is when SMS control matters). A command queued behind ATD
 * would wait out the whole call; a command during a reset or the hang-up
 * sequence would be lost with the module. The AT queue serialises the rest.
 */
import type { AtChannel } from "../at/channel.ts";
import type { LinkState } from "../core/agent-events.ts";
import type { ModemContext } from "./context.ts";
import { idleChannel } from "./registration-watch.ts";

/** Supervisor states in which the data port may carry side work (no ATD, no reset, no PPP). */
export const SIDE_WORK_STATES: ReadonlySet<LinkState> = new Set<LinkState>(["waiting", "sim", "registering", "attaching"]);

export async function sideChannel(ctx: ModemContext, state: () => LinkState): Promise<AtChannel | null> {
  if (state() === "stopped") return null;
  await ctx.ports.openControl();
  const control = ctx.ports.controlChannel;
  if (control) return control;
  const ch = idleChannel(ctx);
  return ch && SIDE_WORK_STATES.has(state()) ? ch : null;
}

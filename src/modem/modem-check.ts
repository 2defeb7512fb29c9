/**
 * The health monitor's modem check (supervisor.pollModem): registration and
 * signal, asked on the control port while the bearer owns the data port, on the
 * data port while it idles in command mode during bring-up, else answered
 * from the last known values.
 */
import type { AtChannel } from "../at/channel.ts";
import type { LinkState } from "../core/agent-events.ts";
import { queryRegistration } from "./bringup.ts";
import { idleChannel } from "./registration-watch.ts";
import type { ModemContext } from "./context.ts";
import { causeOf } from "./failures.ts";
import { isRegistered, registrationStatus } from "./parse.ts";
import type { ModemPollResult } from "./types.ts";

/** Never throws: a failed query answers from the last known values with the failure's cause code. */
export async function checkModem(ctx: ModemContext, state: () => LinkState): Promise<ModemPollResult> {
  try {
    return await checkOnce(ctx, state);
  } catch (err) {
    const stat = ctx.facts.registration?.stat ?? null;
    return { ok: false, source: "cached", stat, rssi: ctx.facts.rssi, detail: causeOf(err, ctx.log).code };
  }
}

async function checkOnce(ctx: ModemContext, state: () => LinkState): Promise<ModemPollResult> {
  const { facts } = ctx;
  if (state() === "connected") await ctx.ports.openControl();
  const ch = pollChannel(ctx, state());
  if (ch) {
    const source = ch === ctx.ports.controlChannel ? "control-port" : "data-port";
    const reg = await queryRegistration(ctx.at, ch);
    if (reg) facts.noteRegistration(reg);
    await facts.pollSignal(ch);
    const stat = reg?.stat ?? null;
    const ok = stat !== null && isRegistered(stat);
    return { ok, source, stat, rssi: facts.rssi, detail: stat === null ? "no registration answer" : registrationStatus(stat) };
  }
  const stat = facts.registration?.stat ?? null;
  const ok = stat !== null && isRegistered(stat) && state() === "connected";
  return { ok, source: "cached", stat, rssi: facts.rssi, detail: stat === null ? "registration unknown" : registrationStatus(stat) };
}

/** The control port when open; the data port only while it is idle in command mode between bring-up steps. */
function pollChannel(ctx: ModemContext, state: LinkState): AtChannel | null {
  const ch = idleChannel(ctx);
  if (!ch || ch === ctx.ports.controlChannel) return ch;
  // Only between bring-up steps would we interleave; queries on an idle port are fine.
  if (state === "waiting" || state === "connected" || state === "stopped") return null;
  return ch;
}

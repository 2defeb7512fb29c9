/**
 * Selecting the other SIM slot (sim.failover_after; sim-failover.ts decides
 * when). Quectel modules with two slots choose one with AT+QDSIM=<0|1> (read
 * with AT+QDSIM?); the card is changed with the radio off, and the module
 * reads the new one at AT+CFUN=1. A module without a second slot answers
 * ERROR to AT+QDSIM?: failover is then off for this run ("unsupported").
 *
 * What was known about the old card goes: IMSI and ICCID are cleared at once
 * (a "modem.identity" with nulls) and read again by the SIM step of the next
 * bring-up (another "modem.identity"), so per-SIM views (usage by ICCID)
 * follow the card in use; the PIN memory of this run starts over.
 */
import type { ModemContext } from "./context.ts";
import type { SimFailover } from "./sim-failover.ts";

/** +QDSIM: <n> → n (0 = slot 1, 1 = slot 2); null when absent. */
export function parseQdsim(lines: readonly string[]): number | null {
  for (const l of lines) {
    const m = /^\+QDSIM:\s*(\d+)/i.exec(l.trim());
    if (m) return Number(m[1]);
  }
  return null;
}

/** Switches to the other slot; the outcome is a "modem.sim-switch" event. Throws the step's cause when a command fails. */
export async function switchSimSlot(ctx: ModemContext, failover: SimFailover, reason: string): Promise<void> {
  const report = (result: "switched" | "unsupported" | "failed", from: number | null, to: number | null) =>
    ctx.emit({ type: "modem.sim-switch", at: ctx.scheduler.now(), result, from, to, reason });
  if (ctx.profile.simSlots !== "qdsim") {
    failover.dualSim = false;
    ctx.log.warn(`sim.failover_after is set but ${ctx.profile.name} has no known SIM slot command; SIM failover is off`);
    return report("unsupported", null, null);
  }
  await ctx.ports.ensureData();
  const q = await ctx.at.answered("AT+QDSIM?");
  const current = q.status === "ok" ? parseQdsim(q.lines) : null;
  if (current === null || current > 1) {
    failover.dualSim = false;
    ctx.log.warn("sim.failover_after is set but the module has no second SIM slot (AT+QDSIM? unanswered); SIM failover is off");
    return report("unsupported", null, null);
  }
  failover.dualSim = true;
  const target = current === 0 ? 1 : 0;
  ctx.log.warn(`switching from SIM slot ${current + 1} to ${target + 1}: ${reason}`);
  try {
    await ctx.at.required("AT+CFUN=0", "at-error");
    await ctx.at.required(`AT+QDSIM=${target}`, "at-error");
    await ctx.at.required("AT+CFUN=1", "at-error");
  } catch (err) {
    failover.deferred(ctx.scheduler.now());
    report("failed", current + 1, target + 1);
    throw err;
  }
  failover.switched(ctx.scheduler.now());
  report("switched", current + 1, target + 1);
  // Another card: its identity is read again, and the PIN state of this run was the other card's.
  ctx.sim.pinSent = false;
  ctx.sim.rejected = null;
  ctx.sim.rejectedPin = undefined;
  ctx.facts.setSim(null, null);
  ctx.facts.forgetRegistration();
}

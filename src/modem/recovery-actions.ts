/**
 * The recovery actions the policy (src/core/recovery-policy.ts) chooses, from
 * the mildest up: redial (nothing to do here; the next bring-up dials),
 * radio cycle (AT+CFUN=0/1), module reset (AT+CFUN=1,1, wait for RDY while
 * the USB port may vanish and return), and the configured power-cycle and
 * reboot commands. The vendor warns against power-cycling often; the policy
 * spaces these out, this module only carries them out.
 */
import type { RecoveryRung } from "../core/agent-events.ts";
import type { ModemContext } from "./context.ts";
import { StepFailure } from "./failures.ts";
import { commandFailure } from "../sys/command.ts";

export async function runRecoveryAction(ctx: ModemContext, action: RecoveryRung): Promise<void> {
  switch (action) {
    case "redial":
      return;
    case "radio-cycle":
      return radioCycle(ctx);
    case "module-reset":
      return moduleReset(ctx);
    case "power-cycle":
    case "reboot":
      return runExternal(ctx, action);
  }
}

/**
 * An AT-command action can only reach a module that answers AT. Before
 * sending it, check: no port, or no answer for the vendor's hung limit (60 s
 * of silence, commands.ts), means the action would go into silence; it ends as
 * reset-undelivered, which the supervisor reports to the policy so that the
 * next reset is the hardware one, not a second AT reset into silence.
 */
async function requireAnswering(ctx: ModemContext, action: RecoveryRung): Promise<void> {
  try {
    await ctx.ports.ensureData();
    const ch = ctx.at.requireChannel();
    const probe = await ch.command("AT", ctx.profile.limits.basic);
    ctx.at.checkInterrupt(probe);
    if (probe.status === "ok" || probe.status === "error") return;
    // The vendor's limit counts from when the module last said anything, not from this probe: a
    // module already silent for 60 s is not given another minute before the hardware rung.
    const since = Math.min(probe.sentAt, ch.lastRxAt ?? probe.sentAt);
    const verdict = await ctx.at.timeoutCause({ ...probe, sentAt: since }, ch);
    if (verdict.causeInfo.code !== "modem-hung") return;
    throw verdict;
  } catch (err) {
    if (err instanceof StepFailure && (MODULE_GONE as readonly string[]).includes(err.causeInfo.code)) {
      throw new StepFailure("reset-undelivered", `${action} not sent: ${err.causeInfo.code}${err.causeInfo.detail ? ` (${err.causeInfo.detail})` : ""}`);
    }
    throw err;
  }
}

const MODULE_GONE = ["modem-hung", "port-vanished", "port-not-found"] as const;

/** AT+CFUN=0, the profile's settle time, AT+CFUN=1: the radio detaches and registers afresh. */
async function radioCycle(ctx: ModemContext): Promise<void> {
  await requireAnswering(ctx, "radio-cycle");
  await ctx.at.required("AT+CFUN=0", "at-error");
  await ctx.interrupts.sleep(ctx.profile.radioOffMs);
  await ctx.at.required("AT+CFUN=1", "at-error");
  ctx.facts.forgetRegistration();
}

/** AT+CFUN=1,1: the module reboots; wait for RDY; the USB port may vanish and come back. */
async function moduleReset(ctx: ModemContext): Promise<void> {
  const { profile, interrupts, scheduler } = ctx;
  await requireAnswering(ctx, "module-reset");
  const ch = ctx.at.requireChannel();
  ctx.boot.seen = false;
  // The module may reboot before it answers OK: the result does not matter.
  await ch.command(profile.resetCommand, profile.limits.cfun);
  const deadline = scheduler.now() + profile.bootTimeoutMs;
  if (profile.bootUrc) {
    while (!ctx.boot.seen && scheduler.now() < deadline && !interrupts.stopping()) {
      if (!ctx.ports.channel?.pipe.isOpen) {
        // USB re-enumeration: reopen the port, then keep waiting for RDY on it.
        ctx.ports.dropData();
        await ctx.ports.ensureData();
        continue;
      }
      // A stop, redial or reset request ends this wait (a pending one would otherwise end
      // every sleep at once: a busy loop that starves the port of the RDY it waits for).
      if ((await interrupts.sleepUntil(deadline)) === "interrupted") interrupts.throwIfPending();
    }
  } else {
    // No boot URC to wait for (generic profile): give the module a fixed time to boot.
    await interrupts.sleep(Math.min(profile.bootTimeoutMs, 10_000));
  }
  ctx.facts.forgetRegistration();
  ctx.sim.pinSent = false;
}

/**
 * recovery.power_cycle / recovery.reboot_command; a module reset when none is
 * configured. The command is bounded by recovery.command_timeout and killed
 * with its process group on timeout or stop (src/sys/command.ts); a failure or
 * timeout ends the action with command-failed / command-timeout, so the
 * policy hears about a helper that does not work instead of a log line only.
 */
async function runExternal(ctx: ModemContext, action: "power-cycle" | "reboot"): Promise<void> {
  const cmd = action === "power-cycle" ? ctx.config.recovery.power_cycle : ctx.config.recovery.reboot_command;
  if (!cmd || !ctx.runCommand) {
    ctx.log.warn(`no command configured for ${action}; resetting the module instead`);
    return moduleReset(ctx);
  }
  // The port goes away with the power; the next bring-up reopens it.
  ctx.ports.dropData();
  const result = await ctx.runCommand(cmd);
  // Even a failed helper may have cut the power: the SIM asks for its PIN again.
  ctx.sim.pinSent = false;
  // Killed because cellkeep is stopping: that is the stop, not a failure of the helper.
  if (ctx.interrupts.stopping()) ctx.interrupts.throwIfPending();
  const failure = commandFailure(result);
  if (!failure) return;
  ctx.log.warn(`${action} command failed`, { cause: failure.code, detail: failure.detail });
  throw new StepFailure(failure.code, `${action}: ${failure.detail}`);
}

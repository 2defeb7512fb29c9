/**
 * SMS control (issue 17): the service in src/sms/ on the supervisor's side
 * channel, fed the +CMTI URCs from the event bus. Its commands run exactly
 * as the HTTP actions do (src/agent/actions.ts: the ladder refuses a reset
 * during the vendor's spacing and a redial during the network's back-off,
 * unless "force"); "status" answers from the one status model; "reboot"
 * runs recovery.reboot_command under the reset rules, after the reply is out.
 * Off (nothing built, no AT command sent) without sms.allow_from.
 */
import type { Config } from "../config/schema.ts";
import { withWallClock, type Scheduler } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { RecoveryPolicy } from "../core/recovery-policy.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import type { ModemSupervisor } from "../modem/supervisor.ts";
import type { StatusModel } from "../status/model.ts";
import type { ActionResult } from "../status/actions.ts";
import { SmsControl } from "../sms/control.ts";
import { actionText, statusText } from "../sms/reply.ts";
import { SmsService, type SmsActionReply } from "../sms/service.ts";
import type { CommandResult } from "../sys/command.ts";
import { ladderGuardedActions } from "./actions.ts";
import { startUrcService } from "./urc-service.ts";

export interface SmsWiringDeps {
  config: Config;
  scheduler: Scheduler;
  supervisor: Pick<ModemSupervisor, "sideChannel" | "state" | "requestRedial" | "requestModemReset">;
  recovery: { policy: RecoveryPolicy; ladder: RecoveryLadder };
  status: StatusModel;
  events: EventBus<EventBase>;
  /** Runs recovery.reboot_command (the CommandRunner of src/agent/modem.ts). */
  runCommand: (command: string) => Promise<CommandResult>;
  log: Logger;
}

export function wireSms(d: SmsWiringDeps): { service: SmsService; stop(): void } | null {
  const s = d.config.sms;
  if (s.allow_from.length === 0 || s.secret === undefined) return null;
  const { scheduler, recovery } = d;
  const log = d.log.child("sms");
  const actions = ladderGuardedActions(d.supervisor, recovery.ladder, scheduler);
  const reply = (command: string, r: ActionResult, afterReply?: () => Promise<void>): SmsActionReply => ({
    outcome: r.outcome,
    text: actionText(command, r),
    message: r.message,
    ...(afterReply ? { afterReply } : {}),
  });

  const reboot = (force: boolean): SmsActionReply => {
    const command = d.config.recovery.reboot_command;
    if (command === undefined) return reply("reboot", { outcome: "unavailable", message: "recovery.reboot_command is not set" });
    const now = scheduler.now();
    const dueAt = recovery.ladder.resetAllowedAt(now);
    if (!force && dueAt !== null) {
      return reply("reboot", {
        outcome: "refused-backoff",
        message: `the vendor backoff allows the next reset-class action at ${new Date(dueAt).toISOString()}; add ?force=1 to reboot anyway`,
        nextActionAt: dueAt,
      });
    }
    return reply("reboot", { outcome: "started", message: "rebooting the gateway (recovery.reboot_command)" }, async () => {
      recovery.ladder.markNextForced("reboot", force ? "reboot requested by SMS (forced)" : "reboot requested by SMS");
      recovery.policy.onActionStarted("reboot", scheduler.now(), true);
      const r = await d.runCommand(command);
      if (r.kind !== "exited" || r.code !== 0) log.warn("recovery.reboot_command did not succeed", { result: r.kind });
    });
  };

  const service = new SmsService({
    scheduler: withWallClock(scheduler),
    channel: () => d.supervisor.sideChannel(),
    control: new SmsControl({ allowFrom: s.allow_from, secret: s.secret, maxPerHour: s.max_per_hour, maxAgeMs: s.max_age }),
    settings: s,
    emit: (e) => d.events.emit(e),
    log,
    async run(command, force) {
      switch (command) {
        case "status": {
          const text = statusText(d.status.snapshot());
          return { outcome: "done", text, message: "status sent" };
        }
        case "redial":
          return reply("redial", await actions.redial(force));
        case "reset":
          return reply("reset", await actions.resetModem(force));
        case "reboot":
          return reboot(force);
      }
    },
  });
  return startUrcService(d.events, service);
}

/**
 * Sending AT commands during bring-up: each with its profile limit (the
 * Quectel manuals' maximum response times), an interrupt or a lost port ends
 * the step, and a timeout is told apart from a hung module the vendor's way.
 */
import { redactCommand, type AtChannel, type AtResponse } from "../at/channel.ts";
import { cause, type Cause, type CauseCode } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { ModemEvent } from "./events.ts";
import { StepFailure } from "./failures.ts";
import type { Interrupts } from "./interrupts.ts";
import { limitFor, type ModemProfile } from "./profiles.ts";

export interface AtCommandsDeps {
  /** The data port's channel, null while there is none. */
  channel(): AtChannel | null;
  profile(): ModemProfile;
  interrupts: Interrupts;
  scheduler: Scheduler;
  emit(e: ModemEvent): void;
}

export class AtCommands {
  constructor(private readonly d: AtCommandsDeps) {}

  /** The open data-port channel; a missing or closed port ends the step as port-vanished. */
  requireChannel(): AtChannel {
    const ch = this.d.channel();
    if (!ch || !ch.pipe.isOpen) throw new StepFailure("port-vanished");
    return ch;
  }

  /** Send with the profile's limit; an interrupt or a lost port ends the step. */
  async cmd(command: string, ch: AtChannel = this.requireChannel()): Promise<AtResponse> {
    const r = await ch.command(command, limitFor(this.d.profile(), command));
    this.checkInterrupt(r);
    return r;
  }

  /** Like cmd(), and a timeout ends the step (at-timeout or modem-hung). */
  async answered(command: string, ch?: AtChannel): Promise<AtResponse> {
    const r = await this.cmd(command, ch);
    if (r.status === "timeout") throw await this.timeoutCause(r, ch);
    return r;
  }

  /** A command that must answer OK; else the given cause. */
  async required(command: string, code: CauseCode): Promise<AtResponse> {
    let r = await this.cmd(command);
    // Right after a reset some modems spray ERROR lines; one of them can land on our command.
    // The required commands are idempotent, so a bare ERROR earns one more try.
    if (r.status === "error") r = await this.cmd(command);
    return this.expectOk(r, code);
  }

  /** A command that must answer OK at the first try (not idempotent, or user-supplied); else the given cause. */
  async checked(command: string, code: CauseCode): Promise<AtResponse> {
    return this.expectOk(await this.cmd(command), code);
  }

  private async expectOk(r: AtResponse, code: CauseCode): Promise<AtResponse> {
    if (r.status === "ok") return r;
    if (r.status === "timeout") throw await this.timeoutCause(r);
    this.commandFailed(r);
    throw new StepFailure(code, `${redactCommand(r.command)}: ${r.status} ${r.detail}`.trim());
  }

  /** "modem.command-failed": which command and what the modem said (never a PIN). */
  commandFailed(r: AtResponse): void {
    this.d.emit({ type: "modem.command-failed", at: this.d.scheduler.now(), command: redactCommand(r.command), status: r.status, detail: r.detail });
  }

  /** An aborted command (port closed or interrupt) or a pending stop/redial/reset ends the step. */
  checkInterrupt(r: AtResponse): void {
    if (r.status === "aborted") {
      const c = this.abortedCause(r);
      throw new StepFailure(c.code, c.detail);
    }
    this.d.interrupts.throwIfPending();
  }

  abortedCause(r: AtResponse): Cause {
    if (this.d.interrupts.current) return this.d.interrupts.cause();
    return cause("port-vanished", `while waiting for ${redactCommand(r.command)}`);
  }

  /**
   * A command ran past its limit. If the modem still answers AT it is a plain
   * at-timeout; if it stays silent until the vendor's worst case (60 s since
   * it last said anything) it is hung (DESIGN.md bring-up rule 7), and the
   * policy resets it.
   */
  async timeoutCause(r: AtResponse, ch: AtChannel | null = this.d.channel()): Promise<StepFailure> {
    const what = redactCommand(r.command);
    if (!ch) return new StepFailure("port-vanished", `while waiting for ${what}`);
    const profile = this.d.profile();
    const hungAfter = profile.limits.hungAfter;
    for (;;) {
      const probe = await ch.command("AT", profile.limits.basic);
      this.checkInterrupt(probe);
      if (probe.status === "ok") return new StepFailure("at-timeout", `${what}: no answer within ${limitFor(profile, r.command)} ms`);
      const silentSince = Math.max(ch.lastRxAt ?? r.sentAt, r.sentAt);
      if (this.d.scheduler.now() - silentSince >= hungAfter) {
        return new StepFailure("modem-hung", `${what}: no answer, and no answer to AT for ${Math.round(hungAfter / 1000)} s`);
      }
      await this.d.interrupts.sleep(1_000);
    }
  }
}

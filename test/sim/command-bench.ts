/**
 * A booted virtual modem's command table on a fake clock, one command at a
 * time: the real radio and PDN models, their timers in a TimerTable, the data
 * call a stand-in. Shared by the command-table tests.
 */
import { ChannelSettings } from "../../src/sim/at-responses.ts";
import type { CmdResult } from "../../src/sim/at-syntax.ts";
import { QUECTEL_COMMANDS } from "../../src/sim/commands/index.ts";
import { type AtContext, type CallControl, runCommand } from "../../src/sim/commands/table.ts";
import type { SimEvent, SimMode } from "../../src/sim/events.ts";
import { PdnModel } from "../../src/sim/pdn.ts";
import { PdpContexts } from "../../src/sim/pdp.ts";
import { MODEL_TEXT } from "../../src/sim/quectel-text.ts";
import { RadioModel, type RadioTimer } from "../../src/sim/radio.ts";
import { type BehaviourOverrides, resolveBehaviour } from "../../src/sim/scenario.ts";
import { TimerTable } from "../../src/sim/timers.ts";
import { SimSms } from "../../src/sim/sms-store.ts";

export class StandInCall implements CallControl {
  mode: SimMode = "command";
  inCall = false;
  ipUp = false;
  readonly did: string[] = [];
  hangUp(now: number): void {
    this.did.push(`hangUp@${now}`);
  }
  resume(now: number): void {
    this.did.push(`resume@${now}`);
  }
}

/** A booted modem's state (radio on, searching at t=0) under `scenarios`, driven one command at a time. */
export class Bench {
  now = 0;
  readonly radioTimers = new TimerTable<RadioTimer>();
  readonly urcs: string[] = [];
  readonly events: SimEvent[] = [];
  readonly call = new StandInCall();
  /** Stands for a pending AT+CGATT=1 (RadioHost.attachRequested). */
  attachRequested = false;
  readonly m: AtContext & { radio: RadioModel };

  constructor(scenarios: string[] = ["healthy"], overrides: BehaviourOverrides = {}) {
    const b = resolveBehaviour(scenarios, 1, overrides);
    const radio = new RadioModel(
      b,
      {
        arm: (kind, at) => this.radioTimers.arm(kind, at),
        disarm: (kind) => this.radioTimers.disarm(kind),
        urc: (text) => this.urcs.push(text),
        emit: (e) => this.events.push(e),
        attachRequested: () => this.attachRequested,
      },
      0,
    );
    radio.radioOn(0);
    this.m = { behaviour: b, model: MODEL_TEXT[b.model], settings: new ChannelSettings(), radio, contexts: new PdpContexts(), pdn: new PdnModel(b), call: this.call, sms: new SimSms() };
  }

  /** One command as typed after "AT" (or after ";"). */
  at(cmd: string): CmdResult {
    return runCommand(QUECTEL_COMMANDS, cmd, this.m, this.now);
  }

  /** Info lines of an OK result (fails the test on anything else). */
  info(cmd: string): string[] {
    const r = this.at(cmd);
    if (r.kind !== "ok") throw new Error(`${cmd}: ${JSON.stringify(r)}`);
    return r.info ?? [];
  }

  /** Move the fake clock by `ms`, running the radio's timers as the core would. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let due = this.radioTimers.takeDue(end); due !== null; due = this.radioTimers.takeDue(end)) {
      this.now = due.at;
      if (due.kind === "registration") this.m.radio.registrationStep(due.at);
      else this.m.radio.setAttached(true, due.at);
    }
    this.now = end;
  }

  /** A module reset: what the module keeps in NVRAM stays, the rest is power-on state. */
  reboot(): void {
    this.m.radio.reset();
    this.m.radio.radioOn(this.now);
  }
}

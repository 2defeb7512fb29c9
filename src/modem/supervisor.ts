/**
 * ModemSupervisor: brings the link up following the module vendor's PPP
 * procedure (DESIGN.md "Bring-up procedure"), keeps it, and executes the
 * recovery policy's decisions when it breaks.
 *
 * The machine is explicit: `state` is one of LinkState, every change goes
 * through `to()` (checked against the table in states.ts, emitted as
 * "modem.state"), and each bring-up state has step functions (bringup.ts)
 * that either return (go on) or throw a StepFailure carrying a named cause.
 * PPP hand-off and hold are in data-call.ts, recovery actions in
 * recovery-actions.ts, ports in ports.ts. All waiting is on Scheduler timers
 * or modem input (interrupts.ts), so tests run it on a ManualScheduler.
 */
import type { AtChannel, AtUrc } from "../at/channel.ts";
import type { LinkState, RecoveryRung } from "../core/agent-events.ts";
import { cause, type Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import type { RecoveryDecision } from "../core/recovery-policy.ts";
import { attach, defineContext, dial, queryRegistration, readModuleIdentity, register, sync, unlockSim, type SimMemory, type StepContext } from "./bringup.ts";
import { AtCommands } from "./commands.ts";
import { DataCall } from "./data-call.ts";
import type { ModemEvent } from "./events.ts";
import { ModemFacts } from "./facts.ts";
import { causeOf, NetworkBackoff } from "./failures.ts";
import { hangupTiming } from "./hangup.ts";
import { Interrupts } from "./interrupts.ts";
import { PendingBackoff } from "./network-backoff.ts";
import { isRegistered, parseRegistration, registrationStatus } from "./parse.ts";
import { ModemPorts } from "./ports.ts";
import { PROFILES, resolveProfile, type ModemProfile } from "./profiles.ts";
import { runRecoveryAction, type BootWatch, type RecoveryContext } from "./recovery-actions.ts";
import { SignalPoller } from "./signal-poller.ts";
import { inDataMode, isAllowedTransition } from "./states.ts";
import {
  DEFAULT_TIMING,
  type CreatePppLink,
  type ModemIdentity,
  type ModemPollResult,
  type PppLinkHooks,
  type PppLinkLike,
  type PppUpInfo,
  type SupervisorDeps,
  type SupervisorTiming,
} from "./types.ts";

export { DEFAULT_TIMING, PROFILES };
export { StepFailure } from "./failures.ts";
export type { CreatePppLink, ModemIdentity, ModemPollResult, PppLinkHooks, PppLinkLike, PppUpInfo, SupervisorDeps, SupervisorTiming };

/** A recovery action to carry out before the next bring-up; forced = an operator's or maintenance request. */
interface PlannedAction {
  action: RecoveryRung;
  forced: boolean;
}

/** How one bring-up attempt ended. */
type Outcome = { kind: "link-ended" | "failed"; cause: Cause } | { kind: "backoff"; backoff: NetworkBackoff };

/** What to wait for next: the decision, the cause shown while waiting, and whether it was requested. */
interface NextStep {
  decision: RecoveryDecision;
  shown: Cause | null;
  forced: boolean;
}

export class ModemSupervisor<L extends PppLinkLike = PppLinkLike> {
  private _state: LinkState = "stopped";
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly t: SupervisorTiming;
  private profile: ModemProfile;
  private readonly interrupts: Interrupts;
  private readonly ports: ModemPorts;
  private readonly at: AtCommands;
  private readonly facts: ModemFacts;
  private readonly call: DataCall<L>;
  private readonly signalPoller: SignalPoller;
  private readonly backoff = new PendingBackoff();
  private readonly sim: SimMemory = { pinSent: false, rejected: null };
  private readonly boot: BootWatch = { seen: false };
  private readonly steps: StepContext;
  private readonly recovery: RecoveryContext;
  private running: Promise<void> | null = null;
  private dialAttempt = 0;
  private readonly linkUpHooks = new Set<(info: PppUpInfo) => void>();
  private readonly linkDownHooks = new Set<(c: Cause | null) => void>();
  /** Cause of the last failure (for /status). */
  lastCause: Cause | null = null;

  constructor(private readonly deps: SupervisorDeps<L>) {
    const scheduler = (this.scheduler = deps.scheduler);
    const log = (this.log = deps.log ?? nullLogger);
    const t = (this.t = { ...DEFAULT_TIMING, ...deps.timing });
    this.profile = this.tuned(resolveProfile(deps.config.modem.profile, null));
    const emit = (e: ModemEvent) => this.emit(e);
    const profile = () => this.profile;
    const interrupts = (this.interrupts = new Interrupts(scheduler, (i) => {
      // Commands in flight during bring-up end now; a connected link is handled by the data call.
      if (i.kind !== "link-lost" && !inDataMode(this._state)) this.ports.channel?.abortAll();
    }));
    const ports = (this.ports = new ModemPorts({
      openPort: deps.openPort,
      ...(deps.openControlPort ? { openControlPort: deps.openControlPort } : {}),
      scheduler,
      log,
      interrupts,
      profile,
      onUrc: (u) => this.onUrc(u),
      returnTimeoutMs: t.portReturnTimeoutMs,
      retryMs: t.portRetryMs,
    }));
    const at = (this.at = new AtCommands({ channel: () => ports.channel, profile, interrupts, scheduler, emit }));
    const facts = (this.facts = new ModemFacts(scheduler, emit, profile));
    this.call = new DataCall({
      createPppLink: deps.createPppLink,
      scheduler,
      interrupts,
      timing: t,
      emit,
      emitPppEvents: deps.emitPppEvents !== false,
      channel: () => ports.channel,
      hangupTiming: () => hangupTiming(t, this.profile),
      upHooks: this.linkUpHooks,
      downHooks: this.linkDownHooks,
    });
    this.signalPoller = new SignalPoller({
      scheduler,
      intervalMs: t.signalPollMs,
      openControl: () => ports.openControl(),
      control: () => ports.controlChannel,
      poll: (ch) => facts.pollSignal(ch),
    });
    const shared = { config: deps.config, scheduler, log, at, interrupts, facts, sim: this.sim };
    const self = this;
    this.steps = {
      ...shared,
      timing: t,
      backoff: this.backoff,
      emit,
      get profile() {
        return self.profile;
      },
    };
    this.recovery = {
      ...shared,
      ports,
      boot: this.boot,
      ...(deps.runCommand ? { runCommand: deps.runCommand } : {}),
      get profile() {
        return self.profile;
      },
    };
  }

  /** The profile with the timing overrides of time-scaled tests (timing.profileLimits, timing.bootTimeoutMs). */
  private tuned(p: ModemProfile): ModemProfile {
    if (!this.t.profileLimits && this.t.bootTimeoutMs === undefined) return p;
    return { ...p, limits: { ...p.limits, ...this.t.profileLimits }, bootTimeoutMs: this.t.bootTimeoutMs ?? p.bootTimeoutMs };
  }

  // ───────────────────────────── public API ─────────────────────────────

  get state(): LinkState {
    return this._state;
  }

  get activeProfile(): ModemProfile {
    return this.profile;
  }

  /** What the modem said about itself and its SIM (ATI, +CGMM, +CGMR, +CGSN, +CIMI, +QCCID). */
  get identity(): ModemIdentity {
    return this.facts.identity;
  }

  /** The PPP link while negotiating/connected, so the data plane can attach to it. */
  get pppLink(): L | null {
    return inDataMode(this._state) ? this.call.link : null;
  }

  /** The AT channel on the data port (diagnostics, tests). */
  get atChannel(): AtChannel | null {
    return this.ports.channel;
  }

  onLinkUp(fn: (info: PppUpInfo) => void): () => void {
    this.linkUpHooks.add(fn);
    return () => this.linkUpHooks.delete(fn);
  }

  onLinkDown(fn: (c: Cause | null) => void): () => void {
    this.linkDownHooks.add(fn);
    return () => this.linkDownHooks.delete(fn);
  }

  start(): void {
    if (this.running) return;
    this.interrupts.clear();
    this.to("starting", null);
    this.running = this.main().catch((err) => {
      this.log.error("supervisor crashed", { error: String(err) });
      this.to("stopped", cause("stopped", String(err)));
    });
  }

  /** Hang up cleanly (LCP Terminate, leave data mode, verify with AT) and stop. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.interrupts.raise({ kind: "stop" });
    await this.running;
    this.running = null;
  }

  /** Health monitoring says the open link is dead (probe failures, peer-dead...). */
  linkLost(c: Cause): void {
    if (inDataMode(this._state)) this.interrupts.raise({ kind: "link-lost", cause: c });
  }

  /** Hang up (if connected) and redial now. */
  requestRedial(): void {
    if (inDataMode(this._state) || this._state === "waiting") this.interrupts.raise({ kind: "redial" });
  }

  /** Reset the module now (operator action or maintenance window). */
  requestModemReset(): void {
    if (this._state !== "stopped") this.interrupts.raise({ kind: "reset" });
  }

  /**
   * The health monitor's modem check: registration and signal. Queries the
   * control port while PPP owns the data port, the data port when idle in
   * command mode, else answers from the last known values.
   */
  async pollModem(): Promise<ModemPollResult> {
    try {
      return await this.pollModemOnce();
    } catch (err) {
      const stat = this.facts.registration?.stat ?? null;
      return { ok: false, source: "cached", stat, rssi: this.facts.rssi, detail: causeOf(err, this.log).code };
    }
  }

  // ───────────────────────────── main loop ─────────────────────────────

  /**
   * Bring up and hold; when that fails or the link ends, ask the policy what
   * next (or follow an operator's request), wait for it, carry it out, and
   * bring up again, until stopped.
   */
  private async main(): Promise<void> {
    let planned: PlannedAction | null = null;
    while (!this.interrupts.stopping()) {
      const outcome = await this.attempt(planned);
      if (outcome.kind !== "backoff" && this.interrupts.stopping()) break;
      const next = outcome.kind === "backoff" ? this.waitOutBackoff(outcome.backoff) : this.decide(outcome.cause, outcome.kind === "link-ended");
      planned = await this.waitDecision(next);
      if (!planned) break;
    }
    await this.shutdown();
  }

  /** One try: the planned recovery action (if any), then bring-up and hold. */
  private async attempt(planned: PlannedAction | null): Promise<Outcome> {
    try {
      if (planned) {
        this.to("recovering", null);
        await this.recover(planned);
      }
      return { kind: "link-ended", cause: await this.bringUpAndHold() };
    } catch (err) {
      if (err instanceof NetworkBackoff) return { kind: "backoff", backoff: err };
      return { kind: "failed", cause: causeOf(err, this.log) };
    }
  }

  /** The vendor procedure, one state per step, then the connected link until it ends; returns why it ended. */
  private async bringUpAndHold(): Promise<Cause> {
    this.backoff.clear();
    this.to("syncing", null);
    await this.ports.ensureData();
    await sync(this.steps);
    await this.identify();
    this.to("sim", null);
    await unlockSim(this.steps);
    this.to("registering", null);
    await register(this.steps);
    this.to("attaching", null);
    await attach(this.steps);
    await defineContext(this.steps);
    await this.facts.pollSignal(this.at.requireChannel()).catch(() => undefined);
    this.to("dialing", null);
    await dial(this.steps, ++this.dialAttempt);
    this.to("negotiating", null);
    await this.call.negotiate(this.at.requireChannel());
    this.to("connected", null);
    this.deps.policy.onConnected(this.scheduler.now());
    return await this.hold();
  }

  /** Reads the module's identity and picks its profile (modem.profile = "auto" matches the model). */
  private async identify(): Promise<void> {
    const found = await readModuleIdentity(this.steps);
    this.profile = this.tuned(resolveProfile(this.deps.config.modem.profile, found.model));
    this.facts.setModule(found.identity);
  }

  /** Connected: signal polling on the control port until the link ends; then hang up. */
  private async hold(): Promise<Cause> {
    const ch = this.at.requireChannel();
    this.signalPoller.start();
    let c: Cause;
    try {
      c = await this.call.waitForEnd(ch);
    } finally {
      this.signalPoller.stop();
    }
    await this.call.end(c);
    // Without a control port, signal is only visible between calls: take a reading now (it helps explain the drop).
    if (!this.ports.hasControl && !this.interrupts.stopping() && ch.pipe.isOpen && ch.mode === "command") {
      await this.facts.pollSignal(ch).catch(() => undefined);
    }
    return c;
  }

  /** What next after a failure or a lost link: an operator's request now, else the policy's decision. */
  private decide(failure: Cause, wasConnected: boolean): NextStep {
    const pending = this.interrupts.take();
    const now = this.scheduler.now();
    if (pending?.kind === "reset") return { shown: null, forced: true, decision: { action: "module-reset", notBefore: now, reason: "reset requested" } };
    if (pending?.kind === "redial") return { shown: null, forced: true, decision: { action: "redial", notBefore: now, reason: "redial requested" } };
    this.lastCause = failure;
    const policy = this.deps.policy;
    const decision = wasConnected ? policy.onLinkLost(failure, now) : policy.onBringUpFailure(failure, now);
    return { shown: failure, forced: false, decision };
  }

  /** The network said when to try again (T3346/T3396): the policy turns that into a decision. */
  private waitOutBackoff(b: NetworkBackoff): NextStep {
    const now = this.scheduler.now();
    return { shown: b.causeInfo, forced: false, decision: this.deps.policy.onNetworkBackoff(now + b.seconds * 1000, now) };
  }

  /**
   * Sits in "waiting" until the decision's time, then returns the action to
   * take; an operator's redial or reset meanwhile is taken at once instead.
   * Null when stopped meanwhile.
   */
  private async waitDecision(next: NextStep): Promise<PlannedAction | null> {
    const d = next.decision;
    this.to("waiting", next.shown);
    this.log.info("waiting before recovery", { action: d.action, reason: d.reason, until: new Date(d.notBefore).toISOString() });
    let planned: PlannedAction = { action: d.action, forced: next.forced };
    while (this.scheduler.now() < d.notBefore) {
      const r = await this.interrupts.sleepUntil(d.notBefore);
      if (r !== "interrupted") continue;
      const i = this.interrupts.take();
      if (!i || i.kind === "stop") return null;
      // The operator asked for exactly this: a redial must not bring the policy's pending
      // reset or power cycle forward (the vendor's spacing of resets, DESIGN.md "Resets").
      if (i.kind === "reset") planned = { action: "module-reset", forced: true };
      if (i.kind === "redial") planned = { action: "redial", forced: true };
      break;
    }
    return this.interrupts.stopping() ? null : planned;
  }

  /** Tells the policy and the event log, then carries the action out (recovery-actions.ts). */
  private async recover({ action, forced }: PlannedAction): Promise<void> {
    const now = this.scheduler.now();
    this.deps.policy.onActionStarted(action, now);
    this.emit({ type: "recovery.action", at: now, rung: action, reason: this.lastCause?.code ?? "requested", forced });
    this.log.info("recovery action", { action });
    await runRecoveryAction(this.recovery, action);
  }

  private async shutdown(): Promise<void> {
    this.signalPoller.stop();
    if (this.call.link || this.ports.channel?.mode === "data") await this.call.hangUp().catch(() => undefined);
    await this.ports.closeAll();
    this.to("stopped", null);
  }

  // ───────────────────────────── modem check ─────────────────────────────

  private async pollModemOnce(): Promise<ModemPollResult> {
    if (this._state === "connected") await this.ports.openControl();
    const ch = this.pollChannel();
    if (ch) {
      const source = ch === this.ports.controlChannel ? "control-port" : "data-port";
      const reg = await queryRegistration(this.at, ch);
      if (reg) this.facts.noteRegistration(reg);
      await this.facts.pollSignal(ch);
      const stat = reg?.stat ?? null;
      const ok = stat !== null && isRegistered(stat);
      return { ok, source, stat, rssi: this.facts.rssi, detail: stat === null ? "no registration answer" : registrationStatus(stat) };
    }
    const stat = this.facts.registration?.stat ?? null;
    const ok = stat !== null && isRegistered(stat) && this._state === "connected";
    return { ok, source: "cached", stat, rssi: this.facts.rssi, detail: stat === null ? "registration unknown" : registrationStatus(stat) };
  }

  /** The control port when open; the data port only while it is idle in command mode between bring-up steps. */
  private pollChannel(): AtChannel | null {
    const control = this.ports.controlChannel;
    if (control) return control;
    const ch = this.ports.channel;
    if (!ch || ch.mode !== "command" || !ch.pipe.isOpen) return null;
    // Only between bring-up steps would we interleave; queries on an idle port are fine.
    if (this._state === "waiting" || this._state === "connected" || this._state === "stopped") return null;
    return ch;
  }

  // ───────────────────────────── URCs, state, events ─────────────────────────────

  private onUrc(u: AtUrc): void {
    this.emit({ type: "modem.urc", at: u.at, name: u.name, line: u.line });
    if (this.backoff.noteText(u.line)) this.interrupts.wake();
    switch (u.name) {
      case "+CEREG":
      case "+CGREG":
      case "+CREG": {
        const reg = parseRegistration(u.line, false);
        if (reg) {
          this.facts.noteRegistration(reg);
          this.interrupts.wake();
        }
        break;
      }
      case "RDY":
        this.boot.seen = true;
        this.interrupts.wake();
        break;
      case "POWERED DOWN":
      case "NORMAL POWER DOWN":
        this.log.warn("the modem powered down");
        break;
    }
  }

  private to(next: LinkState, c: Cause | null): void {
    const previous = this._state;
    if (previous === next) return;
    if (!isAllowedTransition(previous, next)) this.log.error("unexpected transition", { from: previous, to: next });
    this._state = next;
    // The readable transition line comes from the event log view (modem.state); this is the raw trace.
    this.log.debug(`state ${previous} → ${next}`, c ? { cause: c.code, detail: c.detail } : undefined);
    this.emit({ type: "modem.state", at: this.scheduler.now(), state: next, previous, cause: c });
  }

  private emit(e: ModemEvent): void {
    try {
      this.deps.emit(e);
    } catch (err) {
      this.log.error("event sink failed", { error: String(err) });
    }
  }
}


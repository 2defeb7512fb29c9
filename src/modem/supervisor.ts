/**
 * ModemSupervisor: brings the link up following the module vendor's PPP
 * procedure (DESIGN.md "Bring-up procedure"), keeps it, and executes the
 * recovery policy's decisions when it breaks.
 *
 * The machine is explicit: `state` is one of LinkState, every change goes
 * through `to()` (checked against the table in states.ts, emitted as
 * "modem.state"), and each bring-up state has step functions (bringup.ts)
 * that either return (go on) or throw a StepFailure carrying a named cause.
 * The data bearer after CONNECT (PPP today; only its DataBearer interface is
 * known here) and the hold are in data-call.ts, recovery actions in
 * recovery-actions.ts; what they share (ports, AT commands, interrupts, what
 * is known about the modem) is in context.ts. All waiting is on Scheduler
 * timers or modem input (interrupts.ts), so tests run it on a ManualScheduler.
 */
import type { AtChannel, AtUrc } from "../at/channel.ts";
import type { LinkState, RecoveryRung } from "../core/agent-events.ts";
import { cause, CellkeepError, type Cause, type CauseCode } from "../core/cause.ts";
import type { BearerUpInfo, DataBearer } from "../core/data-bearer.ts";
import { redact } from "../core/log.ts";
import { redactLine } from "../core/redact.ts";
import type { RecoveryDecision } from "../core/recovery-policy.ts";
import type { Config } from "../config/schema.ts";
import { ApnFailover } from "./apn-failover.ts";
import { attach, defineContext, definePdpContext, dial, readModuleIdentity, register, sync, unlockSim } from "./bringup.ts";
import { createModemContext, tunedProfile, type ModemContext } from "./context.ts";
import { DataCall } from "./data-call.ts";
import type { ModemEvent } from "./events.ts";
import { causeOf, NetworkBackoff, StepFailure } from "./failures.ts";
import { hangupTiming } from "./hangup.ts";
import type { Interrupt } from "./interrupts.ts";
import { checkModem } from "./modem-check.ts";
import { parseRegistration } from "./parse.ts";
import { PROFILES, resolveProfile, type ModemProfile } from "./profiles.ts";
import { registrationAllowed } from "./radio-policy.ts";
import { applyRadioPolicy } from "./radio-step.ts";
import { runRecoveryAction } from "./recovery-actions.ts";
import { pollRegistrationQuietly, RegistrationReturn } from "./registration-watch.ts";
import { SignalPoller } from "./signal-poller.ts";
import { SimFailover } from "./sim-failover.ts";
import { switchSimSlot } from "./sim-switch.ts";
import { sideChannel } from "./side-channel.ts";
import { holdsCall, inDataMode, isAllowedTransition } from "./states.ts";
import { DEFAULT_TIMING, type ModemIdentity, type ModemPollResult, type SupervisorDeps, type SupervisorTiming } from "./types.ts";

export { DEFAULT_TIMING, PROFILES };
export { StepFailure } from "./failures.ts";
export type { ModemIdentity, ModemPollResult, SupervisorDeps, SupervisorTiming };

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

/** An operator's (or the maintenance window's) request, as the action it asks for. */
function requestedAction(i: Interrupt | null): "redial" | "module-reset" | null {
  if (i?.kind === "redial") return "redial";
  if (i?.kind === "reset") return "module-reset";
  return null;
}

/** Failures of a recovery action that mean it never reached the module. */
const UNDELIVERED: ReadonlySet<CauseCode> = new Set<CauseCode>(["reset-undelivered"]);

const REQUEST_REASON = { redial: "redial requested", "module-reset": "reset requested" } as const;

export class ModemSupervisor<B extends DataBearer = DataBearer> {
  private _state: LinkState = "stopped";
  private readonly ctx: ModemContext;
  private readonly call: DataCall<B>;
  private readonly signalPoller: SignalPoller;
  private running: Promise<void> | null = null;
  private dialAttempt = 0;
  private readonly linkUpHooks = new Set<(info: BearerUpInfo, bearer: B) => void>();
  private readonly linkDownHooks = new Set<(c: Cause | null) => void>();
  private readonly crashHooks = new Set<(err: unknown, c: Cause) => void>();
  /** network.apns: the APN of the next call (apn-failover.ts). */
  private readonly apns = new ApnFailover();
  /** sim.failover_after: when to select the other SIM slot (sim-failover.ts). */
  private readonly simFailover: SimFailover;
  /** Cause of the last failure (for /status). */
  lastCause: Cause | null = null;

  constructor(private readonly deps: SupervisorDeps<B>) {
    const ctx = (this.ctx = createModemContext(deps, {
      emit: (e) => this.emit(e),
      onUrc: (u) => this.onUrc(u),
      onInterrupt: (i) => {
        // Commands in flight during bring-up end now; a connected link is handled by the data call,
        // and a hang-up in progress finishes (the request is taken when it is done).
        if (i.kind !== "link-lost" && !holdsCall(this._state)) ctx.ports.channel?.abortAll();
      },
    }));
    this.call = new DataCall({
      createBearer: deps.createBearer,
      scheduler: ctx.scheduler,
      interrupts: ctx.interrupts,
      timing: ctx.timing,
      emit: ctx.emit,
      channel: () => ctx.ports.channel,
      hangupTiming: () => hangupTiming(ctx.timing, ctx.profile),
      upHooks: this.linkUpHooks,
      downHooks: this.linkDownHooks,
    });
    this.simFailover = new SimFailover(ctx.scheduler.now());
    this.signalPoller = new SignalPoller({
      scheduler: ctx.scheduler,
      intervalMs: ctx.timing.signalPollMs,
      openControl: () => ctx.ports.openControl(),
      control: () => ctx.ports.controlChannel,
      poll: (ch) => ctx.facts.pollSignal(ch),
    });
  }

  // ───────────────────────────── public API ─────────────────────────────

  get state(): LinkState {
    return this._state;
  }

  get activeProfile(): ModemProfile {
    return this.ctx.profile;
  }

  /** What the modem said about itself and its SIM (ATI, +CGMM, +CGMR, +CGSN, +CIMI, +QCCID). */
  get identity(): ModemIdentity {
    return this.ctx.facts.identity;
  }

  /** The data bearer while negotiating/connected: its IP link, counters and keepalive. */
  get bearer(): B | null {
    return inDataMode(this._state) ? this.call.bearer : null;
  }

  /** The AT channel on the data port (diagnostics, tests). */
  get atChannel(): AtChannel | null {
    return this.ctx.ports.channel;
  }

  /** The bearer carries IP (after "ppp.up" is emitted); `bearer` is the one that came up. */
  onLinkUp(fn: (info: BearerUpInfo, bearer: B) => void): () => void {
    this.linkUpHooks.add(fn);
    return () => this.linkUpHooks.delete(fn);
  }

  onLinkDown(fn: (c: Cause | null) => void): () => void {
    this.linkDownHooks.add(fn);
    return () => this.linkDownHooks.delete(fn);
  }

  /**
   * The main loop threw (a bug, not a modem fault): the supervisor has hung
   * up and closed its ports (state "stopped" with cause agent-crashed) and
   * will do nothing more. The agent stops and exits non-zero on this.
   */
  onCrash(fn: (err: unknown, c: Cause) => void): () => void {
    this.crashHooks.add(fn);
    return () => this.crashHooks.delete(fn);
  }

  start(): void {
    if (this.running) return;
    this.ctx.interrupts.clear();
    this.to("starting", null);
    this.running = this.main().catch((err) => this.crashed(err));
  }

  /** Hang up cleanly (LCP Terminate, leave data mode, verify with AT) and stop. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.ctx.interrupts.raise({ kind: "stop" });
    await this.running;
    this.running = null;
  }

  /** Health monitoring says the open link is dead (probe failures, peer-dead...). */
  linkLost(c: Cause): void {
    if (inDataMode(this._state)) this.ctx.interrupts.raise({ kind: "link-lost", cause: c });
  }

  /**
   * A reloaded config: replaces the one every bring-up step reads (the object
   * is swapped, never mutated, so a step already running keeps a consistent
   * view). A call in progress keeps its settings until the next bring-up.
   */
  useConfig(next: Config): void {
    this.ctx.config = next;
  }

  /** Hang up (if connected) and redial now. */
  requestRedial(): void {
    if (holdsCall(this._state) || this._state === "waiting") this.ctx.interrupts.raise({ kind: "redial" });
  }

  /** Reset the module now (operator action or maintenance window). */
  requestModemReset(): void {
    if (this._state !== "stopped") this.ctx.interrupts.raise({ kind: "reset" });
  }

  /**
   * The health monitor's modem check: registration and signal. Queries the
   * control port while the bearer owns the data port, the data port when idle in
   * command mode, else answers from the last known values.
   */
  pollModem(): Promise<ModemPollResult> {
    return checkModem(this.ctx, () => this._state);
  }

  /**
   * An AT channel for SMS control and the network's time now (side-channel.ts):
   * the control port, or the idle data port while no call is being made; null
   * when neither may be used now.
   */
  sideChannel(): Promise<AtChannel | null> {
    return sideChannel(this.ctx, () => this._state);
  }

  // ───────────────────────────── main loop ─────────────────────────────

  /**
   * Bring up and hold; when that fails or the link ends, ask the policy what
   * next (or follow an operator's request), wait for it, carry it out, and
   * bring up again, until stopped.
   */
  private async main(): Promise<void> {
    let planned: PlannedAction | null = null;
    while (!this.ctx.interrupts.stopping()) {
      const outcome = await this.attempt(planned);
      // Stopped: the policy is not told about a failure that is only the stop.
      if (outcome.kind !== "backoff" && this.ctx.interrupts.stopping()) break;
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
        await this.failOverSim();
        await this.recover(planned);
      }
      return { kind: "link-ended", cause: await this.bringUpAndHold() };
    } catch (err) {
      if (err instanceof NetworkBackoff) return { kind: "backoff", backoff: err };
      return { kind: "failed", cause: causeOf(err, this.ctx.log) };
    }
  }

  /** The vendor procedure, one state per step, then the connected link until it ends; returns why it ended. */
  private async bringUpAndHold(): Promise<Cause> {
    this.ctx.backoff.clear();
    this.to("syncing", null);
    await this.ctx.ports.ensureData();
    await sync(this.ctx);
    await this.identify();
    this.to("sim", null);
    await unlockSim(this.ctx);
    // A data cap (usage.stop_at) keeps the link down; asked once the SIM (its ICCID) is known.
    const held = this.deps.holdDown?.();
    if (held) throw new StepFailure(held.code, held.detail);
    this.to("registering", null);
    // The radio policy before registration: it decides where the modem looks (every bring-up, so after every reset).
    await applyRadioPolicy(this.ctx);
    await register(this.ctx);
    this.to("attaching", null);
    await attach(this.ctx);
    this.apns.begin(this.ctx.config.network.apns);
    this.reportApn(null, null);
    await definePdpContext(this.ctx, this.apns.apn);
    // One signal reading before the call: if the dial fails, the reason may be right there.
    await this.ctx.facts.pollSignal(this.ctx.at.requireChannel()).catch(() => undefined);
    this.to("dialing", null);
    await this.dialWithApnFailover();
    this.to("negotiating", null);
    await this.call.negotiate(this.ctx.at.requireChannel());
    this.to("connected", null);
    this.apns.connected();
    this.simFailover.noteService(this.ctx.scheduler.now());
    this.deps.policy.onConnected(this.ctx.scheduler.now());
    return await this.hold();
  }

  /** Dial; when the network rejects the APN (apn-rejected, pdp-rejected), define the next of network.apns and dial again. */
  private async dialWithApnFailover(): Promise<void> {
    for (;;) {
      try {
        await dial(this.ctx, ++this.dialAttempt);
        return;
      } catch (err) {
        if (!(err instanceof CellkeepError)) throw err;
        const previous = this.apns.apn;
        const next = this.apns.failed(err.causeInfo.code);
        if (next === null) throw err;
        this.ctx.log.warn(`the network rejected APN "${previous}" (${err.causeInfo.code}); trying "${next}"`);
        this.reportApn(previous, err.causeInfo);
        await defineContext(this.ctx, next);
      }
    }
  }

  private reportApn(previous: string | null, why: Cause | null): void {
    this.emit({ type: "modem.apn", at: this.ctx.scheduler.now(), apn: this.apns.apn, index: this.apns.index, count: this.apns.count, previous, cause: why });
  }

  /**
   * sim.failover_after: no connected link for that long, so before the
   * recovery action the policy allowed now, select the other SIM slot.
   */
  private async failOverSim(): Promise<void> {
    const now = this.ctx.scheduler.now();
    if (!this.simFailover.due(now, this.ctx.config.sim.failover_after)) return;
    const minutes = Math.round(this.simFailover.withoutServiceMs(now) / 60_000);
    await switchSimSlot(this.ctx, this.simFailover, `no connected link for ${minutes} min (sim.failover_after)`);
    this.apns.restart();
  }

  /** Reads the module's identity and picks its profile (modem.profile = "auto" matches the model). */
  private async identify(): Promise<void> {
    const found = await readModuleIdentity(this.ctx);
    this.ctx.profile = tunedProfile(resolveProfile(this.ctx.config.modem.profile, found.model), this.ctx.timing);
    this.ctx.facts.setModule(found.identity);
  }

  /** Connected: signal polling on the control port until the link ends; then hang up. */
  private async hold(): Promise<Cause> {
    const ch = this.ctx.at.requireChannel();
    this.signalPoller.start();
    let c: Cause;
    try {
      c = await this.call.waitForEnd(ch);
    } finally {
      this.signalPoller.stop();
    }
    // Connected until now: the SIM failover clock counts from the end of the call.
    this.simFailover.noteService(this.ctx.scheduler.now());
    // The link is known down now: /status, /healthz and metrics leave "connected" before the
    // hang-up (bearer stop, DTR, +++/ATH) runs, not after it.
    this.to("hanging-up", c.code === "stopped" ? null : c);
    await this.call.end(c);
    // Without a control port, signal is only visible between calls: take a reading now (it helps explain the drop).
    if (!this.ctx.ports.hasControl && !this.ctx.interrupts.stopping() && ch.pipe.isOpen && ch.mode === "command") {
      await this.ctx.facts.pollSignal(ch).catch(() => undefined);
    }
    return c;
  }

  /** What next after a failure or a lost link: an operator's request now, else the policy's decision. */
  private decide(failure: Cause, wasConnected: boolean): NextStep {
    const now = this.ctx.scheduler.now();
    const asked = requestedAction(this.ctx.interrupts.take());
    if (asked) return { shown: null, forced: true, decision: { action: asked, notBefore: now, reason: REQUEST_REASON[asked] } };
    this.lastCause = failure;
    const policy = this.deps.policy;
    const decision = wasConnected ? policy.onLinkLost(failure, now) : policy.onBringUpFailure(failure, now);
    return { shown: failure, forced: false, decision };
  }

  /** The network said when to try again (T3346/T3396): the policy turns that into a decision. */
  private waitOutBackoff(b: NetworkBackoff): NextStep {
    const now = this.ctx.scheduler.now();
    return { shown: b.causeInfo, forced: false, decision: this.deps.policy.onNetworkBackoff(now + b.seconds * 1000, now) };
  }

  /**
   * Sits in "waiting" until the decision's time, then returns the action to
   * take; an operator's redial or reset meanwhile is taken at once instead.
   * Null when stopped meanwhile.
   */
  private async waitDecision(next: NextStep): Promise<PlannedAction | null> {
    const d = next.decision;
    const { scheduler, interrupts, facts } = this.ctx;
    this.to("waiting", next.shown);
    this.ctx.log.info("waiting before recovery", { action: d.action, reason: d.reason, until: new Date(d.notBefore).toISOString() });
    let planned: PlannedAction = { action: d.action, forced: next.forced };
    // Resets are spaced, dialling is not: while we wait, registration coming back ends the wait.
    const usable = (stat: number) => registrationAllowed(stat, this.ctx.config.radio);
    const watch = d.watchRegistration === true ? new RegistrationReturn(facts.registration, usable) : null;
    const pollMs = this.ctx.config.recovery.registration_poll;
    let pollAt = scheduler.now() + pollMs;
    while (scheduler.now() < d.notBefore) {
      const r = await interrupts.sleepUntil(watch ? Math.min(d.notBefore, pollAt) : d.notBefore);
      if (r === "interrupted") {
        const i = interrupts.take();
        if (!i || i.kind === "stop") return null;
        // Act now, and on exactly what was asked: a redial must not bring the policy's pending
        // reset or power cycle forward (the vendor's spacing of resets, DESIGN.md "Resets").
        const asked = requestedAction(i);
        if (asked) planned = { action: asked, forced: true };
        break;
      }
      if (!watch) continue;
      if (scheduler.now() >= pollAt && scheduler.now() < d.notBefore) {
        await pollRegistrationQuietly(this.ctx);
        pollAt = scheduler.now() + pollMs;
        if (interrupts.current) continue;
      }
      if (watch.returned(facts.registration)) {
        this.ctx.log.info("registration is back: dialling now instead of waiting", { skipped: d.action, until: new Date(d.notBefore).toISOString() });
        // Whatever was decided (a redial after a pause, a radio cycle, a reset whose spacing has
        // not ended), a registered modem needs a dial, nothing heavier.
        planned = { action: "redial", forced: false };
        break;
      }
    }
    return interrupts.stopping() ? null : planned;
  }

  /**
   * Tells the policy (which reports the action, with the reason it decided on),
   * then carries the action out (recovery-actions.ts).
   */
  private async recover({ action, forced }: PlannedAction): Promise<void> {
    this.deps.policy.onActionStarted(action, this.ctx.scheduler.now(), forced);
    try {
      await runRecoveryAction(this.ctx, action);
    } catch (err) {
      // An AT reset or radio cycle into a module that does not answer (or whose port is gone) did
      // not happen: the policy must not count it, and the failure that follows (a module fault)
      // makes the next reset the hardware one.
      if (err instanceof CellkeepError && UNDELIVERED.has(err.causeInfo.code)) {
        this.ctx.log.warn(`${action} could not reach the module`, { cause: err.causeInfo.code });
        this.deps.policy.onActionUndelivered(action, this.ctx.scheduler.now());
      }
      throw err;
    }
  }

  private async shutdown(c: Cause | null = null): Promise<void> {
    this.signalPoller.stop();
    if (this.call.bearer || this.ctx.ports.channel?.mode === "data") await this.call.hangUp().catch(() => undefined);
    await this.ctx.ports.closeAll();
    this.to("stopped", c);
  }

  /** The main loop threw: hang up and close the ports as a stop would, then report (onCrash). */
  private async crashed(err: unknown): Promise<void> {
    const c = cause("agent-crashed", redact(err instanceof Error ? `${err.name}: ${err.message}` : String(err)));
    this.ctx.log.error("supervisor crashed", { cause: c.code, error: c.detail, stack: err instanceof Error ? err.stack : undefined });
    this.lastCause = c;
    this.ctx.interrupts.raise({ kind: "stop" });
    try {
      await this.shutdown(c);
    } catch (e) {
      this.ctx.log.error("cleanup after the crash failed", { error: String(e) });
      this.to("stopped", c);
    }
    for (const fn of [...this.crashHooks]) {
      try {
        fn(err, c);
      } catch (e) {
        this.ctx.log.error("crash hook failed", { error: String(e) });
      }
    }
  }

  // ───────────────────────────── URCs, state, events ─────────────────────────────

  private onUrc(u: AtUrc): void {
    // A URC can echo a credential (+QICSGP: ...,"user","pass"): the event never carries it.
    this.emit({ type: "modem.urc", at: u.at, name: u.name, line: redactLine(u.line) });
    if (this.ctx.backoff.noteText(u.line)) this.ctx.interrupts.wake();
    switch (u.name) {
      case "+CEREG":
      case "+CGREG":
      case "+CREG": {
        const reg = parseRegistration(u.line, false);
        if (reg) {
          this.ctx.facts.noteRegistration(reg);
          this.ctx.interrupts.wake();
          // radio.roaming = "deny": a call must not go on once the modem moved to a roaming network.
          if (reg.stat === 5 && !registrationAllowed(5, this.ctx.config.radio)) this.linkLost(cause("roaming-denied", `${reg.kind} stat 5 during the call`));
        }
        break;
      }
      case "RDY": // the Quectel boot URC (profile.bootUrc): a module reset waits for it
        this.ctx.boot.seen = true;
        this.ctx.interrupts.wake();
        break;
      case "POWERED DOWN":
      case "NORMAL POWER DOWN":
        this.ctx.log.warn("the modem powered down");
        break;
    }
  }

  private to(next: LinkState, c: Cause | null): void {
    const previous = this._state;
    if (previous === next) return;
    if (!isAllowedTransition(previous, next)) this.ctx.log.error("unexpected transition", { from: previous, to: next });
    this._state = next;
    // The readable transition line comes from the event log view (modem.state); this is the raw trace.
    this.ctx.log.debug(`state ${previous} → ${next}`, c ? { cause: c.code, detail: c.detail } : undefined);
    this.emit({ type: "modem.state", at: this.ctx.scheduler.now(), state: next, previous, cause: c });
  }

  private emit(e: ModemEvent): void {
    try {
      this.deps.emit(e);
    } catch (err) {
      this.ctx.log.error("event sink failed", { error: String(err) });
    }
  }
}


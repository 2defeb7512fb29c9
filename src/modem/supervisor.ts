/**
 * ModemSupervisor: brings the link up following the module vendor's PPP
 * procedure (DESIGN.md "Bring-up procedure"), keeps it, and executes the
 * recovery policy's decisions when it breaks.
 *
 * The machine is explicit: `state` is one of LinkState, every change goes
 * through `to()` (checked against TRANSITIONS, emitted as "modem.state"), and
 * each bring-up state has one step function that either returns (go on) or
 * throws a StepFailure carrying a named cause. All waiting is on Scheduler
 * timers or modem input, so tests run it on a ManualScheduler.
 */
import { AtChannel, redactCommand, type AtResponse, type AtUrc } from "../at/channel.ts";
import type { LinkState, RecoveryRung } from "../core/agent-events.ts";
import { cause, CellkeepError, type Cause, type CauseCode } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import { nullLogger, type Logger } from "../core/log.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { RecoveryDecision } from "../core/recovery-policy.ts";
import type { ModemEvent } from "./events.ts";
import {
  accessTechnology,
  cmeSimState,
  isRegistered,
  isWrongPassword,
  parseBackoff,
  parseCpin,
  parseRegistration,
  registrationStatus,
  type Registration,
} from "./parse.ts";
import { escapeUnknownState, leaveDataMode, type HangupTiming } from "./hangup.ts";
import { limitFor, PROFILES, resolveProfile, type ModemProfile } from "./profiles.ts";
import { readSignal } from "./signal.ts";
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

export { DEFAULT_TIMING };
export type { CreatePppLink, ModemIdentity, ModemPollResult, PppLinkHooks, PppLinkLike, PppUpInfo, SupervisorDeps, SupervisorTiming };

/** Allowed transitions; anything else is a bug and is logged. */
const TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  starting: ["syncing", "recovering", "waiting", "stopped"],
  syncing: ["sim", "waiting", "stopped"],
  sim: ["registering", "waiting", "stopped"],
  registering: ["attaching", "waiting", "stopped"],
  attaching: ["dialing", "waiting", "stopped"],
  dialing: ["negotiating", "waiting", "stopped"],
  negotiating: ["connected", "waiting", "stopped"],
  connected: ["waiting", "stopped"],
  waiting: ["recovering", "syncing", "stopped"],
  recovering: ["syncing", "waiting", "stopped"],
  stopped: ["starting"],
};

/** A step failed with a named cause. */
export class StepFailure extends CellkeepError {}

/** The network imposed a back-off: wait, don't reset. */
class NetworkBackoff extends CellkeepError {
  constructor(readonly seconds: number, detail: string) {
    super("network-backoff", detail);
  }
}

type Interrupt =
  | { kind: "stop" }
  | { kind: "link-lost"; cause: Cause }
  | { kind: "redial" }
  | { kind: "reset" };

/** EMM cause #22 "Congestion" (TS 24.301 annex A). */
const EMM_CONGESTION = 22;

export class ModemSupervisor<L extends PppLinkLike = PppLinkLike> {
  private _state: LinkState = "stopped";
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly t: SupervisorTiming;
  private profile: ModemProfile;
  private channel: AtChannel | null = null;
  private control: AtChannel | null = null;
  private controlTried = false;
  private controlOpening: Promise<void> | null = null;
  private link: L | null = null;
  private interrupt: Interrupt | null = null;
  private wakers = new Set<() => void>();
  private running: Promise<void> | null = null;
  private pinSent = false;
  private pinRejected: Cause | null = null;
  private lastReg: Registration | null = null;
  private lastRssi: number | null = null;
  private bootSeen = false;
  private backoffSeconds: number | null = null;
  private dialAttempt = 0;
  private linkEnded: Cause | null = null;
  private signalTimer: CancelTimer | null = null;
  private linkUpHooks = new Set<(info: PppUpInfo) => void>();
  private linkDownHooks = new Set<(c: Cause | null) => void>();
  identity: ModemIdentity = { manufacturer: null, model: null, firmware: null, imei: null, imsi: null, iccid: null };
  /** Cause of the last failure (for /status). */
  lastCause: Cause | null = null;

  constructor(private readonly deps: SupervisorDeps<L>) {
    this.scheduler = deps.scheduler;
    this.log = deps.log ?? nullLogger;
    this.t = { ...DEFAULT_TIMING, ...deps.timing };
    this.profile = this.tuned(resolveProfile(deps.config.modem.profile, null));
  }

  /** The profile with the timing overrides of time-scaled tests (timing.profileLimits, timing.bootTimeoutMs). */
  private tuned(p: ModemProfile): ModemProfile {
    if (!this.t.profileLimits && this.t.bootTimeoutMs === undefined) return p;
    return { ...p, limits: { ...p.limits, ...this.t.profileLimits }, bootTimeoutMs: this.t.bootTimeoutMs ?? p.bootTimeoutMs };
  }

  get state(): LinkState {
    return this._state;
  }

  get activeProfile(): ModemProfile {
    return this.profile;
  }

  /** The PPP link while negotiating/connected, so the data plane can attach to it. */
  get pppLink(): L | null {
    return this._state === "connected" || this._state === "negotiating" ? this.link : null;
  }

  /** The AT channel on the data port (diagnostics, tests). */
  get atChannel(): AtChannel | null {
    return this.channel;
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
    this.interrupt = null;
    this.to("starting", null);
    this.running = this.main().catch((err) => {
      this.log.error("supervisor crashed", { error: String(err) });
      this.to("stopped", cause("stopped", String(err)));
    });
  }

  /** Hang up cleanly (LCP Terminate, leave data mode, verify with AT) and stop. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.raise({ kind: "stop" });
    await this.running;
    this.running = null;
  }

  /** Health monitoring says the open link is dead (probe failures, peer-dead...). */
  linkLost(c: Cause): void {
    if (this._state === "connected" || this._state === "negotiating") this.raise({ kind: "link-lost", cause: c });
  }

  /** Hang up (if connected) and redial now. */
  requestRedial(): void {
    if (this._state === "connected" || this._state === "negotiating" || this._state === "waiting") this.raise({ kind: "redial" });
  }

  /** Reset the module now (operator action or maintenance window). */
  requestModemReset(): void {
    if (this._state !== "stopped") this.raise({ kind: "reset" });
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
      return { ok: false, source: "cached", stat: this.lastReg?.stat ?? null, rssi: this.lastRssi, detail: this.causeOf(err).code };
    }
  }

  private async pollModemOnce(): Promise<ModemPollResult> {
    if (this._state === "connected") await this.openControl();
    const ch = this.pollChannel();
    if (ch) {
      const source = ch === this.control ? "control-port" : "data-port";
      const reg = await this.queryRegistration(ch);
      if (reg) this.noteRegistration(reg);
      await this.pollSignal(ch);
      const stat = reg?.stat ?? null;
      const ok = stat !== null && isRegistered(stat);
      return { ok, source, stat, rssi: this.lastRssi, detail: stat === null ? "no registration answer" : registrationStatus(stat) };
    }
    const stat = this.lastReg?.stat ?? null;
    const ok = stat !== null && isRegistered(stat) && this._state === "connected";
    return { ok, source: "cached", stat, rssi: this.lastRssi, detail: stat === null ? "registration unknown" : registrationStatus(stat) };
  }

  // ───────────────────────────── main loop ─────────────────────────────

  private async main(): Promise<void> {
    let action: RecoveryRung | null = null;
    let forced = false;
    while (!this.stopping()) {
      let failure: Cause;
      let wasConnected = false;
      try {
        if (action) {
          this.to("recovering", null);
          await this.execute(action, forced);
          action = null;
          forced = false;
        }
        failure = await this.bringUpAndHold();
        wasConnected = true;
      } catch (err) {
        if (err instanceof NetworkBackoff) {
          const now = this.scheduler.now();
          const d = this.deps.policy.onNetworkBackoff(now + err.seconds * 1000, now);
          if (!(await this.waitDecision(err.causeInfo, d))) break;
          action = d.action;
          continue;
        }
        failure = this.causeOf(err);
      }
      if (this.stopping()) break;
      const pending = this.takeInterrupt();
      const now = this.scheduler.now();
      let d: RecoveryDecision;
      let shown: Cause | null = failure;
      if (pending?.kind === "reset") {
        d = { action: "module-reset", notBefore: now, reason: "reset requested" };
        forced = true;
        shown = null;
      } else if (pending?.kind === "redial") {
        d = { action: "redial", notBefore: now, reason: "redial requested" };
        forced = true;
        shown = null;
      } else {
        this.lastCause = failure;
        d = wasConnected ? this.deps.policy.onLinkLost(failure, now) : this.deps.policy.onBringUpFailure(failure, now);
      }
      if (!(await this.waitDecision(shown, d))) break;
      action = d.action;
    }
    await this.shutdown();
  }

  /** Sits in "waiting" until the decision's time; false when stopped meanwhile. */
  private async waitDecision(c: Cause | null, d: RecoveryDecision): Promise<boolean> {
    this.to("waiting", c);
    this.log.info("waiting before recovery", { action: d.action, reason: d.reason, until: new Date(d.notBefore).toISOString() });
    while (this.scheduler.now() < d.notBefore) {
      const r = await this.sleepUntil(d.notBefore);
      if (r !== "interrupted") continue;
      const i = this.takeInterrupt();
      if (!i || i.kind === "stop") return false;
      // An operator's redial/reset while waiting: act now.
      if (i.kind === "reset") d.action = "module-reset";
      break;
    }
    return !this.stopping();
  }

  private async bringUpAndHold(): Promise<Cause> {
    this.backoffSeconds = null;
    this.to("syncing", null);
    await this.ensurePort();
    await this.sync();
    await this.readIdentity();
    this.to("sim", null);
    await this.sim();
    this.to("registering", null);
    await this.register();
    this.to("attaching", null);
    await this.attach();
    await this.defineContext();
    await this.pollSignal(this.requireChannel()).catch(() => undefined);
    this.to("dialing", null);
    await this.dial();
    this.to("negotiating", null);
    await this.negotiate();
    this.to("connected", null);
    this.deps.policy.onConnected(this.scheduler.now());
    return await this.hold();
  }

  // ───────────────────────────── steps ─────────────────────────────

  /** Step 1: AT every 100 ms until OK (bounded by the hung limit), then ATE0, +CMEE=2, &D2, +IPR. */
  private async sync(): Promise<void> {
    const ch = this.requireChannel();
    const started = this.scheduler.now();
    let escaped = false;
    for (;;) {
      const r = await ch.command("AT", this.t.syncIntervalMs);
      this.checkInterrupt(r);
      if (r.status === "ok") break;
      if (!escaped && this.scheduler.now() - started >= this.t.syncEscapeAfterMs) {
        // Still silent: the modem may be in data mode from an earlier run (agent restarted
        // while connected). Leave it the vendor's ways: DTR drop (AT&D2 persists), "+++", ATH.
        escaped = true;
        this.log.info("no answer to AT; trying to leave a data call left over from an earlier run");
        this.checkInterrupt(await escapeUnknownState(ch, this.scheduler, this.hangupTiming()));
        continue;
      }
      if (this.scheduler.now() - started >= this.profile.limits.hungAfter) {
        throw new StepFailure("modem-hung", `no OK to AT for ${Math.round((this.scheduler.now() - started) / 1000)} s`);
      }
      if (r.status !== "timeout") await this.sleep(this.t.syncIntervalMs);
    }
    await this.required("ATE0", "at-error");
    await this.required("AT+CMEE=2", "at-error");
    // AT&D2: DTR on→off hangs up and returns to command mode (V.250 §6.2.9), our second way out of data mode.
    await this.required("AT&D2", "at-error");
    if (this.deps.config.modem.set_baud) await this.required(`AT+IPR=${this.deps.config.modem.baud};&W`, "at-error");
  }

  /** Step 2: ATI / +CGMM / +CGMR / +CGSN / +CIMI / +QCCID; picks the profile. */
  private async readIdentity(): Promise<void> {
    const info = async (cmd: string): Promise<string[] | null> => {
      const r = await this.cmd(cmd);
      return r.status === "ok" ? r.lines : null;
    };
    const ati = await info("ATI");
    const cgmm = await info("AT+CGMM");
    const cgmr = await info("AT+CGMR");
    const cgsn = await info("AT+CGSN");
    const id: ModemIdentity = {
      manufacturer: ati?.[0] ?? null,
      model: cgmm?.[0] ?? ati?.[1] ?? null,
      firmware: (cgmr?.[0] ?? ati?.find((l) => /^Revision:/i.test(l))?.replace(/^Revision:\s*/i, "")) ?? null,
      imei: cgsn?.find((l) => /^\d{14,17}$/.test(l)) ?? null,
      imsi: this.identity.imsi,
      iccid: this.identity.iccid,
    };
    this.identity = id;
    this.profile = this.tuned(resolveProfile(this.deps.config.modem.profile, id.model ?? ati?.join(" ") ?? null));
    this.emitIdentity();
  }

  private emitIdentity(): void {
    this.emit({ type: "modem.identity", at: this.scheduler.now(), ...this.identity, profile: this.profile.id });
  }

  /** Step 3: +CPIN? until READY; the configured PIN once; never retry a rejected PIN. */
  private async sim(): Promise<void> {
    if (this.pinRejected) throw new StepFailure(this.pinRejected.code, this.pinRejected.detail);
    const started = this.scheduler.now();
    let lastState = "no answer";
    for (;;) {
      const r = await this.cmd("AT+CPIN?");
      let state = r.status === "ok" ? r.lines.map(parseCpin).find((s) => s !== null) ?? null : null;
      if (r.status === "cme-error") state = cmeSimState(r.detail);
      if (r.status === "timeout") await this.timeoutFailure(r);
      if (state === "ready") break;
      if (state === "not-inserted") throw new StepFailure("sim-missing", r.detail || "+CPIN: NOT INSERTED");
      if (state === "sim-puk") throw this.simLocked(cause("sim-puk-required"));
      if (state === "sim-pin") {
        const pin = this.deps.config.modem.pin;
        if (!pin) throw new StepFailure("sim-pin-required");
        if (this.pinSent) throw this.simLocked(cause("sim-pin-wrong", "the SIM still asks for a PIN after it was entered"));
        this.pinSent = true;
        const pr = await this.cmd(`AT+CPIN="${pin}"`);
        this.checkInterrupt(pr);
        if (pr.status !== "ok") {
          // Wrong PIN (CME 16) or anything else: never try again, each wrong try brings the PUK lock closer.
          throw this.simLocked(cause("sim-pin-wrong", isWrongPassword(pr.detail) ? "incorrect password" : `${pr.status} ${pr.detail}`.trim()));
        }
        continue;
      }
      lastState = state ?? `${r.status} ${r.detail}`.trim();
      if (this.scheduler.now() - started >= this.t.simReadyTimeoutMs) throw new StepFailure("sim-not-ready", lastState);
      await this.sleep(this.t.simPollMs);
    }
    // IMSI and ICCID are only readable with the SIM unlocked.
    const cimi = await this.cmd("AT+CIMI");
    const ccid = await this.cmd(this.profile.id === "generic" ? "AT+CCID" : "AT+QCCID");
    const imsi = cimi.status === "ok" ? cimi.lines.find((l) => /^\d{6,15}$/.test(l)) ?? null : null;
    const iccid = ccid.status === "ok" ? ccid.lines.map((l) => l.replace(/^\+Q?CCID:\s*/, "")).find((l) => /^\d{18,22}F?$/i.test(l)) ?? null : null;
    if (imsi !== this.identity.imsi || iccid !== this.identity.iccid) {
      this.identity = { ...this.identity, imsi, iccid };
      this.emitIdentity();
    }
  }

  private simLocked(c: Cause): StepFailure {
    this.pinRejected = c;
    return new StepFailure(c.code, c.detail);
  }

  /** Step 4: +CEREG/+CGREG/+CREG with =2 until stat 1 or 5; 3 is denied; back-off is waited out. */
  private async register(): Promise<void> {
    const ch = this.requireChannel();
    // n=3 adds the EMM reject cause to n=2's TAC and cell id (TS 27.007 §10.1.22); older modems only know 2.
    const n3 = await this.cmd("AT+CEREG=3");
    if (n3.status === "timeout") await this.timeoutFailure(n3);
    if (n3.status !== "ok") await this.cmd("AT+CEREG=2");
    for (const c of ["AT+CGREG=2", "AT+CREG=2"]) {
      const r = await this.cmd(c);
      if (r.status === "timeout") await this.timeoutFailure(r);
    }
    const started = this.scheduler.now();
    let denied: Registration | null = null;
    for (;;) {
      this.throwIfBackoff();
      const reg = await this.queryRegistration(ch);
      this.throwIfBackoff();
      if (reg) {
        this.noteRegistration(reg);
        if (isRegistered(reg.stat)) return;
        if (reg.stat === 3) denied = reg;
      }
      if (denied && denied.rejectCause === EMM_CONGESTION) {
        // TS 24.301 §5.5.1.2.5: reject cause #22 comes with T3346; retrying or resetting before it runs out is futile.
        throw new NetworkBackoff(await this.backoffSeconds22(ch), `registration rejected with EMM cause 22 (congestion)`);
      }
      if (denied) {
        throw new StepFailure("registration-denied", `${denied.kind} stat 3${denied.rejectCause !== null ? `, reject cause ${denied.rejectCause}` : ""}`);
      }
      if (this.scheduler.now() - started >= this.t.registrationTimeoutMs) {
        throw new StepFailure("not-registered", reg ? `${reg.kind} stat ${reg.stat} (${registrationStatus(reg.stat)})` : "no registration answer");
      }
      // A +CEREG URC wakes us early.
      await this.sleep(this.t.registrationPollMs);
    }
  }

  /** The remaining T3346 back-off: Quectel's AT+QNWCFG="backoff", else the T3402 default of 12 min. */
  private async backoffSeconds22(ch: AtChannel): Promise<number> {
    if (this.profile.id !== "generic") {
      const r = await this.cmd('AT+QNWCFG="backoff"', ch);
      const m = r.status === "ok" ? r.lines.map((l) => /^\+QNWCFG:\s*"backoff",(\d+)/i.exec(l)).find((x) => x) : null;
      if (m) return Math.max(1, Number(m[1]));
    }
    return 720;
  }

  /** Best of +CEREG?/+CGREG?/+CREG?: registered beats denied beats the rest. */
  private async queryRegistration(ch: AtChannel): Promise<Registration | null> {
    let best: Registration | null = null;
    const rank = (r: Registration) => (isRegistered(r.stat) ? 3 : r.stat === 3 ? 2 : r.stat === 2 ? 1 : 0);
    for (const c of ["AT+CEREG?", "AT+CGREG?", "AT+CREG?"]) {
      const r = await this.cmd(c, ch);
      if (r.status === "timeout") await this.timeoutFailure(r, ch);
      if (r.status !== "ok") continue;
      for (const line of r.lines) {
        const reg = parseRegistration(line, true);
        if (reg && (!best || rank(reg) > rank(best))) best = reg;
      }
      if (best && isRegistered(best.stat)) break;
    }
    return best;
  }

  private noteRegistration(reg: Registration): void {
    const prev = this.lastReg;
    this.lastReg = reg;
    if (prev && prev.stat === reg.stat && prev.cell === reg.cell && prev.tac === reg.tac) return;
    this.emitRegistration(null, null);
  }

  private emitRegistration(operator: string | null, band: string | null): void {
    const reg = this.lastReg;
    if (!reg) return;
    this.emit({
      type: "modem.registration",
      at: this.scheduler.now(),
      stat: reg.stat,
      status: registrationStatus(reg.stat),
      act: accessTechnology(reg.act),
      operator,
      band,
      tac: reg.tac,
      cell: reg.cell,
    });
  }

  /** Step 5: AT+CGATT=1, then AT+CGATT? must read 1 before dialling (the BG77 field report). */
  private async attach(): Promise<void> {
    const started = this.scheduler.now();
    if (await this.isAttached()) return;
    const r = await this.cmd("AT+CGATT=1");
    if (r.status === "timeout") await this.timeoutFailure(r);
    this.backoffFrom(r);
    this.throwIfBackoff();
    for (;;) {
      if (await this.isAttached()) return;
      this.throwIfBackoff();
      if (this.scheduler.now() - started >= this.t.attachTimeoutMs) {
        throw new StepFailure("not-attached", `AT+CGATT? did not read 1 within ${Math.round(this.t.attachTimeoutMs / 1000)} s`);
      }
      await this.sleep(this.t.attachPollMs);
    }
  }

  private async isAttached(): Promise<boolean> {
    const r = await this.cmd("AT+CGATT?");
    if (r.status === "timeout") await this.timeoutFailure(r);
    return r.status === "ok" && r.lines.some((l) => /^\+CGATT:\s*1\b/.test(l));
  }

  /** Step 6: the PDP context and the configured extra init commands, each checked. */
  private async defineContext(): Promise<void> {
    const n = this.deps.config.network;
    const r = await this.cmd(`AT+CGDCONT=${n.cid},"${n.pdp_type}","${n.apn}"`);
    if (r.status === "timeout") await this.timeoutFailure(r);
    if (r.status !== "ok") {
      this.commandFailed(r);
      throw new StepFailure("context-failed", `${r.command}: ${r.status} ${r.detail}`.trim());
    }
    for (const c of [...this.profile.init, ...this.deps.config.modem.init]) {
      const ir = await this.cmd(c);
      if (ir.status === "timeout") await this.timeoutFailure(ir);
      if (ir.status !== "ok") {
        this.commandFailed(ir);
        throw new StepFailure("init-failed", `${redactCommand(c)}: ${ir.status} ${ir.detail}`.trim());
      }
    }
  }

  /** Step 7: the dial string → CONNECT; every other result is a named cause. */
  private async dial(): Promise<void> {
    const dialCmd = this.deps.config.network.dial;
    this.dialAttempt++;
    const r = await this.cmd(dialCmd);
    if (r.status === "connect") {
      this.emit({ type: "modem.dial", at: this.scheduler.now(), attempt: this.dialAttempt, result: "connect", cause: null });
      return;
    }
    let c: Cause;
    switch (r.status) {
      case "no-carrier":
        c = cause("no-carrier");
        break;
      case "busy":
        c = cause("busy");
        break;
      case "no-answer":
        c = cause("no-answer");
        break;
      case "no-dialtone":
        c = cause("no-dialtone");
        break;
      case "timeout":
        c = (await this.timeoutCause(r)).causeInfo;
        break;
      case "aborted":
        c = this.abortedCause(r);
        break;
      default:
        this.backoffFrom(r);
        c = cause("dial-failed", `${dialCmd}: ${r.status} ${r.detail}`.trim());
    }
    this.emit({ type: "modem.dial", at: this.scheduler.now(), attempt: this.dialAttempt, result: "failed", cause: c });
    this.throwIfBackoff();
    throw new StepFailure(c.code, c.detail);
  }

  /** PPP on the same port; "connected" when the network layer is up. */
  private async negotiate(): Promise<void> {
    const ch = this.requireChannel();
    const pipe = ch.dataPipe;
    if (!pipe) throw new StepFailure("dial-failed", "CONNECT but no data stream");
    this.linkEnded = null;
    let upInfo: PppUpInfo | null = null;
    const link = this.deps.createPppLink(pipe, {
      up: (info) => {
        if (this.link !== link) return;
        upInfo = info;
        this.wake();
      },
      down: (c) => {
        if (this.link !== link) return;
        this.linkEnded = c ?? cause("terminated-by-peer");
        this.wake();
      },
    });
    this.link = link;
    const offEnd = ch.onDataEnd((why) => {
      if (why === "no-carrier" && this.link === link && !this.linkEnded) {
        this.linkEnded = cause("carrier-lost");
        this.wake();
      }
    });
    try {
      link.start();
      const deadline = this.scheduler.now() + this.t.negotiateTimeoutMs;
      while (!upInfo && !this.linkEnded && !this.interrupt && this.scheduler.now() < deadline && ch.pipe.isOpen) {
        await this.sleepUntil(deadline);
      }
    } finally {
      offEnd();
    }
    if (upInfo) {
      const info: PppUpInfo = upInfo;
      if (this.deps.emitPppEvents !== false) this.emit({ type: "ppp.up", at: this.scheduler.now(), ...info });
      for (const fn of this.linkUpHooks) fn(info);
      return;
    }
    let c: Cause;
    if (this.linkEnded) c = this.linkEnded;
    else if (!ch.pipe.isOpen) c = cause("port-vanished");
    else if (this.interrupt) c = this.interruptCause();
    else c = cause("lcp-timeout", `PPP not up ${Math.round(this.t.negotiateTimeoutMs / 1000)} s after CONNECT`);
    await this.hangUp();
    throw new StepFailure(c.code, c.detail);
  }

  /** Connected: wait for the link to end; returns why. */
  private async hold(): Promise<Cause> {
    const ch = this.requireChannel();
    const link = this.link;
    const offEnd = ch.onDataEnd((why) => {
      if (why === "no-carrier" && this.link === link && !this.linkEnded) {
        this.linkEnded = cause("carrier-lost");
        this.wake();
      }
    });
    this.startSignalPolling();
    try {
      while (!this.linkEnded && !this.interrupt && ch.pipe.isOpen) await this.sleepUntil(null);
    } finally {
      offEnd();
      this.stopSignalPolling();
    }
    const c = this.linkEnded ?? (!ch.pipe.isOpen ? cause("port-vanished") : this.interruptCause());
    if (this.deps.emitPppEvents !== false) this.emit({ type: "ppp.down", at: this.scheduler.now(), cause: c });
    for (const fn of this.linkDownHooks) fn(c);
    await this.hangUp();
    // Without a control port, signal is only visible between calls: take a reading now (it helps explain the drop).
    if (!this.control && !this.stopping() && ch.pipe.isOpen && ch.mode === "command") await this.pollSignal(ch).catch(() => undefined);
    return c;
  }

  /** Leaving data mode: PPP's LCP Terminate first, then hangup.ts's procedure. */
  private async hangUp(): Promise<void> {
    const ch = this.channel;
    const link = this.link;
    this.link = null;
    if (link) await this.race(link.stop(), this.t.pppStopTimeoutMs);
    if (!ch || !ch.pipe.isOpen) return;
    const { method, verified } = await leaveDataMode(ch, this.scheduler, this.hangupTiming());
    this.emit({ type: "modem.hangup", at: this.scheduler.now(), method, verified });
  }

  private hangupTiming(): HangupTiming {
    return { guardMs: this.t.escapeGuardMs, basicMs: this.profile.limits.basic, noCarrierWaitMs: 1_000 };
  }

  // ───────────────────────────── recovery actions ─────────────────────────────

  private async execute(action: RecoveryRung, forced: boolean): Promise<void> {
    const now = this.scheduler.now();
    this.deps.policy.onActionStarted(action, now);
    this.emit({ type: "recovery.action", at: now, rung: action, reason: this.lastCause?.code ?? "requested", forced });
    this.log.info("recovery action", { action });
    switch (action) {
      case "redial":
        return;
      case "radio-cycle":
        await this.ensurePort();
        await this.required("AT+CFUN=0", "at-error");
        await this.sleep(this.profile.radioOffMs);
        await this.required("AT+CFUN=1", "at-error");
        this.lastReg = null;
        return;
      case "module-reset":
        await this.moduleReset();
        return;
      case "power-cycle":
      case "reboot": {
        const cmd = action === "power-cycle" ? this.deps.config.recovery.power_cycle : this.deps.config.recovery.reboot_command;
        if (!cmd || !this.deps.runCommand) {
          this.log.warn(`no command configured for ${action}; resetting the module instead`);
          await this.moduleReset();
          return;
        }
        this.dropPort();
        const code = await this.deps.runCommand(cmd);
        if (code !== 0) this.log.warn(`${action} command failed`, { exitCode: code });
        this.pinSent = false;
        return;
      }
    }
  }

  /** AT+CFUN=1,1: the module reboots; wait for RDY; the USB port may vanish and come back. */
  private async moduleReset(): Promise<void> {
    await this.ensurePort();
    const ch = this.requireChannel();
    this.bootSeen = false;
    // The module may reboot before it answers OK: the result does not matter.
    await ch.command(this.profile.resetCommand, this.profile.limits.cfun);
    const deadline = this.scheduler.now() + this.profile.bootTimeoutMs;
    if (this.profile.bootUrc) {
      while (!this.bootSeen && this.scheduler.now() < deadline && !this.stopping()) {
        if (!this.channel?.pipe.isOpen) {
          // USB re-enumeration: reopen the port, then keep waiting for RDY on it.
          this.dropPort();
          await this.ensurePort();
          continue;
        }
        await this.sleepUntil(deadline);
      }
    } else {
      await this.sleep(Math.min(this.profile.bootTimeoutMs, 10_000));
    }
    this.lastReg = null;
    this.pinSent = false;
  }

  // ───────────────────────────── ports ─────────────────────────────

  private async ensurePort(): Promise<void> {
    if (this.channel && this.channel.pipe.isOpen && !this.channel.isDetached) return;
    this.dropPort();
    const started = this.scheduler.now();
    let last: Cause = cause("port-vanished");
    for (;;) {
      if (this.stopping()) throw new StepFailure("stopped");
      try {
        const pipe = await this.deps.openPort();
        this.attachChannel(pipe);
        return;
      } catch (err) {
        last = this.causeOf(err);
        this.log.debug("port open failed", { cause: last.code });
      }
      if (this.scheduler.now() - started >= this.t.portReturnTimeoutMs) {
        throw new StepFailure(last.code === "port-not-found" ? "port-vanished" : last.code, last.detail);
      }
      await this.sleep(this.t.portRetryMs);
    }
  }

  private attachChannel(pipe: BytePipe): void {
    const ch = new AtChannel(pipe, this.scheduler, { log: this.log.child("at"), defaultTimeoutMs: this.profile.limits.basic });
    ch.onUrc((u) => this.onUrc(u));
    pipe.onClose(() => this.wake());
    this.channel = ch;
  }

  private dropPort(): void {
    const ch = this.channel;
    this.channel = null;
    if (!ch) return;
    ch.detach();
    if (ch.pipe.isOpen) void ch.pipe.close();
  }

  private async shutdown(): Promise<void> {
    this.stopSignalPolling();
    if (this.link || this.channel?.mode === "data") await this.hangUp().catch(() => undefined);
    this.dropPort();
    const ctl = this.control;
    this.control = null;
    this.controlTried = false;
    if (ctl) {
      ctl.detach();
      if (ctl.pipe.isOpen) await ctl.pipe.close();
    }
    this.to("stopped", null);
  }

  // ───────────────────────────── signal polling ─────────────────────────────

  private pollChannel(): AtChannel | null {
    if (this.control && !this.control.isDetached && this.control.pipe.isOpen) return this.control;
    const ch = this.channel;
    if (!ch || ch.mode !== "command" || !ch.pipe.isOpen) return null;
    // Only between bring-up steps would we interleave; queries on an idle port are fine.
    if (this._state === "waiting" || this._state === "connected" || this._state === "stopped") return null;
    return ch;
  }

  private startSignalPolling(): void {
    if (this.t.signalPollMs <= 0) return;
    void this.openControl().then(() => {
      const tick = () => {
        this.signalTimer = null;
        if (this._state !== "connected" || !this.control) return;
        void this.pollSignal(this.control)
          .catch(() => undefined)
          .finally(() => {
            if (this._state === "connected") this.signalTimer = this.scheduler.setTimer(this.scheduler.now() + this.t.signalPollMs, tick);
          });
      };
      if (this.control && this._state === "connected") this.signalTimer = this.scheduler.setTimer(this.scheduler.now() + this.t.signalPollMs, tick);
    });
  }

  private stopSignalPolling(): void {
    this.signalTimer?.();
    this.signalTimer = null;
  }

  /** Opens the control port once per connection; concurrent callers share the attempt. */
  private openControl(): Promise<void> {
    if (!this.controlOpening) this.controlOpening = this.openControlOnce().finally(() => (this.controlOpening = null));
    return this.controlOpening;
  }

  private async openControlOnce(): Promise<void> {
    if (this.controlTried || !this.deps.openControlPort) return;
    this.controlTried = true;
    try {
      const pipe = await this.deps.openControlPort();
      if (!pipe) return;
      const ch = new AtChannel(pipe, this.scheduler, { log: this.log.child("at-control"), defaultTimeoutMs: this.profile.limits.basic });
      ch.onUrc((u) => this.onUrc(u));
      pipe.onClose(() => {
        if (this.control === ch) {
          this.control = null;
          this.controlTried = false;
        }
      });
      // Echo off on the control port too, so answers parse the same.
      await ch.command("ATE0", this.profile.limits.basic);
      this.control = ch;
    } catch (err) {
      this.log.debug("control port unavailable", { error: String(err) });
    }
  }

  /** +CSQ, +QCSQ, +QNWINFO, +COPS? → "modem.signal" and, with operator/band, "modem.registration". */
  private async pollSignal(ch: AtChannel): Promise<void> {
    const r = await readSignal(ch, this.profile, accessTechnology(this.lastReg?.act ?? null));
    this.lastRssi = r.rssi;
    this.emit({ type: "modem.signal", at: this.scheduler.now(), rssi: r.rssi, rsrp: r.rsrp, rsrq: r.rsrq, sinr: r.sinr, act: r.act });
    if (r.operator || r.band) this.emitRegistration(r.operator, r.band);
  }

  // ───────────────────────────── URCs ─────────────────────────────

  private onUrc(u: AtUrc): void {
    this.emit({ type: "modem.urc", at: u.at, name: u.name, line: u.line });
    const backoff = parseBackoff(u.line);
    if (backoff !== null) {
      this.backoffSeconds = backoff;
      this.wake();
    }
    switch (u.name) {
      case "+CEREG":
      case "+CGREG":
      case "+CREG": {
        const reg = parseRegistration(u.line, false);
        if (reg) {
          this.noteRegistration(reg);
          this.wake();
        }
        break;
      }
      case "RDY":
        this.bootSeen = true;
        this.wake();
        break;
      case "POWERED DOWN":
      case "NORMAL POWER DOWN":
        this.log.warn("the modem powered down");
        break;
    }
  }

  private backoffFrom(r: AtResponse): void {
    const s = parseBackoff(`${r.detail} ${r.lines.join(" ")}`);
    if (s !== null) this.backoffSeconds = s;
  }

  private throwIfBackoff(): void {
    const s = this.backoffSeconds;
    if (s === null) return;
    this.backoffSeconds = null;
    throw new NetworkBackoff(s, `network back-off of ${s} s`);
  }

  // ───────────────────────────── command helpers ─────────────────────────────

  private requireChannel(): AtChannel {
    const ch = this.channel;
    if (!ch || !ch.pipe.isOpen) throw new StepFailure("port-vanished");
    return ch;
  }

  /** Send with the profile's limit; an interrupt or a lost port ends the step. */
  private async cmd(command: string, ch: AtChannel = this.requireChannel()): Promise<AtResponse> {
    const r = await ch.command(command, limitFor(this.profile, command));
    this.checkInterrupt(r);
    return r;
  }

  /** A command that must answer OK; else the given cause. */
  private async required(command: string, code: CauseCode): Promise<AtResponse> {
    let r = await this.cmd(command);
    // Right after a reset some modems spray ERROR lines; one of them can land on our command.
    // The required commands are idempotent, so a bare ERROR earns one more try.
    if (r.status === "error") r = await this.cmd(command);
    if (r.status === "ok") return r;
    if (r.status === "timeout") await this.timeoutFailure(r);
    this.commandFailed(r);
    throw new StepFailure(code, `${redactCommand(command)}: ${r.status} ${r.detail}`.trim());
  }

  private commandFailed(r: AtResponse): void {
    this.emit({ type: "modem.command-failed", at: this.scheduler.now(), command: redactCommand(r.command), status: r.status, detail: r.detail });
  }

  private checkInterrupt(r: AtResponse): void {
    if (r.status === "aborted") {
      const c = this.abortedCause(r);
      throw new StepFailure(c.code, c.detail);
    }
    if (this.interrupt && this.interrupt.kind !== "link-lost") {
      const c = this.interruptCause();
      throw new StepFailure(c.code, c.detail);
    }
  }

  private abortedCause(r: AtResponse): Cause {
    if (this.interrupt) return this.interruptCause();
    return cause("port-vanished", `while waiting for ${redactCommand(r.command)}`);
  }

  private interruptCause(): Cause {
    const i = this.interrupt;
    if (!i || i.kind === "stop") return cause("stopped");
    if (i.kind === "link-lost") return i.cause;
    return cause("stopped", i.kind === "redial" ? "redial requested" : "module reset requested");
  }

  private async timeoutFailure(r: AtResponse, ch?: AtChannel): Promise<never> {
    throw await this.timeoutCause(r, ch);
  }

  /**
   * A command ran past its limit. If the modem still answers AT it is a plain
   * at-timeout; if it stays silent until the vendor's worst case (60 s since
   * it last said anything) it is hung.
   */
  private async timeoutCause(r: AtResponse, ch: AtChannel | null = this.channel): Promise<StepFailure> {
    const what = redactCommand(r.command);
    if (!ch) return new StepFailure("port-vanished", `while waiting for ${what}`);
    const hungAfter = this.profile.limits.hungAfter;
    for (;;) {
      const probe = await ch.command("AT", this.profile.limits.basic);
      this.checkInterrupt(probe);
      if (probe.status === "ok") return new StepFailure("at-timeout", `${what}: no answer within ${limitFor(this.profile, r.command)} ms`);
      const silentSince = Math.max(ch.lastRxAt ?? r.sentAt, r.sentAt);
      if (this.scheduler.now() - silentSince >= hungAfter) {
        return new StepFailure("modem-hung", `${what}: no answer, and no answer to AT for ${Math.round(hungAfter / 1000)} s`);
      }
      await this.sleep(1_000);
    }
  }

  private causeOf(err: unknown): Cause {
    if (err instanceof CellkeepError) return err.causeInfo;
    this.log.error("unexpected error in bring-up", { error: String(err) });
    return cause("init-failed", String(err));
  }

  // ───────────────────────────── state, time, interrupts ─────────────────────────────

  private to(next: LinkState, c: Cause | null): void {
    const previous = this._state;
    if (previous === next) return;
    if (!TRANSITIONS[previous].includes(next)) this.log.error("unexpected transition", { from: previous, to: next });
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

  private stopping(): boolean {
    return this.interrupt?.kind === "stop";
  }

  private raise(i: Interrupt): void {
    // stop wins over everything else
    if (this.interrupt?.kind === "stop") return;
    this.interrupt = i;
    // Commands in flight during bring-up end now; a connected link is handled by hold().
    if (i.kind !== "link-lost" && this._state !== "connected" && this._state !== "negotiating") this.channel?.abortAll();
    this.wake();
  }

  private takeInterrupt(): Interrupt | null {
    const i = this.interrupt;
    if (i?.kind !== "stop") this.interrupt = null;
    return i;
  }

  private wake(): void {
    const ws = [...this.wakers];
    this.wakers.clear();
    for (const w of ws) w();
  }

  /** Sleep that ends early on wake(); throws on stop/redial/reset interrupts. */
  private async sleep(ms: number): Promise<void> {
    const r = await this.sleepUntil(this.scheduler.now() + ms);
    if (r === "interrupted" && this.interrupt && this.interrupt.kind !== "link-lost") {
      const c = this.interruptCause();
      throw new StepFailure(c.code, c.detail);
    }
  }

  /** Resolves at `at` (null = never), on wake() ("woken") or on an interrupt ("interrupted"). */
  private sleepUntil(at: number | null): Promise<"timer" | "woken" | "interrupted"> {
    if (this.interrupt) return Promise.resolve("interrupted");
    return new Promise((resolve) => {
      let cancel: CancelTimer = () => {};
      const waker = () => {
        cancel();
        resolve(this.interrupt ? "interrupted" : "woken");
      };
      this.wakers.add(waker);
      if (at !== null) {
        cancel = this.scheduler.setTimer(Math.max(at, this.scheduler.now()), () => {
          this.wakers.delete(waker);
          resolve(this.interrupt ? "interrupted" : "timer");
        });
      }
    });
  }

  private async race(p: Promise<void>, ms: number): Promise<void> {
    let cancel: CancelTimer = () => {};
    await Promise.race([
      p.catch(() => undefined),
      new Promise<void>((resolve) => {
        cancel = this.scheduler.setTimer(this.scheduler.now() + ms, resolve);
      }),
    ]);
    cancel();
  }
}

export { PROFILES };

/**
 * The bring-up steps of the module vendor's PPP procedure (DESIGN.md
 * "Bring-up procedure", numbered as there), one function each; its rule 7
 * (no answer within the limit → hung) is in commands.ts. A step returns when
 * the modem is ready for the next one and throws a StepFailure with a named
 * cause (or a NetworkBackoff) when it is not. The order lives in the
 * supervisor's bringUpAndHold(); the steps share only the context (context.ts).
 */
import type { AtChannel, AtResponse } from "../at/channel.ts";
import { cause, type Cause } from "../core/cause.ts";
import { PERMANENT_EMM_CAUSES } from "../core/remedy.ts";
import type { AtCommands } from "./commands.ts";
import type { ModemContext } from "./context.ts";
import { NetworkBackoff, StepFailure } from "./failures.ts";
import { escapeUnknownState, hangupTiming } from "./hangup.ts";
import { congestionBackoffSeconds, EMM_CONGESTION } from "./network-backoff.ts";
import { isRejectedPin, pinFingerprint } from "./pin-memory.ts";
import { cmeSimState, esmCauseCode, isRegistered, parseCeer, isWrongPassword, parseCpin, parseRegistration, registrationStatus, type Registration } from "./parse.ts";
import { registrationAllowed } from "./radio-policy.ts";
import type { ModemIdentity } from "./types.ts";

/** Step 1 (sync): AT every 100 ms until OK (bounded by the hung limit), then ATE0, +CMEE=2, &D2, +IPR. */
export async function sync(ctx: ModemContext): Promise<void> {
  const ch = ctx.at.requireChannel();
  const started = ctx.scheduler.now();
  const elapsed = () => ctx.scheduler.now() - started;
  let escaped = false;
  for (;;) {
    const r = await ch.command("AT", ctx.timing.syncIntervalMs);
    ctx.at.checkInterrupt(r);
    if (r.status === "ok") break;
    if (!escaped && elapsed() >= ctx.timing.syncEscapeAfterMs) {
      // Still silent: the modem may be in data mode from an earlier run (agent restarted
      // while connected). Leave it the vendor's ways: DTR drop (AT&D2 persists), "+++", ATH.
      escaped = true;
      ctx.log.info("no answer to AT; trying to leave a data call left over from an earlier run");
      ctx.at.checkInterrupt(await escapeUnknownState(ch, ctx.scheduler, hangupTiming(ctx.timing, ctx.profile)));
      continue;
    }
    // Rule 7 counts the module's silence, not our patience: once the escape has been tried, a module
    // that has said nothing for the limit (e.g. frozen in data mode since before the hang-up) is hung
    // now, not a full limit after this sync began.
    const silentFor = ctx.scheduler.now() - Math.min(started, ch.lastRxAt ?? started);
    if (elapsed() >= ctx.profile.limits.hungAfter || (escaped && silentFor >= ctx.profile.limits.hungAfter)) {
      throw new StepFailure("modem-hung", `no OK to AT for ${Math.round(elapsed() / 1000)} s (silent for ${Math.round(silentFor / 1000)} s)`);
    }
    if (r.status !== "timeout") await ctx.interrupts.sleep(ctx.timing.syncIntervalMs);
  }
  await ctx.at.required("ATE0", "at-error");
  await ctx.at.required("AT+CMEE=2", "at-error");
  // AT&D2: DTR on→off hangs up and returns to command mode (V.250 §6.2.9), our second way out of data mode.
  await ctx.at.required("AT&D2", "at-error");
  if (ctx.config.modem.set_baud) await ctx.at.required(`AT+IPR=${ctx.config.modem.baud};&W`, "at-error");
}

export interface ModuleIdentity {
  identity: Omit<ModemIdentity, "imsi" | "iccid">;
  /** The text to pick a profile by (+CGMM, else ATI). */
  model: string | null;
}

/** After sync: ATI / +CGMM / +CGMR / +CGSN. Unanswered queries leave fields null; the caller picks the profile. */
export async function readModuleIdentity(ctx: ModemContext): Promise<ModuleIdentity> {
  const info = async (cmd: string): Promise<string[] | null> => {
    const r = await ctx.at.cmd(cmd);
    return r.status === "ok" ? r.lines : null;
  };
  const ati = await info("ATI");
  const cgmm = await info("AT+CGMM");
  const cgmr = await info("AT+CGMR");
  const cgsn = await info("AT+CGSN");
  const model = cgmm?.[0] ?? ati?.[1] ?? null;
  return {
    identity: {
      manufacturer: ati?.[0] ?? null,
      model,
      firmware: (cgmr?.[0] ?? ati?.find((l) => /^Revision:/i.test(l))?.replace(/^Revision:\s*/i, "")) ?? null,
      imei: cgsn?.find((l) => /^\d{14,17}$/.test(l)) ?? null,
    },
    model: model ?? ati?.join(" ") ?? null,
  };
}

/** Step 2 (SIM): +CPIN? until READY; the configured PIN once; never retry a rejected PIN. Then IMSI and ICCID. */
export async function unlockSim(ctx: ModemContext): Promise<void> {
  const { sim } = ctx;
  if (sim.rejected?.code === "sim-pin-wrong" && ctx.config.modem.pin !== sim.rejectedPin) {
    // The operator corrected modem.pin (SIGHUP): the new PIN gets its one try; the rejected one never again.
    sim.rejected = null;
    sim.pinSent = false;
  }
  if (sim.rejected) throw new StepFailure(sim.rejected.code, sim.rejected.detail);
  const locked = (c: Cause): StepFailure => {
    sim.rejected = c;
    sim.rejectedPin = ctx.config.modem.pin;
    // Remembered across restarts (the state file) so no later process tries it either.
    if (c.code === "sim-pin-wrong" && ctx.config.modem.pin) ctx.pinMemory?.remember(pinFingerprint(ctx.config.modem.pin));
    return new StepFailure(c.code, c.detail);
  };
  const started = ctx.scheduler.now();
  for (;;) {
    const r = await ctx.at.answered("AT+CPIN?");
    let state = r.status === "ok" ? (r.lines.map(parseCpin).find((s) => s !== null) ?? null) : null;
    if (r.status === "cme-error") state = cmeSimState(r.detail);
    if (state === "ready") {
      // The PIN worked. The SIM asks again at every power-up, also after a reboot we did not
      // order (brown-out, firmware watchdog, CFUN=0 on modules that power the SIM down): enter it again then.
      sim.pinSent = false;
      break;
    }
    if (state === "not-inserted") throw new StepFailure("sim-missing", r.detail || "+CPIN: NOT INSERTED");
    // Not remembered: asking +CPIN? costs the SIM nothing, so each slow retry looks again and a SIM a
    // person unlocked with its PUK is picked up without a restart.
    if (state === "sim-puk") throw new StepFailure("sim-puk-required");
    if (state === "sim-pin") {
      const pin = ctx.config.modem.pin;
      if (!pin) throw new StepFailure("sim-pin-required");
      if (isRejectedPin(pin, ctx.pinMemory?.rejected() ?? null)) {
        throw new StepFailure("sim-pin-wrong", "the SIM rejected this PIN before (remembered in recovery.state_file); it is not sent again: set the right modem.pin and reload");
      }
      if (sim.pinSent) throw locked(cause("sim-pin-wrong", "the SIM still asks for a PIN after it was entered"));
      sim.pinSent = true;
      const pr = await ctx.at.cmd(`AT+CPIN="${pin}"`);
      if (pr.status !== "ok") {
        // Wrong PIN (CME 16) or anything else: never try again, each wrong try brings the PUK lock closer.
        throw locked(cause("sim-pin-wrong", isWrongPassword(pr.detail) ? "incorrect password" : `${pr.status} ${pr.detail}`.trim()));
      }
      continue;
    }
    if (ctx.scheduler.now() - started >= ctx.timing.simReadyTimeoutMs) throw new StepFailure("sim-not-ready", state ?? `${r.status} ${r.detail}`.trim());
    await ctx.interrupts.sleep(ctx.timing.simPollMs);
  }
  await readSimIdentity(ctx);
}

/** IMSI and ICCID are only readable with the SIM unlocked. */
async function readSimIdentity(ctx: ModemContext): Promise<void> {
  const cimi = await ctx.at.cmd("AT+CIMI");
  const ccid = await ctx.at.cmd(ctx.profile.id === "generic" ? "AT+CCID" : "AT+QCCID");
  const imsi = cimi.status === "ok" ? (cimi.lines.find((l) => /^\d{6,15}$/.test(l)) ?? null) : null;
  const iccid =
    ccid.status === "ok" ? (ccid.lines.map((l) => l.replace(/^\+Q?CCID:\s*/, "")).find((l) => /^\d{18,22}F?$/i.test(l)) ?? null) : null;
  ctx.facts.setSim(imsi, iccid);
}

/** Step 3 (registration): +CEREG/+CGREG/+CREG with =2 until stat 1 or 5; 3 is denied; back-off is waited out. */
export async function register(ctx: ModemContext): Promise<void> {
  const ch = ctx.at.requireChannel();
  // n=3 adds the EMM reject cause to n=2's TAC and cell id (TS 27.007 §10.1.22); older modems only know 2.
  const n3 = await ctx.at.answered("AT+CEREG=3");
  if (n3.status !== "ok") await ctx.at.cmd("AT+CEREG=2");
  await ctx.at.answered("AT+CGREG=2");
  await ctx.at.answered("AT+CREG=2");
  const started = ctx.scheduler.now();
  let denied: Registration | null = null;
  for (;;) {
    ctx.backoff.throwIfAny();
    const reg = await queryRegistration(ctx.at, ch);
    ctx.backoff.throwIfAny();
    if (reg) {
      ctx.facts.noteRegistration(reg);
      if (reg.stat === 5 && !registrationAllowed(5, ctx.config.radio)) {
        // radio.roaming = "deny": no call while roaming; the supervisor waits and watches for home.
        throw new StepFailure("roaming-denied", `${reg.kind} stat 5 (roaming)`);
      }
      if (isRegistered(reg.stat)) return;
      if (reg.stat === 3) denied = reg;
    }
    if (denied && denied.rejectCause === EMM_CONGESTION) {
      // TS 24.301 §5.5.1.2.5: reject cause #22 comes with T3346; retrying or resetting before it runs out is futile.
      throw new NetworkBackoff(await congestionBackoffSeconds(ctx.at, ctx.profile, ch), `registration rejected with EMM cause 22 (congestion)`);
    }
    if (denied && denied.rejectCause !== null && PERMANENT_EMM_CAUSES.has(denied.rejectCause)) {
      // The network will not take this SIM whatever the modem does: a person must fix the subscription.
      throw new StepFailure("registration-barred", `${denied.kind} stat 3, EMM reject cause ${denied.rejectCause}`);
    }
    if (denied) {
      throw new StepFailure("registration-denied", `${denied.kind} stat 3${denied.rejectCause !== null ? `, reject cause ${denied.rejectCause}` : ""}`);
    }
    if (ctx.scheduler.now() - started >= ctx.timing.registrationTimeoutMs) {
      throw new StepFailure("not-registered", reg ? `${reg.kind} stat ${reg.stat} (${registrationStatus(reg.stat)})` : "no registration answer");
    }
    // A +CEREG URC wakes us early.
    await ctx.interrupts.sleep(ctx.timing.registrationPollMs);
  }
}

/** Best of +CEREG?/+CGREG?/+CREG?: registered beats denied beats searching beats the rest. */
export async function queryRegistration(at: AtCommands, ch: AtChannel): Promise<Registration | null> {
  return bestRegistration((c) => at.answered(c, ch));
}

/**
 * Asks +CEREG?, +CGREG?, +CREG? through `send` and keeps the best answer;
 * `send` answering null stops the round (a quiet poll that got no answer).
 */
export async function bestRegistration(send: (command: string) => Promise<AtResponse | null>): Promise<Registration | null> {
  let best: Registration | null = null;
  const rank = (r: Registration) => (isRegistered(r.stat) ? 3 : r.stat === 3 ? 2 : r.stat === 2 ? 1 : 0);
  for (const c of ["AT+CEREG?", "AT+CGREG?", "AT+CREG?"]) {
    const r = await send(c);
    if (r === null) break;
    if (r.status !== "ok") continue;
    for (const line of r.lines) {
      const reg = parseRegistration(line, true);
      if (reg && (!best || rank(reg) > rank(best))) best = reg;
    }
    if (best && isRegistered(best.stat)) break;
  }
  return best;
}

/** Step 4 (attach): AT+CGATT=1, then AT+CGATT? must read 1 before dialling (the BG77 field report). */
export async function attach(ctx: ModemContext): Promise<void> {
  const started = ctx.scheduler.now();
  if (await isAttached(ctx)) return;
  ctx.backoff.noteResponse(await ctx.at.answered("AT+CGATT=1"));
  ctx.backoff.throwIfAny();
  for (;;) {
    if (await isAttached(ctx)) return;
    ctx.backoff.throwIfAny();
    if (ctx.scheduler.now() - started >= ctx.timing.attachTimeoutMs) {
      throw new StepFailure("not-attached", `AT+CGATT? did not read 1 within ${Math.round(ctx.timing.attachTimeoutMs / 1000)} s`);
    }
    await ctx.interrupts.sleep(ctx.timing.attachPollMs);
  }
}

async function isAttached(ctx: ModemContext): Promise<boolean> {
  const r = await ctx.at.answered("AT+CGATT?");
  return r.status === "ok" && r.lines.some((l) => /^\+CGATT:\s*1\b/.test(l));
}

/** Step 5 (context): the PDP context and the profile's and configured extra init commands, each checked. */
export async function definePdpContext(ctx: ModemContext, apn: string = ctx.config.network.apn): Promise<void> {
  await defineContext(ctx, apn);
  for (const c of [...ctx.profile.init, ...ctx.config.modem.init]) await ctx.at.checked(c, "init-failed");
}

/** AT+CGDCONT for `apn` alone (APN failover redefines the context before the next dial). */
export async function defineContext(ctx: ModemContext, apn: string): Promise<void> {
  const n = ctx.config.network;
  await ctx.at.checked(`AT+CGDCONT=${n.cid},"${n.pdp_type}","${apn}"`, "context-failed");
}

/** Final AT results of a dial that name their own cause (V.250 result codes). */
const DIAL_RESULT_CAUSE: Partial<Record<string, "no-carrier" | "busy" | "no-answer" | "no-dialtone">> = {
  "no-carrier": "no-carrier",
  busy: "busy",
  "no-answer": "no-answer",
  "no-dialtone": "no-dialtone",
};

/**
 * Why the network refused the data call, from AT+CEER (TS 27.007 §6.10; the
 * text is the manufacturer's, so parseCeer reads it loosely): an APN or
 * subscription refusal is a person's to fix, and a session-management
 * back-off (T3396) is waited out. Null when the report names nothing we act on.
 */
async function networkReason(ctx: ModemContext): Promise<Cause | null> {
  const r = await ctx.at.cmd("AT+CEER");
  if (r.status !== "ok") return null;
  const text = r.lines.join(" ");
  ctx.backoff.noteText(text);
  const report = parseCeer(text);
  if (!report || report.esmCause === null) return null;
  const code = esmCauseCode(report.esmCause);
  return code ? cause(code, `ESM cause #${report.esmCause}${report.text ? ` (${report.text})` : ""}`) : null;
}

/** Step 6 (dial): the dial string → CONNECT ("modem.dial"); every other result is a named cause. */
export async function dial(ctx: ModemContext, attempt: number): Promise<void> {
  const dialCmd = ctx.config.network.dial;
  const r = await ctx.at.cmd(dialCmd);
  const report = (c: Cause | null) =>
    ctx.emit({ type: "modem.dial", at: ctx.scheduler.now(), attempt, result: c ? "failed" : "connect", cause: c });
  if (r.status === "connect") return report(null);
  let c: Cause;
  const named = DIAL_RESULT_CAUSE[r.status];
  if (named === "no-carrier") c = (await networkReason(ctx)) ?? cause("no-carrier");
  else if (named) c = cause(named);
  else if (r.status === "timeout") c = (await ctx.at.timeoutCause(r)).causeInfo;
  else if (r.status === "aborted") c = ctx.at.abortedCause(r);
  else {
    ctx.backoff.noteResponse(r);
    c = cause("dial-failed", `${dialCmd}: ${r.status} ${r.detail}`.trim());
  }
  report(c);
  ctx.backoff.throwIfAny();
  throw new StepFailure(c.code, c.detail);
}

/**
 * Leaving data mode (DESIGN.md, vendor procedure): after the bearer's stop
 * (PPP: LCP Terminate) the modem should print NO CARRIER by itself; if not,
 * drop DTR (AT&D2 makes that hang up, V.250 §6.2.9); if the transport has no
 * DTR wire (a pty) or the modem ignores it, "+++" framed by the escape guard
 * time (S12, 1 s) and ATH. Back in command mode, AT must answer.
 */
import type { AtChannel } from "../at/channel.ts";
import type { AtResponse } from "../at/core.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { ModemProfile } from "./profiles.ts";
import type { SupervisorTiming } from "./types.ts";

export type HangupMethod = "no-carrier" | "dtr" | "escape" | "none";

export interface HangupTiming {
  /** Silence before and after "+++". */
  guardMs: number;
  /** Limit for AT / ATH. */
  basicMs: number;
  /** How long to wait for NO CARRIER after the bearer stopped, and after the DTR drop. */
  noCarrierWaitMs: number;
}

/** The supervisor's hang-up timing: its escape guard, the profile's AT limit, 1 s for NO CARRIER. */
export function hangupTiming(t: SupervisorTiming, profile: ModemProfile): HangupTiming {
  return { guardMs: t.escapeGuardMs, basicMs: profile.limits.basic, noCarrierWaitMs: 1_000 };
}

const enc = new TextEncoder();

export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => {
    scheduler.setTimer(scheduler.now() + ms, resolve);
  });
}

/** True once the channel is back in command mode, false if `ms` passed first. */
export function waitDataEnd(ch: AtChannel, scheduler: Scheduler, ms: number): Promise<boolean> {
  if (ch.mode === "command") return Promise.resolve(true);
  return new Promise((resolve) => {
    let cancel: CancelTimer = () => {};
    const off = ch.onDataEnd(() => {
      off();
      cancel();
      resolve(true);
    });
    cancel = scheduler.setTimer(scheduler.now() + ms, () => {
      off();
      resolve(ch.mode === "command");
    });
  });
}

async function pulseDtr(ch: AtChannel, whileLow: () => Promise<unknown>): Promise<boolean> {
  if (!ch.pipe.setLines) return false;
  try {
    await ch.pipe.setLines({ dtr: false });
    await whileLow();
    await ch.pipe.setLines({ dtr: true });
    return true;
  } catch {
    return false; // a pty has no modem lines (ENOTTY)
  }
}

/** "+++" between two guard times, then ATH. */
export async function escapeAndHangUp(ch: AtChannel, scheduler: Scheduler, t: HangupTiming): Promise<AtResponse> {
  await sleep(scheduler, t.guardMs);
  ch.writeRaw(enc.encode("+++"));
  await sleep(scheduler, t.guardMs);
  ch.resumeCommandMode();
  return ch.command("ATH", t.basicMs * 3);
}

/** Brings the channel back to command mode after the bearer has stopped; verifies with AT. */
export async function leaveDataMode(ch: AtChannel, scheduler: Scheduler, t: HangupTiming): Promise<{ method: HangupMethod; verified: boolean }> {
  let method: HangupMethod = "none";
  if (await waitDataEnd(ch, scheduler, t.noCarrierWaitMs)) method = "no-carrier";
  if (ch.mode === "data") {
    let ended = false;
    await pulseDtr(ch, async () => (ended = await waitDataEnd(ch, scheduler, t.noCarrierWaitMs)));
    if (ended) method = "dtr";
  }
  if (ch.mode === "data") {
    await escapeAndHangUp(ch, scheduler, t);
    method = "escape";
  }
  let verified = false;
  for (let i = 0; i < 3 && !verified && ch.pipe.isOpen; i++) {
    verified = (await ch.command("AT", t.basicMs)).status === "ok";
  }
  return { method, verified };
}

/**
 * At start-up the modem may still be in a data call from an earlier run: a
 * DTR pulse and the escape, without knowing whether a call is up at all.
 */
export async function escapeUnknownState(ch: AtChannel, scheduler: Scheduler, t: HangupTiming): Promise<AtResponse> {
  await pulseDtr(ch, () => sleep(scheduler, 200));
  return escapeAndHangUp(ch, scheduler, t);
}

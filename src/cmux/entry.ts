/**
 * Entering the mux on a plain serial line, and bringing back a modem that an
 * earlier run left in CMUX or data mode (kill -9, a crash, the host's power
 * lost while the module kept running):
 *
 *   1. AT sync (AT every 100 ms until OK, bounded).
 *   2. No answer: the modem may still be in CMUX mode. Send the close-down
 *      (CLD in a UIH on DLCI 0, then DISC on DLCI 0) in both the default and
 *      the profile's frame size, wait, sync again.
 *   3. Still none: it may be in a data call. Guard time, "+++", guard time,
 *      ATH, sync again.
 *   4. Still none: cmux-stuck; the supervisor's ladder takes over (resets).
 *   5. ATE0, then the profile's AT+CMUX command: ERROR is cmux-rejected.
 *   6. SABM on DLCI 0 (T1 × N2): no UA is cmux-no-answer.
 *
 * The AT exchange here is deliberately tiny (final result only, no URCs):
 * after it the supervisor's own AT channel runs on the DLCIs.
 */
import { CellkeepError } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { BytePipe } from "../core/pipe.ts";
import { encodeControl } from "./control.ts";
import { encodeFrame } from "./frame.ts";
import { CmuxSession, type CmuxSessionOptions } from "./session.ts";

export interface CmuxEntryOptions extends CmuxSessionOptions {
  /** The profile's command, e.g. AT+CMUX=0,0,5,127. */
  command: string;
  /** Sync: AT every `syncIntervalMs` for at most `syncTimeoutMs` per round. */
  syncIntervalMs?: number;
  syncTimeoutMs?: number;
  /** Escape guard time around "+++" (V.250 S12: 1 s). */
  guardMs?: number;
  /** How long AT+CMUX may take. */
  commandTimeoutMs?: number;
  /** Reported when a left-over mux or call had to be cleared first. */
  onRecovered?: (how: "close-down" | "escape") => void;
}

type Final = "ok" | "error" | null;

/** Scans the line for a final result (OK / ERROR / +CME ERROR), ignoring everything else. */
class FinalScanner {
  private text = "";
  feed(data: Uint8Array): Final {
    this.text = (this.text + new TextDecoder("latin1").decode(data)).slice(-256);
    if (/(^|[\r\n])OK\r\n/.test(this.text)) return "ok";
    if (/(^|[\r\n])(ERROR|\+CME ERROR:[^\r\n]*)\r\n/.test(this.text)) return "error";
    return null;
  }
  reset(): void {
    this.text = "";
  }
}

/** Sends `line` (every `repeatMs` if set) until a final result or `timeoutMs`. */
function exchange(pipe: BytePipe, scheduler: Scheduler, line: string, timeoutMs: number, repeatMs?: number): Promise<Final> {
  const bytes = new TextEncoder().encode(line + "\r");
  const scanner = new FinalScanner();
  return new Promise((resolve) => {
    let done = false;
    const cancels: Array<() => void> = [];
    const end = (r: Final) => {
      if (done) return;
      done = true;
      off();
      offClose();
      for (const c of cancels) c();
      resolve(r);
    };
    const off = pipe.onData((d) => {
      const r = scanner.feed(d);
      if (r) end(r);
    });
    const offClose = pipe.onClose(() => end(null));
    const send = () => {
      if (done) return;
      if (pipe.isOpen) pipe.write(bytes);
      if (repeatMs) cancels.push(scheduler.setTimer(scheduler.now() + repeatMs, send));
    };
    cancels.push(scheduler.setTimer(scheduler.now() + timeoutMs, () => end(null)));
    send();
  });
}

function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.setTimer(scheduler.now() + ms, resolve));
}

/** The close-down a left-over mux understands: CLD, then DISC on DLCI 0 (initiator's C/R). */
export function closeDownBytes(): Uint8Array {
  const cld = encodeFrame({ dlci: 0, cr: true, type: "UIH", pf: false, info: encodeControl("CLD", true) });
  const disc = encodeFrame({ dlci: 0, cr: true, type: "DISC", pf: true, info: new Uint8Array(0) });
  const out = new Uint8Array(cld.length + disc.length);
  out.set(cld);
  out.set(disc, cld.length);
  return out;
}

/** Brings the line to AT command mode, clearing a left-over mux or call; throws cmux-stuck when nothing answers. */
export async function recoverCommandMode(pipe: BytePipe, o: CmuxEntryOptions): Promise<void> {
  const { scheduler } = o;
  const interval = o.syncIntervalMs ?? 100;
  const syncFor = o.syncTimeoutMs ?? 2_000;
  const guard = o.guardMs ?? 1_000;
  if ((await exchange(pipe, scheduler, "AT", syncFor, interval)) !== null) return;
  if (!pipe.isOpen) throw new CellkeepError("port-vanished", "the port closed during AT sync");
  // A mux left open by an earlier run: the module reads our AT as noise. Close it down.
  pipe.write(closeDownBytes());
  await sleep(scheduler, Math.min(guard, 500));
  if ((await exchange(pipe, scheduler, "AT", syncFor, interval)) !== null) {
    o.onRecovered?.("close-down");
    return;
  }
  // A data call left open: the V.250 escape with its guard times, then hang up.
  await sleep(scheduler, guard);
  if (pipe.isOpen) pipe.write(new TextEncoder().encode("+++"));
  await sleep(scheduler, guard);
  await exchange(pipe, scheduler, "ATH", Math.max(syncFor, 1_000));
  if ((await exchange(pipe, scheduler, "AT", syncFor, interval)) !== null) {
    o.onRecovered?.("escape");
    return;
  }
  throw new CellkeepError("cmux-stuck", `no answer to AT after the CMUX close-down and the +++ escape`);
}

/** Steps 1-6: a running CMUX session on `pipe` (DLCI 0 open), or a CellkeepError. */
export async function enterCmux(pipe: BytePipe, o: CmuxEntryOptions): Promise<CmuxSession> {
  await recoverCommandMode(pipe, o);
  await exchange(pipe, o.scheduler, "ATE0", 1_000);
  const r = await exchange(pipe, o.scheduler, o.command, o.commandTimeoutMs ?? 3_000);
  if (r === "error") throw new CellkeepError("cmux-rejected", `${o.command} answered ERROR`);
  if (r === null) throw new CellkeepError("cmux-no-answer", `no answer to ${o.command}`);
  const session = new CmuxSession(pipe, o);
  try {
    await session.start();
  } catch (err) {
    await session.close().catch(() => undefined);
    throw err;
  }
  return session;
}

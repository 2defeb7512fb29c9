/**
 * CMUX wiring (modem.mux = "cmux" | "auto", docs/cmux.md): wraps the port
 * openers so that the supervisor's "port" is the data DLCI and its "control
 * port" the AT DLCI of one 27.010 session on the single serial line. The
 * supervisor needs no change: its sync, registration and dial run on the
 * data DLCI, its polling and URCs on the control DLCI, and a module reset
 * (which ends the mux) closes the data pipe, so the next bring-up reopens
 * the port and enters the mux again. It also hands out the carrier watch
 * (DCD per MSC) for the bearer and reports the mux's faults.
 */
import type { Config } from "../config/schema.ts";
import { CellkeepError, type Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { CmuxEvent } from "../core/agent-events.ts";
import type { EventBase } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { CarrierWatch } from "../bearer/carrier-watch.ts";
import { enterCmux } from "../cmux/entry.ts";
import { MuxPcapFile, muxPcapPath } from "../cmux/pcap.ts";
import type { CmuxSession, CmuxWatchOptions } from "../cmux/session.ts";
import { StepFailure } from "../modem/failures.ts";
import { cmuxCommand, resolveProfile } from "../modem/profiles.ts";

export interface MuxPorts {
  openPort: () => Promise<BytePipe>;
  openControlPort: () => Promise<BytePipe | null>;
  /** True when a separate control port exists (modem.mux = "auto" then stays plain). */
  hasControlPort?: () => boolean;
}

export interface MuxWiringDeps {
  config: () => Config;
  scheduler: Scheduler;
  log: Logger;
  emit: (e: EventBase) => void;
  /** Faults of the running mux (cmux-dlci-silent, cmux-frame-errors): the supervisor's linkLost. */
  onFault: (c: Cause) => void;
  /** Time-scaled tests: the watch limits and the entry's guard time. */
  watch?: Partial<CmuxWatchOptions>;
  guardMs?: number;
  /** Every frame, both ways (modem.pcap for CMUX, link type 236). */
  trace?: (dir: "in" | "out", raw: Uint8Array, at: number) => void;
}

export interface MuxWiring extends MuxPorts {
  /** The running session, null when none (plain port, or between sessions). */
  session(): CmuxSession | null;
  /** DCD of the data DLCI, for the bearer (null without a mux). */
  carrier(): CarrierWatch | null;
}

export function wireMux(plain: MuxPorts, d: MuxWiringDeps): MuxWiring {
  let current: CmuxSession | null = null;
  /** "auto" found that the modem refuses AT+CMUX: plain ports from then on (this process). */
  let refused = false;

  const wanted = (): boolean => {
    const mode = d.config().modem.mux;
    if (mode === "none" || refused) return false;
    if (mode === "cmux") return true;
    return !(plain.hasControlPort?.() ?? false) && profile().cmux !== null;
  };
  const profile = () => resolveProfile(d.config().modem.profile, null);

  async function openPort(): Promise<BytePipe> {
    if (current) {
      // A new port open means the old session is over for the supervisor.
      const old = current;
      current = null;
      await old.close().catch(() => undefined);
    }
    const serial = await plain.openPort();
    if (!wanted()) return serial;
    const config = d.config();
    const p = profile();
    const mux = p.cmux!;
    const command = cmuxCommand(mux, config.modem.baud);
    // With ppp.pcap set, the mux's frames go next to it (link type 236), payloads zeroed (cmux/pcap.ts).
    let pcap: MuxPcapFile | null = null;
    if (config.ppp.pcap && !d.trace) {
      try {
        pcap = new MuxPcapFile(muxPcapPath(config.ppp.pcap));
      } catch (err) {
        d.log.warn("CMUX pcap not written", { error: (err as Error).message });
      }
    }
    const trace = d.trace ?? (pcap ? (dir: "in" | "out", raw: Uint8Array, at: number) => pcap!.record(dir, raw, at) : undefined);
    let session: CmuxSession;
    try {
      session = await enterCmux(serial, {
        scheduler: d.scheduler,
        command,
        params: { role: "initiator", maxFrame: mux.frameSize, t1Ms: mux.t1Ms, n2: mux.n2, t2Ms: mux.t2Ms },
        log: d.log,
        emit: d.emit,
        bootUrc: p.bootUrc ?? "RDY",
        primaryDlci: mux.dataDlci,
        uses: { [mux.controlDlci]: "control", [mux.dataDlci]: "data" },
        ...(d.watch ? { watch: d.watch } : {}),
        ...(d.guardMs !== undefined ? { guardMs: d.guardMs } : {}),
        ...(trace ? { trace } : {}),
        onRecovered: (how) => {
          d.log.warn(`the modem was left in ${how === "close-down" ? "CMUX" : "data"} mode by an earlier run; brought back`, { how });
          const e: CmuxEvent = { type: "cmux.recovered", at: d.scheduler.now(), state: "entering", frameSize: mux.frameSize, dlcis: [], counts: zeroCounts(), cause: null, detail: how };
          d.emit(e);
        },
      });
    } catch (err) {
      if (err instanceof CellkeepError && err.causeInfo.code === "cmux-rejected" && config.modem.mux === "auto" && serial.isOpen) {
        d.log.warn("the modem refused AT+CMUX; modem.mux = \"auto\" stays on the plain port", { command });
        refused = true;
        pcap?.close();
        return serial;
      }
      pcap?.close();
      if (serial.isOpen) await serial.close().catch(() => undefined);
      throw final(err);
    }
    session.onFault((c) => d.onFault(c));
    session.onEnd(() => {
      pcap?.close();
      if (current === session) current = null;
    });
    try {
      const data = await session.channel(mux.dataDlci, { primary: true });
      current = session;
      return data;
    } catch (err) {
      await session.close().catch(() => undefined);
      throw final(err);
    }
  }

  async function openControlPort(): Promise<BytePipe | null> {
    const s = current;
    if (!s) return wanted() ? null : plain.openControlPort();
    try {
      return await s.channel(profile().cmux!.controlDlci);
    } catch (err) {
      d.log.warn("the CMUX control channel did not open; signal is polled on the data channel between calls", { error: (err as Error).message });
      return null;
    }
  }

  return {
    openPort,
    openControlPort,
    session: () => current,
    carrier: () => {
      const s = current;
      if (!s) return null;
      const dlci = profile().cmux!.dataDlci;
      return {
        onCarrierLost(fn) {
          // Armed once the module said DCD is on for this call; a drop after that is the carrier gone.
          let on = s.signals(dlci)?.dv === true;
          return s.onSignals((which, sig) => {
            if (which !== dlci) return;
            if (sig.dv) on = true;
            else if (on) {
              on = false;
              fn(`DCD dropped on DLCI ${dlci} (MSC)`);
            }
          });
        },
      };
    },
  };
}

/**
 * The port opened and the module answered (or failed to) at the mux level: a
 * refused AT+CMUX, DM or no UA to SABM, nothing after the close-down and the
 * escape. Waiting for the port to come back cannot change that, so the
 * supervisor ends the bring-up with the cause at once (a StepFailure) and the
 * ladder treats it by its class; a port that really closed stays retryable.
 */
function final(err: unknown): unknown {
  if (err instanceof CellkeepError && !(err instanceof StepFailure) && err.causeInfo.code.startsWith("cmux-")) return new StepFailure(err.causeInfo.code, err.causeInfo.detail);
  return err;
}

function zeroCounts() {
  return { framesIn: 0, framesOut: 0, badFcs: 0, garbageBytes: 0, malformed: 0, oversize: 0, retransmissions: 0, unexpected: 0, badControl: 0 };
}

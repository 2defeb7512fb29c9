/**
 * The virtual modem's CMUX side (3GPP TS 27.010 basic option, responder
 * role), in front of ModemCore: in plain mode it passes the line through and
 * takes AT+CMUX itself; in mux mode DLCI 2 is the modem's main port (the
 * whole AT personality, the dial and PPP) and every other DLCI a small AT
 * port that answers the polling commands (AT+CSQ, +QCSQ, +QNWINFO, +COPS?,
 * +CEREG?...) from the same radio and carries the URCs (Quectel's
 * AT+QCFG="cmux/urcport" behaviour: URCs go to DLCI 1 once it is open).
 *
 * Scenarios (simulator names, besides the modem's own):
 *   cmux               accept AT+CMUX (the rest imply it)
 *   cmux-reject        AT+CMUX answers ERROR
 *   cmux-no-ua         accept AT+CMUX, never answer SABM
 *   cmux-dm            accept AT+CMUX and DLCI 0, answer DM to SABM on the data DLCI
 *   cmux-stuck         start already in mux mode (left there by an earlier run)
 *   cmux-at-silent:S   S seconds after CONNECT, the AT DLCIs stop answering (PPP keeps flowing)
 *   cmux-dcd-drop:S    S seconds after CONNECT, MSC with DCD off on DLCI 2 (once)
 *   cmux-garbage:S     every S seconds, noise and a frame with a bad FCS between frames
 * A reboot or power cycle leaves mux mode, as on a real module.
 */
import { CellkeepError } from "../core/cause.ts";
import { SIGNALS_READY } from "../cmux/control.ts";
import { CmuxCore } from "../cmux/core.ts";
import { encodeFrame } from "../cmux/frame.ts";
import { ChannelSettings } from "./at-responses.ts";
import type { ModemCore } from "./modem-core.ts";
import type { ScenarioSpec } from "./scenario.ts";

export const CMUX_SCENARIOS = ["cmux", "cmux-reject", "cmux-no-ua", "cmux-dm", "cmux-stuck", "cmux-at-silent", "cmux-dcd-drop", "cmux-garbage"] as const;

export interface CmuxFaults {
  reject: boolean;
  noUa: boolean;
  dmData: boolean;
  stuck: boolean;
  atSilentAfterMs: number | null;
  dcdDropAfterMs: number | null;
  garbageEveryMs: number | null;
}

/** The DLCI behind which the whole modem (dial, PPP) sits. */
export const SIM_DATA_DLCI = 2;

/**
 * Takes the cmux* names out of a scenario list: the faults (null when CMUX is
 * not asked for) and the rest for resolveBehaviour. `timeScale` as the modem's.
 */
export function splitCmuxScenarios(items: readonly (string | ScenarioSpec)[], timeScale = 1): { faults: CmuxFaults | null; rest: (string | ScenarioSpec)[] } {
  const rest: (string | ScenarioSpec)[] = [];
  let faults: CmuxFaults | null = null;
  const f = (): CmuxFaults => (faults ??= { reject: false, noUa: false, dmData: false, stuck: false, atSilentAfterMs: null, dcdDropAfterMs: null, garbageEveryMs: null });
  for (const item of items) {
    if (typeof item !== "string") {
      rest.push(item);
      continue;
    }
    const [name, value] = item.split(":", 2).map((s) => s.trim());
    if (!name || !name.startsWith("cmux")) {
      rest.push(item);
      continue;
    }
    const secs = (dflt: number) => {
      const v = value === undefined || value === "" ? dflt : Number(value);
      if (!Number.isFinite(v) || v < 0) throw new CellkeepError("config-invalid", `scenario "${item}": expected seconds`);
      return Math.max(1, Math.round(v * 1000 * timeScale));
    };
    switch (name) {
      case "cmux":
        f();
        break;
      case "cmux-reject":
        f().reject = true;
        break;
      case "cmux-no-ua":
        f().noUa = true;
        break;
      case "cmux-dm":
        f().dmData = true;
        break;
      case "cmux-stuck":
        f().stuck = true;
        break;
      case "cmux-at-silent":
        f().atSilentAfterMs = secs(10);
        break;
      case "cmux-dcd-drop":
        f().dcdDropAfterMs = secs(10);
        break;
      case "cmux-garbage":
        f().garbageEveryMs = secs(2);
        break;
      default:
        throw new CellkeepError("config-invalid", `unknown simulator scenario "${name}"; CMUX ones: ${CMUX_SCENARIOS.join(", ")}`);
    }
  }
  return { faults, rest };
}

const CMUX_PREFIX = "AT+CMUX=";

/** A small AT port on a DLCI other than the data one: polling commands and URCs. */
class AuxPort {
  private line = "";
  /** This port's own E/V/Q/+CMEE settings, as a second AT port of the module has. */
  private readonly settings = new ChannelSettings();
  private now = 0;
  constructor(
    private readonly modem: ModemCore,
    private readonly reply: (text: string) => void,
  ) {}
  input(data: Uint8Array, now: number): void {
    this.now = now;
    for (const b of data) {
      if (b === 0x0d) {
        const cmd = this.line.trim();
        this.line = "";
        if (cmd !== "") this.reply(this.answer(cmd));
      } else if (b !== 0x0a && this.line.length < 512) {
        this.line += String.fromCharCode(b);
      }
    }
  }
  private answer(cmd: string): string {
    const u = cmd.toUpperCase();
    // Settings and the polling queries only: the dial and everything that changes the module stay on the AT/data DLCI.
    if (u === "AT") return "\r\nOK\r\n";
    const polling = /^AT(E[01]|V1|Q0|&C1|&D[012]|\+CMEE=\d|\+CSQ|\+QCSQ|\+QNWINFO|\+COPS\?|\+C(E|G)?REG\?)$/.test(u);
    const r = polling ? this.modem.auxCommand(cmd.slice(2), this.settings, this.now) : { kind: "error" as const };
    const info = "info" in r && r.info ? r.info.map((l) => `\r\n${l}`).join("") + "\r\n" : "";
    const final = r.kind === "ok" ? "OK" : r.kind === "cme" ? `+CME ERROR: ${r.code}` : "ERROR";
    return `${info}\r\n${final}\r\n`;
  }
}

export class CmuxResponder {
  private mux: CmuxCore | null = null;
  private readonly aux = new Map<number, AuxPort>();
  private out: Uint8Array[] = [];
  /** Plain mode: the bytes of a line that may be AT+CMUX=..., held back from the modem. */
  private held = "";
  private lineStart = true;
  private boots: number;
  private connectedAt: number | null = null;
  private dcdDropped = false;
  private nextGarbageAt: number | null = null;
  private seed = 0x2f6b;
  private readonly enc = new TextEncoder();
  /** Times the modem entered mux mode, and close-downs it took (tests, demo). */
  readonly stats = { entered: 0, closedDown: 0, leftByReboot: 0 };

  constructor(
    private readonly modem: ModemCore,
    readonly faults: CmuxFaults,
    now: number,
  ) {
    this.boots = modem.counters.boots;
    modem.urcTap = (text) => this.takeUrc(text);
    if (faults.stuck) {
      // As an earlier host left it: in mux mode with DLCI 0, 1 and 2 open.
      this.enter(127, now);
      for (const dlci of [0, 1, SIM_DATA_DLCI]) this.mux!.receive(encodeFrame({ dlci, cr: true, type: "SABM", pf: true, info: new Uint8Array(0) }), now);
      this.mux!.takeOutput();
    }
  }

  get inMux(): boolean {
    return this.mux !== null;
  }

  /** Bytes from the DTE. */
  input(data: Uint8Array, now: number): void {
    this.noticeReboot();
    this.lastNow = now;
    if (this.mux) {
      this.mux.receive(data, now);
      // cmux-no-ua: the module's mux never says a word.
      if (this.faults.noUa) this.mux?.takeOutput();
      this.afterMux(now);
      return;
    }
    this.plainInput(data, now);
  }

  /** The modem's output for the line: framed on the data DLCI in mux mode, plus our own. */
  output(fromModem: Uint8Array, now: number): Uint8Array {
    this.noticeReboot();
    if (fromModem.length > 0) {
      if (this.mux) {
        if (this.mux.state(SIM_DATA_DLCI) === "open") this.mux.send(SIM_DATA_DLCI, fromModem);
      } else {
        this.out.push(fromModem);
      }
    }
    this.watchCall(now);
    if (this.mux) this.afterMux(now);
    return this.take();
  }

  poll(now: number): void {
    this.noticeReboot();
    if (!this.mux) return;
    this.mux.tick(now);
    this.watchCall(now);
    if (this.nextGarbageAt !== null && now >= this.nextGarbageAt) {
      this.out.push(this.garbage());
      this.nextGarbageAt = now + this.faults.garbageEveryMs!;
    }
    this.afterMux(now);
  }

  nextDeadline(): number | null {
    if (!this.mux) return null;
    const c = [this.mux.nextDeadline(), this.nextGarbageAt];
    if (this.connectedAt !== null && this.faults.dcdDropAfterMs !== null && !this.dcdDropped) c.push(this.connectedAt + this.faults.dcdDropAfterMs);
    const d = c.filter((x): x is number => x !== null);
    return d.length ? Math.min(...d) : null;
  }

  // ───────────────────────────── plain mode ─────────────────────────────

  private plainInput(data: Uint8Array, now: number): void {
    const m = this.modem;
    if (m.powerState !== "on" || m.isHung || m.modeState !== "command") {
      this.flushHeld(now);
      m.input(data, now);
      return;
    }
    let pass: number[] = [];
    for (const b of data) {
      const ch = String.fromCharCode(b).toUpperCase();
      if (b === 0x0d && this.held.toUpperCase().startsWith(CMUX_PREFIX)) {
        if (pass.length) m.input(Uint8Array.from(pass), now);
        pass = [];
        this.atCmux(this.held, now);
        this.held = "";
        this.lineStart = true;
        continue;
      }
      const candidate = this.held + ch;
      if ((this.held !== "" || this.lineStart) && (CMUX_PREFIX.startsWith(candidate.toUpperCase()) || candidate.toUpperCase().startsWith(CMUX_PREFIX))) {
        this.held += String.fromCharCode(b);
        continue;
      }
      if (this.held) {
        for (const c of this.held) pass.push(c.charCodeAt(0));
        this.held = "";
      }
      pass.push(b);
      this.lineStart = b === 0x0d || b === 0x0a;
    }
    if (pass.length) m.input(Uint8Array.from(pass), now);
  }

  private flushHeld(now: number): void {
    if (!this.held) return;
    const h = this.held;
    this.held = "";
    this.modem.input(this.enc.encode(h), now);
  }

  private atCmux(line: string, now: number): void {
    if (this.faults.reject) {
      this.out.push(this.enc.encode("\r\nERROR\r\n"));
      return;
    }
    // AT+CMUX=<mode>,<subset>,<port_speed>,<N1>,...: mode 0 (basic) only; N1 default 31.
    const args = line.slice(CMUX_PREFIX.length).split(",").map((s) => s.trim());
    const n1 = args[3] ? Number(args[3]) : 31;
    if (args[0] !== "0" || !Number.isInteger(n1) || n1 < 1 || n1 > 32768) {
      this.out.push(this.enc.encode("\r\nERROR\r\n"));
      return;
    }
    this.out.push(this.enc.encode("\r\nOK\r\n"));
    this.enter(n1, now);
  }

  // ───────────────────────────── mux mode ─────────────────────────────

  private enter(n1: number, now: number): void {
    this.lastNow = now;
    this.stats.entered++;
    this.connectedAt = null;
    this.dcdDropped = false;
    this.nextGarbageAt = this.faults.garbageEveryMs !== null ? now + this.faults.garbageEveryMs : null;
    this.mux = new CmuxCore(
      { role: "responder", maxFrame: n1 },
      {
        data: (dlci, data) => {
          if (dlci === SIM_DATA_DLCI) this.modem.input(data, this.lastNow);
          else this.auxPort(dlci).input(data, this.lastNow);
        },
        opened: (dlci) => {
          if (dlci !== 0) this.mux?.sendSignals(dlci, { ...SIGNALS_READY, dv: false }, this.lastNow);
        },
        closeDown: () => this.leave("close-down"),
        refuse: (dlci) => this.faults.dmData && dlci === SIM_DATA_DLCI,
      },
    );
  }

  private leave(why: "close-down" | "reboot"): void {
    if (!this.mux) return;
    // What the mux still had to say (the CLD answer) goes out before plain mode.
    this.out.push(this.mux.takeOutput());
    this.mux = null;
    this.aux.clear();
    this.connectedAt = null;
    this.nextGarbageAt = null;
    if (why === "close-down") this.stats.closedDown++;
    else this.stats.leftByReboot++;
  }

  private auxPort(dlci: number): AuxPort {
    let p = this.aux.get(dlci);
    if (!p) {
      p = new AuxPort(this.modem, (text) => {
        if (this.auxSilent()) return;
        this.mux?.send(dlci, this.enc.encode(text));
      });
      this.aux.set(dlci, p);
    }
    return p;
  }

  private auxSilent(): boolean {
    return this.faults.atSilentAfterMs !== null && this.connectedAt !== null && this.lastNow >= this.connectedAt + this.faults.atSilentAfterMs;
  }

  private lastNow = 0;

  /** CONNECT on the data DLCI: DCD on (MSC); the call's faults count from here. */
  private watchCall(now: number): void {
    this.lastNow = now;
    const mux = this.mux;
    if (!mux) return;
    const inCall = this.modem.modeState !== "command";
    if (inCall && this.connectedAt === null && mux.state(SIM_DATA_DLCI) === "open") {
      this.connectedAt = now;
      mux.sendSignals(SIM_DATA_DLCI, SIGNALS_READY, now);
    } else if (!inCall && this.connectedAt !== null) {
      this.connectedAt = null;
      this.dcdDropped = false;
      mux.sendSignals(SIM_DATA_DLCI, { ...SIGNALS_READY, dv: false }, now);
    }
    if (this.connectedAt !== null && this.faults.dcdDropAfterMs !== null && !this.dcdDropped && now >= this.connectedAt + this.faults.dcdDropAfterMs) {
      this.dcdDropped = true;
      mux.sendSignals(SIM_DATA_DLCI, { ...SIGNALS_READY, dv: false }, now);
    }
  }

  /** URCs go to the first open AT DLCI other than the data one (the urc port), if any. */
  private takeUrc(text: string): boolean {
    this.noticeReboot();
    const mux = this.mux;
    if (!mux) return false;
    for (const dlci of mux.dlcis()) {
      if (dlci === 0 || dlci === SIM_DATA_DLCI || mux.state(dlci) !== "open") continue;
      if (!this.auxSilent()) mux.send(dlci, this.enc.encode(`\r\n${text}\r\n`));
      return true;
    }
    return false;
  }

  /** A reboot or power cycle leaves the mux (the module starts in plain AT mode). */
  private noticeReboot(): void {
    const b = this.modem.counters.boots;
    const down = this.modem.powerState !== "on";
    if (b === this.boots && !down) return;
    this.boots = b;
    if (this.mux) {
      this.mux = null;
      this.aux.clear();
      this.connectedAt = null;
      this.nextGarbageAt = null;
      this.stats.leftByReboot++;
    }
  }

  private afterMux(now: number): void {
    this.lastNow = now;
    if (this.mux) this.out.push(this.mux.takeOutput());
  }

  /** Line noise: random octets (no flag) and a UIH on the data DLCI whose FCS is wrong. */
  private garbage(): Uint8Array {
    const noise: number[] = [];
    for (let i = 0; i < 8; i++) {
      this.seed = (this.seed * 1103515245 + 12345) & 0x7fffffff;
      const b = (this.seed >> 16) & 0xff;
      noise.push(b === 0xf9 ? 0x00 : b);
    }
    const bad = encodeFrame({ dlci: SIM_DATA_DLCI, cr: false, type: "UIH", pf: false, info: this.enc.encode("noise") });
    bad[bad.length - 2] = bad[bad.length - 2]! ^ 0x5a;
    return Uint8Array.from([...noise, ...bad]);
  }

  private take(): Uint8Array {
    const parts = this.out.filter((p) => p.length > 0);
    this.out = [];
    if (parts.length === 0) return new Uint8Array(0);
    if (parts.length === 1) return parts[0]!;
    const n = parts.reduce((s, p) => s + p.length, 0);
    const all = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  }
}

/**
 * The shape of the virtual modem's AT personality: a table from command name
 * ("E", "&D", "D", "+CGATT") to a handler. A handler gets the parsed command,
 * what it may see and change of the modem (AtContext) and the time, and
 * returns the command's result as data; the interpreter (at-interpreter.ts)
 * turns results into response text. Handlers do no I/O and arm no timers
 * themselves: a command that answers later says so in its result (`later`,
 * with a timeout), the radio model arms its own timers.
 *
 * The handlers are grouped by area, one file each (basic.ts, identity.ts,
 * sim.ts, network.ts, packet.ts, call.ts, quectel.ts); index.ts puts the
 * groups together.
 */
import type { ChannelSettings } from "../at-responses.ts";
import { type CmdResult, type ParsedCommand, parseCommand } from "../at-syntax.ts";
import type { SimMode } from "../events.ts";
import type { PdnModel } from "../pdn.ts";
import type { PdpContexts } from "../pdp.ts";
import { CME, type ModelText } from "../quectel-text.ts";
import type { RadioModel } from "../radio.ts";
import type { SimBehaviour } from "../scenario.ts";
import type { SimSms } from "../sms-store.ts";

/** What the commands that steer a data call (ATD's mode check, ATH, ATO, AT+CGACT?) see of it. */
export interface CallControl {
  readonly mode: SimMode;
  /** A call is up behind this channel (in data or online-command mode). */
  readonly inCall: boolean;
  /** The call's IP layer is up (IPCP open). */
  readonly ipUp: boolean;
  /** ATH in online-command mode: the call ends (no NO CARRIER: ATH's own OK answers). */
  hangUp(now: number): void;
  /** ATO: back to data mode. */
  resume(now: number): void;
}

/** What a command handler may read and change of the modem. */
export interface AtContext {
  /** Timings (attach limit, power-down time) and the emulated model. */
  readonly behaviour: SimBehaviour;
  readonly model: ModelText;
  /** This channel's E/V/Q/&D/+CMEE/+IPR settings. */
  readonly settings: ChannelSettings;
  /** SIM, CFUN, registration, attach. */
  readonly radio: RadioModel;
  readonly contexts: PdpContexts;
  /** Whether the network accepts a call; the AT+CEER report. */
  readonly pdn: PdnModel;
  readonly call: CallControl;
  /** SMS storage, text-mode settings and the network's clock (sms-store.ts). */
  readonly sms: SimSms;
}

export type CommandHandler = (cmd: ParsedCommand, modem: AtContext, now: number) => CmdResult;
/** Handlers of one area, by command name (upper case, "+" included for extended commands). */
export type CommandGroup = Readonly<Record<string, CommandHandler>>;
export type CommandTable = ReadonlyMap<string, CommandHandler>;

/** One table from groups. Names are unique across groups (test/sim/commands.test.ts checks it). */
export function commandTable(...groups: readonly CommandGroup[]): CommandTable {
  const table = new Map<string, CommandHandler>();
  for (const group of groups) for (const [name, handler] of Object.entries(group)) table.set(name, handler);
  return table;
}

/** Run one command, as splitCommands cut it from a line, through the table: ERROR for what the table does not know. */
export function runCommand(table: CommandTable, cmd: string, modem: AtContext, now: number): CmdResult {
  const parsed = parseCommand(cmd);
  const handler = parsed && table.get(parsed.name);
  if (!parsed || !handler) return { kind: "error" };
  return handler(parsed, modem, now);
}

export const ok = (info?: string[]): CmdResult => (info ? { kind: "ok", info } : { kind: "ok" });
export const error = (): CmdResult => ({ kind: "error" });
export const cme = (code: number): CmdResult => ({ kind: "cme", code });
export const badParameters = (): CmdResult => cme(CME.incorrectParameters);
export const noCarrier = (): CmdResult => ({ kind: "final", text: "NO CARRIER" });

/** A setting the module accepts and the simulation does not model: OK in every form. */
export const accepted: CommandHandler = () => ok();

/** Argument `i` of a set command as a whole number, or null. */
export function numArg(cmd: ParsedCommand, i: number): number | null {
  const a = cmd.args[i];
  return a !== undefined && /^\d+$/.test(a) ? Number(a) : null;
}

/** A basic command's number: ATE1 → 1, ATE → 0. */
export function basicNumber(cmd: ParsedCommand): number {
  return cmd.rest === "" ? 0 : Number(cmd.rest);
}

/**
 * Radio configuration of the Quectel modules (BG96 / BG95 AT Commands
 * Manuals): AT+QCFG "nwscanseq", "nwscanmode", "iotopmode", "band" and
 * "roamservice", kept in NVRAM (radio-nvram.ts) and counted when written; the
 * other AT+QCFG settings are accepted without being modelled. AT+QDSIM picks
 * the SIM slot on modules with two (scenario dual-sim); single-slot modules
 * answer ERROR, as a BG96 does. The scenario radio-refuse makes one setting
 * fail (+CME ERROR: 4) or be silently kept (OK, old value).
 */
import type { ParsedCommand } from "../at-syntax.ts";
import { CME } from "../quectel-text.ts";
import type { RadioNvram } from "../radio-nvram.ts";
import { type AtContext, type CommandGroup, type CommandHandler, badParameters, cme, error, numArg, ok } from "./table.ts";

const hex = (n: bigint) => `0x${n.toString(16)}`;

function parseHex(s: string | undefined): bigint | null {
  if (s === undefined) return null;
  const m = /^(?:0x)?([0-9a-f]{1,32})$/i.exec(s.trim());
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** One modelled AT+QCFG setting: its read line, and the write of its arguments (false: bad parameters). */
interface QcfgSetting {
  read(nv: RadioNvram): string;
  write(nv: RadioNvram, args: readonly string[]): boolean;
}

const oneOfNumbers = (allowed: readonly number[], key: "nwscanmode" | "iotopmode" | "roamservice"): QcfgSetting => ({
  read: (nv) => `${nv[key]}`,
  write: (nv, args) => {
    const v = args[0];
    if (v === undefined || !/^\d+$/.test(v) || !allowed.includes(Number(v))) return false;
    nv[key] = Number(v);
    return true;
  },
});

const QCFG: Readonly<Record<string, QcfgSetting>> = {
  nwscanseq: {
    read: (nv) => nv.nwscanseq,
    write: (nv, args) => {
      const v = args[0];
      if (v === undefined || !/^(0[0-3])+$/.test(v)) return false;
      nv.nwscanseq = v;
      return true;
    },
  },
  nwscanmode: oneOfNumbers([0, 1, 3], "nwscanmode"),
  iotopmode: oneOfNumbers([0, 1, 2], "iotopmode"),
  roamservice: oneOfNumbers([1, 2, 255], "roamservice"),
  band: {
    read: (nv) => `${hex(nv.band.gsm)},${hex(nv.band.catm1)},${hex(nv.band.nb)}`,
    write: (nv, args) => {
      const [gsm, catm1, nb] = [parseHex(args[0]), parseHex(args[1]), parseHex(args[2])];
      // A mask of 0 would leave the radio no band at all: the module refuses it.
      if (gsm === null || catm1 === null || nb === null || catm1 === 0n || nb === 0n) return false;
      nv.band = { gsm, catm1, nb };
      return true;
    },
  },
};

/** Arguments after the name, without the trailing <effect> (1 = at once; the simulation always applies at once). */
function valueArgs(name: string, args: readonly string[]): string[] {
  const rest = args.slice(1);
  const arity = name === "band" ? 3 : 1;
  return rest.slice(0, arity);
}

const qcfg: CommandHandler = (cmd: ParsedCommand, m: AtContext) => {
  if (cmd.form === "test") return ok(['+QCFG: "nwscanseq",(00-03),(0,1)', '+QCFG: "nwscanmode",(0,1,3),(0,1)', '+QCFG: "iotopmode",(0-2),(0,1)', '+QCFG: "roamservice",(1,2,255),(0,1)']);
  if (cmd.form !== "set") return error();
  const name = (cmd.args[0] ?? "").toLowerCase();
  const setting = QCFG[name];
  // Settings the simulation does not model (urc/port, apready...) are accepted as before.
  if (!setting) return ok();
  const nv = m.radio.nv;
  if (cmd.args.length === 1) return ok([`+QCFG: "${name}",${setting.read(nv)}`]);
  const refusal = m.behaviour.radioRefuse.find((r) => r.name === name);
  if (refusal?.how === "error") return cme(CME.operationNotSupported);
  if (refusal?.how === "ignore") return ok();
  if (!setting.write(nv, valueArgs(name, cmd.args))) return badParameters();
  nv.writes++;
  return ok();
};

/** AT+QDSIM? / AT+QDSIM=<0|1>: the slot is taken at the next CFUN=1 or boot. */
const qdsim: CommandHandler = (cmd, m) => {
  if (!m.radio.dualSim) return error();
  if (cmd.form === "read") return ok([`+QDSIM: ${m.radio.nv.qdsim}`]);
  if (cmd.form === "test") return ok(["+QDSIM: (0,1)"]);
  if (cmd.form !== "set") return error();
  const v = numArg(cmd, 0);
  if (v === null || v > 1) return badParameters();
  if (v !== m.radio.nv.qdsim) {
    m.radio.nv.qdsim = v;
    m.radio.nv.writes++;
  }
  return ok();
};

export const RADIO_CONFIG_COMMANDS: CommandGroup = {
  "+QCFG": qcfg,
  "+QDSIM": qdsim,
};

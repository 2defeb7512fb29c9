/**
 * V.250 basic commands and the channel settings they change (echo, result
 * code form, DTR behaviour, S-registers), +CMEE and +IPR, and general
 * settings the module accepts without the simulation modelling them.
 */
import { sRegister } from "../at-syntax.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, basicNumber, error, numArg, ok } from "./table.ts";

/** ATZ / AT&F: settings back to their defaults, registration URCs off. */
const factoryDefaults: CommandHandler = (_cmd, m) => {
  m.settings.reset();
  m.radio.resetUrcModes();
  return ok();
};

export const BASIC_COMMANDS: CommandGroup = {
  E: (cmd, m) => {
    const n = basicNumber(cmd);
    if (n !== 0 && n !== 1) return error();
    m.settings.echo = n === 1;
    return ok();
  },
  V: (cmd, m) => {
    const n = basicNumber(cmd);
    if (n !== 0 && n !== 1) return error();
    m.settings.verbose = n === 1;
    return ok();
  },
  Q: (cmd, m) => {
    m.settings.quiet = basicNumber(cmd) === 1;
    return ok();
  },
  Z: factoryDefaults,
  "&F": factoryDefaults,
  "&W": accepted,
  X: accepted,
  "&C": accepted,
  "&D": (cmd, m) => {
    const n = basicNumber(cmd);
    if (!(n >= 0 && n <= 2)) return error();
    m.settings.andD = n;
    return ok();
  },
  S: (cmd) => {
    if (/^\d+\?$/.test(cmd.rest)) return ok([sRegister(Number(cmd.rest.slice(0, -1)))]);
    if (/^\d+=\d+$/.test(cmd.rest)) return ok();
    return error();
  },
  "+CMEE": (cmd, m) => {
    if (cmd.form === "read") return ok([`+CMEE: ${m.settings.cmee}`]);
    if (cmd.form === "test") return ok(["+CMEE: (0-2)"]);
    if (cmd.form === "set") {
      const v = numArg(cmd, 0);
      if (v === null || v > 2) return badParameters();
      m.settings.cmee = v;
    }
    return ok();
  },
  "+IPR": (cmd, m) => {
    if (cmd.form === "read") return ok([`+IPR: ${m.settings.ipr}`]);
    if (cmd.form === "set") {
      const v = numArg(cmd, 0);
      if (v === null) return badParameters();
      m.settings.ipr = v;
    }
    return ok();
  },
  // Flow control: accepted, not modelled. (Character set, SMS format and the clock: sms.ts, clock.ts.)
  "+IFC": accepted,
};

/**
 * Radio and network registration (27.007 §8.2, §7.2, §10.1.19, §10.1.22,
 * §7.3, §8.5): functionality level, registration state and its URC modes,
 * operator, signal quality; power-saving settings are accepted, not modelled.
 */
import { ACT_CATM1, CELL_SIGNAL, OPERATOR_NAME, PLMN, rssiIndex } from "../quectel-text.ts";
import type { RegCommand } from "../radio.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, error, ok } from "./table.ts";

const cfun: CommandHandler = (cmd, m, now) => {
  if (cmd.form === "read") return ok([`+CFUN: ${m.radio.cfun}`]);
  if (cmd.form === "test") return ok(["+CFUN: (0,1,4),(0-1)"]);
  if (cmd.form !== "set") return error();
  const fun = cmd.args[0];
  const rst = cmd.args[1] ?? "0";
  if (fun !== "0" && fun !== "1" && fun !== "4") return badParameters();
  // CFUN=<fun>,1: reset the module. It answers OK, goes silent, then RDY.
  if (rst === "1") return { kind: "reset" };
  m.radio.setFun(Number(fun), now);
  return ok();
};

/** AT+CREG / +CGREG / +CEREG: set the URC mode n, read "n,<stat>[,...]". */
function registration(name: RegCommand): CommandHandler {
  const max = name === "+CEREG" ? 5 : 2;
  return (cmd, m) => {
    if (cmd.form === "test") return ok([`${name}: (0-${max})`]);
    if (cmd.form === "set") {
      const a = cmd.args[0] ?? "0";
      if (!/^\d$/.test(a) || Number(a) > max) return badParameters();
      m.radio.urcMode[name] = Number(a);
      return ok();
    }
    if (cmd.form === "read") return ok([`${name}: ${m.radio.urcMode[name]},${m.radio.regFields(m.radio.urcMode[name])}`]);
    return error();
  };
}

export const NETWORK_COMMANDS: CommandGroup = {
  "+CFUN": cfun,
  "+CREG": registration("+CREG"),
  "+CGREG": registration("+CGREG"),
  "+CEREG": registration("+CEREG"),
  "+COPS": (cmd, m) => {
    if (cmd.form === "read") return ok([m.radio.registered ? `+COPS: 0,0,"${OPERATOR_NAME}",${ACT_CATM1}` : "+COPS: 0"]);
    if (cmd.form === "test") return ok([`+COPS: (2,"${OPERATOR_NAME}","${OPERATOR_NAME}","${PLMN}",${ACT_CATM1}),,(0-4),(0-2)`]);
    return ok();
  },
  "+CSQ": (cmd, m) => {
    if (cmd.form === "test") return ok(["+CSQ: (0-31,99),(0-7,99)"]);
    return ok([m.radio.inService ? `+CSQ: ${rssiIndex(CELL_SIGNAL.rssiDbm)},99` : "+CSQ: 99,99"]);
  },
  "+CPSMS": accepted,
  "+CEDRXS": accepted,
};

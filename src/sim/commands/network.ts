/**
 * Radio and network registration (27.007 §8.2, §7.2, §10.1.19, §10.1.22,
 * §7.3, §8.5): functionality level, registration state and its URC modes,
 * operator, signal quality; power-saving settings are accepted, not modelled.
 */
import { ACT_CATM1, CELL_SIGNAL, OPERATOR_NAME, PLMN, rssiIndex } from "../quectel-text.ts";
import type { RegCommand } from "../radio.ts";
import { CME } from "../quectel-text.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, cme, error, numArg, ok } from "./table.ts";

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

/**
 * AT+COPS (27.007 §7.3): mode 0 automatic, 1 manual (numeric format 2 names
 * the network by MCC+MNC), 3 sets the read format. A manual selection of a
 * network that is not here fails (+CME ERROR: 30) and the modem searches.
 */
const cops: CommandHandler = (cmd, m, now) => {
  const c = m.radio.cops;
  if (cmd.form === "read") {
    // A manual selection names its network even before it is registered on it.
    if (c.mode === 1 && c.oper !== null && !m.radio.registered) return ok([`+COPS: 1,${c.format},"${c.format === 2 ? c.oper : OPERATOR_NAME}"`]);
    if (!m.radio.registered) return ok([`+COPS: ${c.mode}`]);
    return ok([`+COPS: ${c.mode},${c.format},"${c.format === 2 ? PLMN : OPERATOR_NAME}",${ACT_CATM1}`]);
  }
  if (cmd.form === "test") return ok([`+COPS: (2,"${OPERATOR_NAME}","${OPERATOR_NAME}","${PLMN}",${ACT_CATM1}),,(0-4),(0-2)`]);
  if (cmd.form !== "set") return ok();
  const mode = numArg(cmd, 0);
  const format = cmd.args[1] !== undefined && cmd.args[1] !== "" ? numArg(cmd, 1) : null;
  if (mode === null || mode > 4 || (format !== null && format > 2)) return badParameters();
  if (mode === 3) {
    if (format === null) return badParameters();
    c.format = format;
    return ok();
  }
  if (format !== null) c.format = format;
  if (mode === 1) {
    const oper = cmd.args[2];
    if (!oper) return badParameters();
    c.mode = 1;
    c.oper = oper;
    m.radio.selectionChanged(now);
    return oper === PLMN ? ok() : cme(CME.noNetworkService);
  }
  if (mode === 0 && c.mode !== 0) {
    c.mode = 0;
    c.oper = null;
    m.radio.selectionChanged(now);
  }
  return ok();
};

export const NETWORK_COMMANDS: CommandGroup = {
  "+CFUN": cfun,
  "+CREG": registration("+CREG"),
  "+CGREG": registration("+CGREG"),
  "+CEREG": registration("+CEREG"),
  "+COPS": cops,
  "+CSQ": (cmd, m) => {
    if (cmd.form === "test") return ok(["+CSQ: (0-31,99),(0-7,99)"]);
    return ok([m.radio.inService ? `+CSQ: ${rssiIndex(CELL_SIGNAL.rssiDbm)},99` : "+CSQ: 99,99"]);
  },
  "+CPSMS": accepted,
  "+CEDRXS": accepted,
};

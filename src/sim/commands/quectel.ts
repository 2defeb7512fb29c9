/**
 * Quectel extensions (BG96 / BG77 AT Commands Manuals): serving-cell signal
 * and network information, the network back-off query, power-down, and
 * Quectel settings accepted without being modelled.
 */
import { CELL_SIGNAL, PLMN } from "../quectel-text.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, error, numArg, ok } from "./table.ts";

/** +QCSQ: <sysmode>,<rssi>,<rsrp>,<sinr>,<rsrq>. */
const qcsq: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") return ok([`+QCSQ: "NOSERVICE","${m.model.sysmode}"`]);
  const s = CELL_SIGNAL;
  return ok([m.radio.inService ? `+QCSQ: "${m.model.sysmode}",${s.rssiDbm},${s.rsrpDbm},${s.sinr},${s.rsrqDb}` : `+QCSQ: "NOSERVICE"`]);
};

/** Modelled on Quectel's AT+QNWCFG query style: +QNWCFG: "backoff",<remaining s>,<reject cause>. */
const qnwcfg: CommandHandler = (cmd, m, now) => {
  if (cmd.form !== "set") return error();
  if ((cmd.args[0] ?? "").toLowerCase() !== "backoff") return badParameters();
  return ok([`+QNWCFG: "backoff",${m.radio.backoffLeftS(now)},${m.radio.rejectCause ?? 0}`]);
};

/**
 * AT+QPOWD[=1] (normal): OK at once, then "POWERED DOWN" once it has
 * detached (half a boot time later) and the module is off. AT+QPOWD=0
 * (immediate): the command never completes; the module hears nothing more
 * until it is reset or power-cycled.
 */
const qpowd: CommandHandler = (cmd, m, now) => {
  if (cmd.form === "test") return ok(["+QPOWD: (0,1)"]);
  const v = cmd.form === "set" ? numArg(cmd, 0) : 1;
  if (v === null || v > 1) return badParameters();
  if (v === 0) return { kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD=0" } };
  const detachedAt = now + Math.max(1, Math.round(m.behaviour.bootMs / 2));
  return { kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD", timeoutAt: detachedAt, answered: true } };
};

export const QUECTEL_EXTENSIONS: CommandGroup = {
  "+QCSQ": qcsq,
  "+QNWINFO": (_cmd, m) => ok([m.radio.inService ? `+QNWINFO: "${m.model.act}","${PLMN}","LTE BAND 20",6300` : "+QNWINFO: No Service"]),
  "+QNWCFG": qnwcfg,
  "+QPOWD": qpowd,
  // PDP context with credentials (Quectel's +CGAUTH): accepted, not checked, like +CGAUTH.
  "+QICSGP": accepted,
  "+QURCCFG": accepted,
  "+QSCLK": accepted,
};

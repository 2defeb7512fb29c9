/** The SIM (27.007 §8.3, §5.6): PIN state and entry, IMSI, ICCID. */
import type { CmdResult } from "../at-syntax.ts";
import { CME } from "../quectel-text.ts";
import type { RadioModel } from "../radio.ts";
import { type CommandGroup, type CommandHandler, cme, error, ok } from "./table.ts";

/** The +CME ERROR a command that needs the SIM gets, or null when the SIM is ready. */
export function simCheck(radio: RadioModel): CmdResult | null {
  switch (radio.sim) {
    case "ready":
      return null;
    case "missing":
      return cme(CME.simNotInserted);
    case "pin":
      return cme(CME.simPinRequired);
    case "puk":
      return cme(CME.simPukRequired);
  }
}

const cpin: CommandHandler = (cmd, m, now) => {
  const r = m.radio;
  if (cmd.form === "test") return ok();
  if (cmd.form === "read") {
    switch (r.sim) {
      case "missing":
        return cme(CME.simNotInserted);
      case "ready":
        return ok(["+CPIN: READY"]);
      case "pin":
        return ok(["+CPIN: SIM PIN"]);
      case "puk":
        return ok(["+CPIN: SIM PUK"]);
    }
  }
  if (cmd.form !== "set") return error();
  if (r.sim === "missing") return cme(CME.simNotInserted);
  if (r.sim === "ready") return cme(CME.operationNotAllowed);
  if (r.sim === "puk") return cme(CME.simPukRequired);
  return r.enterPin(cmd.args[0], now) ? ok() : cme(CME.incorrectPassword);
};

/** The ICCID is readable even while the SIM waits for its PIN. */
const iccid: CommandHandler = (_cmd, m) => (m.radio.sim === "missing" ? cme(CME.simNotInserted) : ok([`+QCCID: ${m.radio.iccid}`]));

export const SIM_COMMANDS: CommandGroup = {
  "+CPIN": cpin,
  "+CIMI": (_cmd, m) => simCheck(m.radio) ?? ok([m.radio.imsi]),
  "+QCCID": iccid,
  "+CCID": iccid,
};

/** Identification (V.250 §6.1, 27.007 §5): manufacturer, model, revision, IMEI. */
import { IMEI, MANUFACTURER } from "../quectel-text.ts";
import { type CommandGroup, type CommandHandler, ok } from "./table.ts";

const manufacturer: CommandHandler = () => ok([MANUFACTURER]);
const model: CommandHandler = (_cmd, m) => ok([m.model.model]);
const revision: CommandHandler = (_cmd, m) => ok([m.model.revision]);
const imei: CommandHandler = () => ok([IMEI]);

export const IDENTITY_COMMANDS: CommandGroup = {
  I: (_cmd, m) => ok([MANUFACTURER, m.model.model, `Revision: ${m.model.revision}`]),
  "+CGMI": manufacturer,
  "+GMI": manufacturer,
  "+CGMM": model,
  "+GMM": model,
  "+CGMR": revision,
  "+GMR": revision,
  "+CGSN": imei,
  "+GSN": imei,
};

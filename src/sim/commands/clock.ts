/**
 * The network's time (issue 17): AT+QLTS (Quectel: the time the network sent
 * by NITZ; mode 2 = current local time with zone), AT+CCLK? (the module
 * clock, which follows NITZ here), AT+CTZR / AT+CTZU (NITZ reporting and
 * automatic update: accepted). The clock is the simulation's time plus the
 * offset a test sets (sms-store.ts, SimSms.clockOffsetMs).
 */
import { formatModemTime } from "../../at/time-text.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, numArg, ok } from "./table.ts";

/** AT+QLTS[=<mode>]: "yyyy/MM/dd,hh:mm:ss±zz,<dst>"; "" before the network sent NITZ. */
const qlts: CommandHandler = (cmd, m, now) => {
  if (cmd.form === "test") return ok(["+QLTS: (0-2)"]);
  const mode = cmd.form === "set" ? numArg(cmd, 0) : 0;
  if (mode === null || mode > 2) return badParameters();
  if (!m.sms.nitz) return ok(['+QLTS: ""']);
  const zone = mode === 1 ? 0 : m.sms.zoneQuarters;
  return ok([`+QLTS: "${formatModemTime(m.sms.networkTime(now), zone, true)},0"`]);
};

const cclk: CommandHandler = (cmd, m, now) => {
  if (cmd.form === "read") return ok([`+CCLK: "${formatModemTime(m.sms.nitz ? m.sms.networkTime(now) : Date.UTC(2080, 0, 6), m.sms.zoneQuarters)}"`]);
  return cmd.form === "test" ? ok() : accepted(cmd, m, now);
};

export const CLOCK_COMMANDS: CommandGroup = {
  "+QLTS": qlts,
  "+CCLK": cclk,
  "+CTZR": accepted,
  "+CTZU": accepted,
};

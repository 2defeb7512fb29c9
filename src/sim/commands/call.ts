/**
 * Dialling and data mode (V.250 §6.3, 27.007 §10.2.1.1): ATD*99# places a
 * PPP call on a PDP context, ATO returns to data mode, ATH hangs up from
 * online-command mode, ATA has no incoming call to answer. What happens once
 * the call is up is the channel's business (channel.ts).
 */
import { CONNECT_TEXT } from "../quectel-text.ts";
import { type CommandGroup, type CommandHandler, error, noCarrier, ok } from "./table.ts";

/**
 * ATD*99# or ATD*99***<cid>#: CONNECT when the radio can place the call and
 * the network accepts it (pdn.ts), else NO CARRIER (AT+CEER tells why).
 */
const dial: CommandHandler = (cmd, m, now) => {
  const number = cmd.rest.replace(/[\s"]/g, "");
  const match = /^\*99(?:\*\*\*(\d+))?#$/.exec(number);
  if (!match) return noCarrier();
  const cid = match[1] === undefined ? 1 : Number(match[1]);
  if (m.call.mode !== "command") return error();
  const ctx = m.contexts.get(cid);
  if (!m.radio.canDial || !ctx) return noCarrier();
  if (!m.pdn.admit(ctx.apn, now)) return noCarrier();
  return { kind: "connect", cid };
};

export const CALL_COMMANDS: CommandGroup = {
  D: dial,
  A: () => noCarrier(),
  H: (_cmd, m, now) => {
    if (m.call.mode === "online-command") m.call.hangUp(now);
    return ok();
  },
  O: (_cmd, m, now) => {
    if (m.call.mode !== "online-command" || !m.call.inCall) return noCarrier();
    m.call.resume(now);
    return { kind: "final", text: CONNECT_TEXT };
  },
};

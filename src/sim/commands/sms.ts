/**
 * SMS in text mode (3GPP TS 27.005; Quectel BG96 AT Commands Manual §9):
 * AT+CMGF, +CSCS, +CNMI, +CPMS, +CSDH, +CSMP, +CMGL, +CMGR, +CMGD, +CMGS.
 * Messages come from the test (VirtualModem.deliverSms) into the storage in
 * sms-store.ts; what the agent sends is recorded there. PDU mode is not
 * modelled: list, read and send answer +CMS ERROR: 302 in it.
 */
import { formatModemTime } from "../../at/time-text.ts";
import type { CmdResult } from "../at-syntax.ts";
import type { SimCharset, SimStoredSms } from "../sms-store.ts";
import { type AtContext, type CommandGroup, type CommandHandler, accepted, badParameters, numArg, ok } from "./table.ts";

/** +CMS ERROR codes (27.005 §3.2.5). */
const CMS = { operationNotAllowed: 302, invalidIndex: 321 } as const;
const cms = (code: number): CmdResult => ({ kind: "final", text: `+CMS ERROR: ${code}` });

const CHARSETS: readonly SimCharset[] = ["GSM", "IRA", "UCS2"];
const STATS = ["REC UNREAD", "REC READ", "ALL"] as const;

const cmgf: CommandHandler = (cmd, m) => {
  if (cmd.form === "read") return ok([`+CMGF: ${m.sms.textMode ? 1 : 0}`]);
  if (cmd.form === "test") return ok(["+CMGF: (0,1)"]);
  const v = cmd.form === "set" ? numArg(cmd, 0) : 0;
  if (v === null || v > 1) return badParameters();
  m.sms.textMode = v === 1;
  return ok();
};

const cscs: CommandHandler = (cmd, m) => {
  if (cmd.form === "read") return ok([`+CSCS: "${m.sms.charset}"`]);
  if (cmd.form === "test") return ok([`+CSCS: (${CHARSETS.map((c) => `"${c}"`).join(",")})`]);
  const cs = (cmd.args[0] ?? "").toUpperCase() as SimCharset;
  if (cmd.form !== "set" || !CHARSETS.includes(cs)) return badParameters();
  m.sms.charset = cs;
  return ok();
};

const cnmi: CommandHandler = (cmd, m) => {
  if (cmd.form === "read") return ok([`+CNMI: 2,${m.sms.cnmiMt},0,0,0`]);
  if (cmd.form !== "set") return ok();
  const mt = numArg(cmd, 1) ?? 0;
  if (mt > 3) return badParameters();
  m.sms.cnmiMt = mt;
  return ok();
};

function header(m: AtContext, x: SimStoredSms): string {
  return `"${x.stat}","${m.sms.encode(x.from)}",,"${formatModemTime(x.sentAt, m.sms.zoneQuarters)}"`;
}

const cmgl: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") return ok([`+CMGL: (${STATS.map((s) => `"${s}"`).join(",")})`]);
  if (!m.sms.textMode) return cms(CMS.operationNotAllowed);
  const filter = cmd.form === "set" ? (cmd.args[0] ?? "").toUpperCase() : "REC UNREAD";
  if (!(STATS as readonly string[]).includes(filter)) return badParameters();
  const info: string[] = [];
  for (const x of m.sms.list(filter as (typeof STATS)[number])) info.push(`+CMGL: ${x.index},${header(m, x)}`, m.sms.encode(x.text));
  return ok(info);
};

const cmgr: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") return ok();
  if (!m.sms.textMode) return cms(CMS.operationNotAllowed);
  const i = numArg(cmd, 0);
  if (cmd.form !== "set" || i === null) return badParameters();
  const x = m.sms.read(i);
  if (!x) return cms(CMS.invalidIndex);
  return ok([`+CMGR: ${header(m, x)}`, m.sms.encode(x.text)]);
};

/** AT+CMGD=<index>[,<delflag>]: delflag 4 deletes every message. */
const cmgd: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") return ok(["+CMGD: (0-49),(0-4)"]);
  const i = numArg(cmd, 0);
  if (cmd.form !== "set" || i === null) return badParameters();
  if (numArg(cmd, 1) === 4) {
    m.sms.deleteAll();
    return ok();
  }
  return m.sms.delete(i) ? ok() : cms(CMS.invalidIndex);
};

/** AT+CMGS="<da>": "> ", then the text; the message reference answers it. */
const cmgs: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") return ok();
  if (!m.sms.textMode) return cms(CMS.operationNotAllowed);
  const to = cmd.form === "set" ? m.sms.decode(cmd.args[0] ?? "") : null;
  if (!to || !/^\+?\d{3,20}$/.test(to)) return badParameters();
  return {
    kind: "prompt",
    submit: (typed, now) => {
      const text = m.sms.decode(typed);
      if (text === null) return badParameters();
      m.sms.sent.push({ to, text, at: now });
      return ok([`+CMGS: ${m.sms.sent.length % 256}`]);
    },
  };
};

export const SMS_COMMANDS: CommandGroup = {
  "+CMGF": cmgf,
  "+CSCS": cscs,
  "+CNMI": cnmi,
  "+CPMS": (cmd, m) => ok(cmd.form === "read" ? [`+CPMS: "SM",${m.sms.count},50,"SM",${m.sms.count},50,"SM",${m.sms.count},50`] : undefined),
  "+CSDH": accepted,
  "+CSMP": accepted,
  "+CMGL": cmgl,
  "+CMGR": cmgr,
  "+CMGD": cmgd,
  "+CMGS": cmgs,
};

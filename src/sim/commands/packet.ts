/**
 * Packet domain (27.007 §10.1): attach, PDP contexts, context state and
 * addresses, the last call's error report (+CEER, §6.10), authentication
 * settings and packet event reporting.
 */
import { MAX_CID, PDP_TYPES } from "../pdp.ts";
import { CME } from "../quectel-text.ts";
import { simCheck } from "./sim.ts";
import { type CommandGroup, type CommandHandler, accepted, badParameters, cme, error, numArg, ok } from "./table.ts";

/**
 * AT+CGATT=1: attached already, OK; registered, attached after attachMs;
 * still searching (or backing off), waits for registration, up to the
 * module's 140 s limit (+CME ERROR: 30 then).
 */
const cgatt: CommandHandler = (cmd, m, now) => {
  const r = m.radio;
  if (cmd.form === "read") return ok([`+CGATT: ${r.attached ? 1 : 0}`]);
  if (cmd.form === "test") return ok(["+CGATT: (0,1)"]);
  if (cmd.form !== "set") return error();
  const sim = simCheck(r);
  if (sim) return sim;
  if (cmd.args[0] === "0") {
    r.detach(now);
    return ok();
  }
  if (cmd.args[0] !== "1") return badParameters();
  if (r.attached) return ok();
  if (r.cfun !== 1 || r.deniedForGood) return cme(CME.noNetworkService);
  r.requestAttach(now);
  return { kind: "later", pending: { kind: "cgatt", line: "AT+CGATT=1", timeoutAt: now + m.behaviour.attachTimeoutMs } };
};

const cgdcont: CommandHandler = (cmd, m) => {
  if (cmd.form === "test") {
    return ok(['+CGDCONT: (1-15),"IP",,,(0-2),(0-4),(0)', '+CGDCONT: (1-15),"IPV6",,,(0-2),(0-4),(0)', '+CGDCONT: (1-15),"IPV4V6",,,(0-2),(0-4),(0)']);
  }
  if (cmd.form === "read") return ok(m.contexts.list().map((c) => `+CGDCONT: ${c.cid},"${c.type}","${c.apn}","0.0.0.0",0,0,0`));
  if (cmd.form !== "set") return error();
  const cid = numArg(cmd, 0);
  if (cid === null || cid < 1 || cid > MAX_CID) return badParameters();
  // AT+CGDCONT=<cid> alone undefines the context.
  if (cmd.args.length === 1) {
    m.contexts.delete(cid);
    return ok();
  }
  const type = (cmd.args[1] ?? "IP").toUpperCase();
  if (!PDP_TYPES.includes(type)) return badParameters();
  m.contexts.set({ cid, type, apn: cmd.args[2] ?? "" });
  return ok();
};

export const PACKET_COMMANDS: CommandGroup = {
  "+CGATT": cgatt,
  "+CGDCONT": cgdcont,
  "+CGACT": (cmd, m) => (cmd.form === "read" ? ok([`+CGACT: 1,${m.call.ipUp ? 1 : 0}`]) : ok()),
  "+CGPADDR": () => ok(["+CGPADDR: 1"]),
  "+CEER": (cmd, m, now) => (cmd.form === "test" ? ok() : ok([m.pdn.ceer(now)])),
  // PDP authentication set by AT command (27.007 §10.1.31): accepted, not checked; the PPP exchange is what the network verifies.
  "+CGAUTH": accepted,
  "+CGEREP": accepted,
};

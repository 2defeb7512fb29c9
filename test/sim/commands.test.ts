/**
 * The AT personality's command table on its own: each handler's result for a
 * given SIM / radio / network state. The radio and PDN models are the real
 * ones; their timers run on a fake clock (a number and a TimerTable), the
 * data call is a stand-in. No interpreter, no line: results as data.
 */
import { describe, expect, test } from "bun:test";
import { Bench } from "./command-bench.ts";
import type { CmdResult } from "../../src/sim/at-syntax.ts";
import { COMMAND_GROUPS, QUECTEL_COMMANDS } from "../../src/sim/commands/index.ts";
import { MODEL_TEXT } from "../../src/sim/quectel-text.ts";
import { TimerTable } from "../../src/sim/timers.ts";


const OK: CmdResult = { kind: "ok" };
const ERROR: CmdResult = { kind: "error" };
const cme = (code: number): CmdResult => ({ kind: "cme", code });
const NO_CARRIER: CmdResult = { kind: "final", text: "NO CARRIER" };

describe("the table", () => {
  test("no command is defined in two groups, and the table holds every group's commands", () => {
    const seen = new Map<string, string>();
    for (const [group, commands] of Object.entries(COMMAND_GROUPS)) {
      for (const name of Object.keys(commands)) {
        expect(seen.get(name) ?? group).toBe(group);
        seen.set(name, group);
      }
    }
    expect(QUECTEL_COMMANDS.size).toBe(seen.size);
  });

  test("names are what parseCommand produces: upper case, basic or +extended", () => {
    for (const name of QUECTEL_COMMANDS.keys()) expect(name).toMatch(/^([A-Z]|&[A-Z]|\+[A-Z0-9]+)$/);
  });

  test("an unknown or malformed command is ERROR", () => {
    const m = new Bench();
    expect(m.at("+FOO")).toEqual(ERROR);
    expect(m.at("Y")).toEqual(ERROR);
    expect(m.at("$QCPDPP")).toEqual(ERROR);
    expect(m.at("+C?SQ")).toEqual(ERROR);
  });
});

describe("basic commands and settings", () => {
  test("E, V, Q, &D set the channel settings; out-of-range values are ERROR", () => {
    const m = new Bench();
    const s = m.m.settings;
    expect(m.at("E0")).toEqual(OK);
    expect(s.echo).toBe(false);
    expect(m.at("E")).toEqual(OK);
    expect(s.echo).toBe(false);
    expect(m.at("E2")).toEqual(ERROR);
    expect(m.at("V0")).toEqual(OK);
    expect(s.verbose).toBe(false);
    expect(m.at("Q1")).toEqual(OK);
    expect(s.quiet).toBe(true);
    expect(m.at("&D1")).toEqual(OK);
    expect(s.andD).toBe(1);
    expect(m.at("&D3")).toEqual(ERROR);
    expect(s.andD).toBe(1);
  });

  test("ATZ and AT&F restore the defaults and switch registration URCs off; the baud rate stays", () => {
    for (const reset of ["Z", "&F"]) {
      const m = new Bench();
      m.at("E0");
      m.at("+CMEE=2");
      m.at("+IPR=9600");
      m.at("+CEREG=2");
      expect(m.at(reset)).toEqual(OK);
      expect({ echo: m.m.settings.echo, cmee: m.m.settings.cmee, ipr: m.m.settings.ipr }).toEqual({ echo: true, cmee: 1, ipr: 9600 });
      expect(m.m.radio.urcMode["+CEREG"]).toBe(0);
    }
  });

  test("S-registers read their defaults; writes are accepted", () => {
    const m = new Bench();
    expect(m.info("S3?")).toEqual(["013"]);
    expect(m.info("S12?")).toEqual(["050"]);
    expect(m.at("S7=60")).toEqual(OK);
    expect(m.at("S")).toEqual(ERROR);
  });

  test("+CMEE and +IPR: read, test, set, bad values", () => {
    const m = new Bench();
    expect(m.info("+CMEE?")).toEqual(["+CMEE: 1"]);
    expect(m.info("+CMEE=?")).toEqual(["+CMEE: (0-2)"]);
    expect(m.at("+CMEE=3")).toEqual(cme(50));
    expect(m.at("+CMEE=2")).toEqual(OK);
    expect(m.info("+CMEE?")).toEqual(["+CMEE: 2"]);
    expect(m.info("+IPR?")).toEqual(["+IPR: 115200"]);
    expect(m.at("+IPR=fast")).toEqual(cme(50));
    expect(m.at("+IPR=921600")).toEqual(OK);
    expect(m.info("+IPR?")).toEqual(["+IPR: 921600"]);
  });
});

describe("identity", () => {
  test("ATI and the +CGMx / +GMx pairs tell the model's own texts", () => {
    for (const model of ["BG96", "BG77"] as const) {
      const m = new Bench(["healthy"], { model });
      const t = MODEL_TEXT[model];
      expect(m.info("I")).toEqual(["Quectel", t.model, `Revision: ${t.revision}`]);
      for (const [a, b] of [["+CGMI", "+GMI"], ["+CGMM", "+GMM"], ["+CGMR", "+GMR"], ["+CGSN", "+GSN"]]) expect(m.info(a!)).toEqual(m.info(b!));
      expect(m.info("+CGMM")).toEqual([model]);
      expect(m.info("+CGMR")).toEqual([t.revision]);
      expect(m.info("+CGSN")).toEqual(["866425031234567"]);
    }
  });
});

describe("SIM", () => {
  test("ready: +CPIN? READY, IMSI and ICCID readable, entering a PIN is not allowed", () => {
    const m = new Bench();
    expect(m.info("+CPIN?")).toEqual(["+CPIN: READY"]);
    expect(m.info("+CIMI")).toEqual(["001010123456789"]);
    expect(m.info("+QCCID")).toEqual(["+QCCID: 89001012345678901234"]);
    expect(m.info("+CCID")).toEqual(["+QCCID: 89001012345678901234"]);
    expect(m.at('+CPIN="1234"')).toEqual(cme(3));
  });

  test("missing: CME 10 for everything that needs the card", () => {
    const m = new Bench(["sim-missing"]);
    for (const c of ["+CPIN?", "+CIMI", "+QCCID", '+CPIN="1234"', "+CGATT=1"]) expect(m.at(c)).toEqual(cme(10));
  });

  test("PIN: the right one readies the SIM, says so, and starts the search; three wrong ones lock it behind the PUK", () => {
    const m = new Bench(["sim-pin:4321"]);
    expect(m.info("+CPIN?")).toEqual(["+CPIN: SIM PIN"]);
    expect(m.at("+CIMI")).toEqual(cme(11));
    expect(m.info("+QCCID")).toEqual(["+QCCID: 89001012345678901234"]);
    expect(m.m.radio.stat).toBe(0);
    m.now = 5000;
    expect(m.at('+CPIN="4321"')).toEqual(OK);
    expect(m.urcs).toEqual(["+CPIN: READY", "+QIND: SMS DONE"]);
    expect(m.m.radio.stat).toBe(2);
    m.advance(2000);
    expect(m.m.radio.stat).toBe(1);

    const locked = new Bench(["sim-pin"]);
    for (let i = 0; i < 3; i++) expect(locked.at('+CPIN="0000"')).toEqual(cme(16));
    expect(locked.info("+CPIN?")).toEqual(["+CPIN: SIM PUK"]);
    expect(locked.at('+CPIN="1234"')).toEqual(cme(12));
    expect(locked.at("+CIMI")).toEqual(cme(12));
  });
});

describe("network registration", () => {
  test("healthy: searching, then home after registrationMs; +CEREG/+CGREG/+CREG read in every URC mode", () => {
    const m = new Bench();
    expect(m.info("+CEREG?")).toEqual(["+CEREG: 0,2"]);
    expect(m.info("+COPS?")).toEqual(["+COPS: 0"]);
    expect(m.info("+CSQ")).toEqual(["+CSQ: 99,99"]);
    m.advance(1999);
    expect(m.m.radio.stat).toBe(2);
    m.advance(1);
    expect(m.at("+CEREG=2")).toEqual(OK);
    expect(m.info("+CEREG?")).toEqual(['+CEREG: 2,1,"1A2B","01A2D001",8']);
    expect(m.info("+CGREG?")).toEqual(["+CGREG: 0,1"]);
    expect(m.info("+CREG?")).toEqual(["+CREG: 0,1"]);
    expect(m.info("+COPS?")).toEqual(['+COPS: 0,0,"TEST",8']);
    expect(m.info("+CSQ")).toEqual(["+CSQ: 24,99"]);
  });

  test("URC modes: +CEREG takes 0-5, +CREG/+CGREG 0-2; a set mode makes registration changes URCs", () => {
    const m = new Bench();
    expect(m.info("+CEREG=?")).toEqual(["+CEREG: (0-5)"]);
    expect(m.info("+CREG=?")).toEqual(["+CREG: (0-2)"]);
    expect(m.at("+CREG=3")).toEqual(cme(50));
    expect(m.at("+CEREG=6")).toEqual(cme(50));
    expect(m.at("+CEREG")).toEqual(ERROR);
    expect(m.at("+CREG=1")).toEqual(OK);
    m.advance(2000);
    expect(m.urcs).toEqual(["+CREG: 1"]);
  });

  test("registration-denied with a cause: stat 3, the cause from mode 3 on, attach refused", () => {
    const m = new Bench(["registration-denied:cause=15"]);
    m.advance(2000);
    m.at("+CEREG=3");
    expect(m.info("+CEREG?")).toEqual(['+CEREG: 3,3,"1A2B","01A2D001",8,0,15']);
    expect(m.at("+CGATT=1")).toEqual(cme(30));
    expect(m.at("D*99#")).toEqual(NO_CARRIER);
  });

  test("+CFUN: read, test, bad level, radio off and on, reset flag", () => {
    const m = new Bench();
    m.advance(2500);
    expect(m.m.radio.attached).toBe(true);
    expect(m.info("+CFUN?")).toEqual(["+CFUN: 1"]);
    expect(m.info("+CFUN=?")).toEqual(["+CFUN: (0,1,4),(0-1)"]);
    expect(m.at("+CFUN=5")).toEqual(cme(50));
    expect(m.at("+CFUN=4")).toEqual(OK);
    expect(m.info("+CFUN?")).toEqual(["+CFUN: 4"]);
    expect([m.m.radio.stat, m.m.radio.attached]).toEqual([0, false]);
    expect(m.info("+CSQ")).toEqual(["+CSQ: 99,99"]);
    expect(m.at("+CFUN=1")).toEqual(OK);
    m.advance(2000);
    expect(m.m.radio.stat).toBe(1);
    expect(m.at("+CFUN=1,1")).toEqual({ kind: "reset" });
  });
});

describe("packet domain", () => {
  test("AT+CGATT=1 registered: answers later, attach after attachMs, gives up at attachTimeoutMs", () => {
    const m = new Bench(["dial-before-attach"]);
    m.advance(3000);
    expect([m.m.radio.stat, m.m.radio.attached]).toEqual([1, false]);
    expect(m.info("+CGATT?")).toEqual(["+CGATT: 0"]);
    expect(m.at("+CGATT=1")).toEqual({ kind: "later", pending: { kind: "cgatt", line: "AT+CGATT=1", timeoutAt: 3000 + 140_000 } });
    expect(m.radioTimers.next()).toBe(3500);
    m.advance(500);
    expect(m.m.radio.attached).toBe(true);
    expect(m.at("+CGATT=1")).toEqual(OK);
    expect(m.at("+CGATT=0")).toEqual(OK);
    expect(m.m.radio.attached).toBe(false);
  });

  test("AT+CGATT=1 while searching waits for registration (no attach timer until then)", () => {
    const m = new Bench(["dial-before-attach"]);
    expect(m.at("+CGATT=1")).toMatchObject({ kind: "later" });
    expect(m.radioTimers.has("attach")).toBe(false);
    m.attachRequested = true;
    m.advance(2500);
    expect(m.m.radio.attached).toBe(true);
  });

  test("AT+CGATT: bad value, radio off", () => {
    const m = new Bench();
    expect(m.at("+CGATT=2")).toEqual(cme(50));
    expect(m.info("+CGATT=?")).toEqual(["+CGATT: (0,1)"]);
    m.at("+CFUN=0");
    expect(m.at("+CGATT=1")).toEqual(cme(30));
  });

  test("+CGDCONT: context 1 exists; set, read in cid order, undefine, bad cid and type", () => {
    const m = new Bench();
    expect(m.info("+CGDCONT?")).toEqual(['+CGDCONT: 1,"IP","","0.0.0.0",0,0,0']);
    expect(m.at('+CGDCONT=3,"ipv4v6","Other.APN"')).toEqual(OK);
    expect(m.at('+CGDCONT=1,"IP","internet"')).toEqual(OK);
    expect(m.info("+CGDCONT?")).toEqual(['+CGDCONT: 1,"IP","internet","0.0.0.0",0,0,0', '+CGDCONT: 3,"IPV4V6","Other.APN","0.0.0.0",0,0,0']);
    expect(m.at("+CGDCONT=1")).toEqual(OK);
    expect(m.info("+CGDCONT?")).toEqual(['+CGDCONT: 3,"IPV4V6","Other.APN","0.0.0.0",0,0,0']);
    expect(m.at('+CGDCONT=16,"IP"')).toEqual(cme(50));
    expect(m.at('+CGDCONT=0,"IP"')).toEqual(cme(50));
    expect(m.at('+CGDCONT=2,"X25"')).toEqual(cme(50));
    expect(m.info("+CGDCONT=?")).toHaveLength(3);
  });

  test("+CGACT? follows the call's IP layer; +CEER tells the network's report", () => {
    const m = new Bench();
    expect(m.info("+CGACT?")).toEqual(["+CGACT: 1,0"]);
    m.call.ipUp = true;
    expect(m.info("+CGACT?")).toEqual(["+CGACT: 1,1"]);
    expect(m.info("+CEER")).toEqual(['+CEER: "No report available"']);
    m.m.pdn.networkLost();
    expect(m.info("+CEER")).toEqual(['+CEER: "EMM detach",10,"Implicitly detached"']);
    expect(m.info("+CEER=?")).toEqual([]);
  });
});

describe("dial and data mode", () => {
  test("ATD*99# registered: CONNECT on context 1; *99***<cid># on that context", () => {
    const m = new Bench();
    m.advance(2000);
    expect(m.at("D*99#")).toEqual({ kind: "connect", cid: 1 });
    m.at('+CGDCONT=2,"IP","x"');
    expect(m.at('D"*99***2#"')).toEqual({ kind: "connect", cid: 2 });
    expect(m.at("D*99***3#")).toEqual(NO_CARRIER);
  });

  test("NO CARRIER for a number that is not a packet call or a radio not registered; ERROR when a call is up", () => {
    const m = new Bench();
    expect(m.at("D*99#")).toEqual(NO_CARRIER);
    m.advance(2000);
    expect(m.at("DT123")).toEqual(NO_CARRIER);
    m.call.mode = "online-command";
    expect(m.at("D*99#")).toEqual(ERROR);
    expect(m.at("A")).toEqual(NO_CARRIER);
  });

  test("apn-rejected: an unknown APN gets NO CARRIER and ESM cause 27; the known one (any case) connects", () => {
    const m = new Bench(["apn-rejected:internet"]);
    m.advance(2000);
    m.at('+CGDCONT=1,"IP","other"');
    expect(m.at("D*99#")).toEqual(NO_CARRIER);
    expect(m.info("+CEER")).toEqual(['+CEER: "ESM reject",27,"Missing or unknown APN"']);
    m.at('+CGDCONT=1,"IP","Internet"');
    expect(m.at("D*99#")).toEqual({ kind: "connect", cid: 1 });
  });

  test("t3396: the first dial starts the back-off; +CEER counts it down on the clock; after it the dial connects", () => {
    const m = new Bench(["t3396:30"]);
    m.advance(2000);
    expect(m.at("D*99#")).toEqual(NO_CARRIER);
    expect(m.info("+CEER")).toEqual(['+CEER: "ESM reject",26,"Insufficient resources, T3396 30 s"']);
    m.advance(10_500);
    expect(m.info("+CEER")).toEqual(['+CEER: "ESM reject",26,"Insufficient resources, T3396 20 s"']);
    expect(m.at("D*99#")).toEqual(NO_CARRIER);
    m.advance(19_500);
    expect(m.at("D*99#")).toEqual({ kind: "connect", cid: 1 });
  });

  test("ATH hangs up only from online-command mode; ATO resumes only a call that is up", () => {
    const m = new Bench();
    m.now = 7;
    expect(m.at("H")).toEqual(OK);
    expect(m.at("O")).toEqual(NO_CARRIER);
    m.call.mode = "online-command";
    expect(m.at("O")).toEqual(NO_CARRIER);
    m.call.inCall = true;
    expect(m.at("O")).toEqual({ kind: "final", text: "CONNECT 150000000" });
    expect(m.at("H")).toEqual(OK);
    expect(m.call.did).toEqual(["resume@7", "hangUp@7"]);
  });
});

describe("Quectel extensions", () => {
  test("+QCSQ and +QNWINFO: no service while searching, the model's radio name once registered", () => {
    for (const model of ["BG96", "BG77"] as const) {
      const m = new Bench(["healthy"], { model });
      const t = MODEL_TEXT[model];
      expect(m.info("+QCSQ")).toEqual(['+QCSQ: "NOSERVICE"']);
      expect(m.info("+QNWINFO")).toEqual(["+QNWINFO: No Service"]);
      expect(m.info("+QCSQ=?")).toEqual([`+QCSQ: "NOSERVICE","${t.sysmode}"`]);
      m.advance(2000);
      expect(m.info("+QCSQ")).toEqual([`+QCSQ: "${t.sysmode}",-65,-91,155,-9`]);
      expect(m.info("+QNWINFO")).toEqual([`+QNWINFO: "${t.act}","00101","LTE BAND 20",6300`]);
    }
  });

  test('+QNWCFG="backoff": the T3346 seconds left and the reject cause, counting down on the clock', () => {
    const m = new Bench(["network-backoff:60"]);
    m.advance(2000);
    expect(m.info('+QNWCFG="backoff"')).toEqual(['+QNWCFG: "backoff",60,22']);
    m.advance(29_500);
    expect(m.info('+QNWCFG="BACKOFF"')).toEqual(['+QNWCFG: "backoff",31,22']);
    m.advance(30_500);
    expect(m.info('+QNWCFG="backoff"')).toEqual(['+QNWCFG: "backoff",0,0']);
    expect(m.at('+QNWCFG="band"')).toEqual(cme(50));
    expect(m.at("+QNWCFG?")).toEqual(ERROR);
  });

  test("+QPOWD: OK at once and done half a boot later; =0 never completes; bad value", () => {
    const m = new Bench();
    m.now = 100;
    expect(m.at("+QPOWD")).toEqual({ kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD", timeoutAt: 600, answered: true } });
    expect(m.at("+QPOWD=1")).toMatchObject({ kind: "later", pending: { timeoutAt: 600, answered: true } });
    expect(m.at("+QPOWD=0")).toEqual({ kind: "later", pending: { kind: "qpowd", line: "AT+QPOWD=0" } });
    expect(m.at("+QPOWD=2")).toEqual(cme(50));
    expect(m.info("+QPOWD=?")).toEqual(["+QPOWD: (0,1)"]);
  });

  test("settings the simulation does not model are accepted in every form", () => {
    const m = new Bench();
    for (const c of ['+QCFG="nwscanmode",3', "+QURCCFG?", "+QSCLK=1", '+QICSGP=1,1,"apn","u","p",1', '+CGAUTH=1,1,"u","p"', "+CGEREP=2", "+CTZU=1", "+CMGF=1", "+CPSMS=0", "+CEDRXS=0", "+IFC=2,2", '+CSCS="GSM"']) {
      expect(m.at(c)).toEqual(OK);
    }
    expect(m.info("+CCLK?")).toEqual([expect.stringMatching(/^\+CCLK: "\d\d\/\d\d\/\d\d,\d\d:\d\d:\d\d[+-]\d\d"$/)]);
  });
});

/**
 * The virtual modem's radio configuration commands (AT+QCFG settings kept in
 * NVRAM, AT+QDSIM with two SIMs, AT+COPS manual selection) and the roaming
 * registration, as results of the command table on a fake clock.
 */
import { describe, expect, test } from "bun:test";
import { Bench } from "./command-bench.ts";
import type { CmdResult } from "../../src/sim/at-syntax.ts";
import { ICCID, ICCID2, IMSI, IMSI2 } from "../../src/sim/quectel-text.ts";


const OK: CmdResult = { kind: "ok" };

describe("AT+QCFG radio settings", () => {
  test("read, write, read back; each write counted; kept across a reset", () => {
    const m = new Bench(["healthy"]);
    expect(m.info('+QCFG="nwscanseq"')).toEqual(['+QCFG: "nwscanseq",020301']);
    expect(m.info('+QCFG="band"')).toEqual(['+QCFG: "band",0xf,0x400a0e189f,0xa0e189f']);
    expect(m.info('+QCFG="roamservice"')).toEqual(['+QCFG: "roamservice",255']);
    expect(m.at('+QCFG="nwscanseq",0302,1')).toEqual(OK);
    expect(m.at('+QCFG="band",f,80084,80084,1')).toEqual(OK);
    expect(m.at('+QCFG="iotopmode",0,1')).toEqual(OK);
    expect(m.at('+QCFG="roamservice",1')).toEqual(OK);
    expect(m.m.radio.nv.writes).toBe(4);
    m.reboot();
    expect(m.info('+QCFG="nwscanseq"')).toEqual(['+QCFG: "nwscanseq",0302']);
    expect(m.info('+QCFG="band"')).toEqual(['+QCFG: "band",0xf,0x80084,0x80084']);
    expect(m.info('+QCFG="iotopmode"')).toEqual(['+QCFG: "iotopmode",0']);
    expect(m.info('+QCFG="roamservice"')).toEqual(['+QCFG: "roamservice",1']);
  });

  test("bad values are +CME ERROR: 50 and change nothing; unmodelled settings are still accepted", () => {
    const m = new Bench(["healthy"]);
    expect(m.at('+QCFG="nwscanseq",0904')).toEqual({ kind: "cme", code: 50 });
    expect(m.at('+QCFG="nwscanmode",2')).toEqual({ kind: "cme", code: 50 });
    expect(m.at('+QCFG="band",f,0,80084')).toEqual({ kind: "cme", code: 50 });
    expect(m.at('+QCFG="roamservice",7')).toEqual({ kind: "cme", code: 50 });
    expect(m.m.radio.nv.writes).toBe(0);
    expect(m.at('+QCFG="urc/port",1,"usbat"')).toEqual(OK);
  });

  test("radio-refuse: one setting answers +CME ERROR: 4, or OK while keeping its value", () => {
    const err = new Bench(["radio-refuse:band"]);
    expect(err.at('+QCFG="band",f,80084,80084,1')).toEqual({ kind: "cme", code: 4 });
    expect(err.at('+QCFG="roamservice",1,1')).toEqual(OK);
    const ign = new Bench(["radio-refuse:what=roamservice,how=ignore"]);
    expect(ign.at('+QCFG="roamservice",1,1')).toEqual(OK);
    expect(ign.info('+QCFG="roamservice"')).toEqual(['+QCFG: "roamservice",255']);
  });
});

describe("AT+COPS", () => {
  test("manual selection of the network here: numeric read-back; automatic again; not kept across a reset", () => {
    const m = new Bench(["healthy"]);
    m.advance(5_000);
    expect(m.info("+COPS?")).toEqual(['+COPS: 0,0,"TEST",8']);
    expect(m.at('+COPS=1,2,"00101"')).toEqual(OK);
    expect(m.info("+COPS?")).toEqual(['+COPS: 1,2,"00101",8']);
    expect(m.m.radio.stat).toBe(1);
    m.reboot();
    expect(m.info("+COPS?")).toEqual(["+COPS: 0"]);
  });

  test("manual selection of a network that is not here: +CME ERROR: 30, searching until automatic", () => {
    const m = new Bench(["healthy"]);
    m.advance(5_000);
    expect(m.at('+COPS=1,2,"26201"')).toEqual({ kind: "cme", code: 30 });
    expect(m.m.radio.stat).toBe(2);
    m.advance(60_000);
    expect(m.m.radio.stat).toBe(2);
    expect(m.at("+COPS=0")).toEqual(OK);
    m.advance(5_000);
    expect(m.m.radio.stat).toBe(1);
  });
});

describe("roaming registration", () => {
  test("roaming: stat 5 for good; roaming:home=S: home after S s from power-on, with a URC", () => {
    const roam = new Bench(["roaming"]);
    roam.advance(3_600_000);
    expect(roam.m.radio.stat).toBe(5);
    const home = new Bench(["roaming:home=60"]);
    expect(home.at("+CEREG=2")).toEqual(OK);
    home.advance(5_000);
    expect(home.m.radio.stat).toBe(5);
    expect(home.info("+CEREG?")[0]).toMatch(/^\+CEREG: 2,5,/);
    home.advance(60_000);
    expect(home.m.radio.stat).toBe(1);
    expect(home.urcs.at(-1)).toMatch(/^\+CEREG: 1,/);
  });
});

describe("AT+QDSIM (dual-sim)", () => {
  test("one slot: ERROR, as a BG96", () => {
    expect(new Bench(["healthy"]).at("+QDSIM?")).toEqual({ kind: "error" });
  });

  test("the other slot is taken at CFUN=1: its own IMSI and ICCID; the choice survives a reset", () => {
    const m = new Bench(["sim-missing", "dual-sim"]);
    expect(m.info("+QDSIM?")).toEqual(["+QDSIM: 0"]);
    expect(m.at("+CIMI")).toEqual({ kind: "cme", code: 10 });
    expect(m.at("+QDSIM=1")).toEqual(OK);
    // Chosen, not yet taken.
    expect(m.at("+CIMI")).toEqual({ kind: "cme", code: 10 });
    expect(m.at("+CFUN=0")).toEqual(OK);
    expect(m.at("+CFUN=1")).toEqual(OK);
    expect(m.urcs).toContain("+CPIN: READY");
    expect(m.info("+CIMI")).toEqual([IMSI2]);
    expect(m.info("+QCCID")).toEqual([`+QCCID: ${ICCID2}`]);
    m.advance(5_000);
    expect(m.m.radio.stat).toBe(1);
    m.reboot();
    expect(m.info("+QDSIM?")).toEqual(["+QDSIM: 1"]);
    expect(m.info("+QCCID")).toEqual([`+QCCID: ${ICCID2}`]);
    expect(m.at("+QDSIM=0")).toEqual(OK);
    m.reboot();
    expect(m.at("+CIMI")).toEqual({ kind: "cme", code: 10 });
    expect(IMSI).not.toBe(IMSI2);
    expect(ICCID).not.toBe(ICCID2);
  });

  test("sim2=denied: the second card is refused registration", () => {
    const m = new Bench(["dual-sim:sim2=denied"]);
    expect(m.at("+QDSIM=1")).toEqual(OK);
    m.at("+CFUN=0");
    m.at("+CFUN=1");
    m.advance(5_000);
    expect(m.m.radio.stat).toBe(3);
  });
});

import { describe, expect, test } from "bun:test";
import {
  accessTechnology,
  cmeSimState,
  isWrongPassword,
  parseBackoff,
  parseCops,
  parseCpin,
  parseCsq,
  parseQcsq,
  parseQnwinfo,
  parseRegistration,
  registrationStatus,
} from "../../src/modem/parse.ts";
import { limitFor, PROFILES, profileForModel, resolveProfile } from "../../src/modem/profiles.ts";

describe("3GPP / Quectel line parsers", () => {
  test("+CEREG query answer (with <n>) and URC (without)", () => {
    expect(parseRegistration('+CEREG: 2,1,"1A2B","01A2B3C4",8', true)).toEqual({ kind: "+CEREG", stat: 1, tac: "1A2B", cell: "01A2B3C4", act: 8, rejectCause: null });
    expect(parseRegistration('+CEREG: 5,"1A2B","01A2B3C4",9', false)).toMatchObject({ stat: 5, act: 9 });
    expect(parseRegistration("+CEREG: 3,3,,,,0,22", true)).toMatchObject({ stat: 3, rejectCause: 22 });
    expect(parseRegistration("+CREG: 0", false)).toMatchObject({ kind: "+CREG", stat: 0 });
    expect(parseRegistration("+CEREG: x", false)).toBeNull();
    expect(parseRegistration("+CSQ: 1,2", false)).toBeNull();
  });
  test("stat and AcT names", () => {
    expect([0, 1, 2, 3, 4, 5].map(registrationStatus)).toEqual(["not-registered", "home", "searching", "denied", "unknown", "roaming"]);
    expect([7, 8, 9, null].map(accessTechnology)).toEqual(["LTE", "LTE-M", "NB-IoT", null]);
  });
  test("+CSQ → dBm (TS 27.007 §8.5)", () => {
    expect(parseCsq("+CSQ: 0,99")).toBe(-113);
    expect(parseCsq("+CSQ: 31,99")).toBe(-51);
    expect(parseCsq("+CSQ: 99,99")).toBeNull();
    expect(parseCsq("garbage")).toBeNull();
  });
  test("+QCSQ eMTC with SINR scaling, GSM and NOSERVICE", () => {
    expect(parseQcsq('+QCSQ: "eMTC",-52,-81,195,-10')).toEqual({ sysmode: "eMTC", rssi: -52, rsrp: -81, sinr: 19, rsrq: -10 });
    expect(parseQcsq('+QCSQ: "GSM",-70')).toMatchObject({ rssi: -70, rsrp: null });
    expect(parseQcsq('+QCSQ: "NOSERVICE"')).toMatchObject({ rssi: null });
  });
  test("+QNWINFO and +COPS", () => {
    expect(parseQnwinfo('+QNWINFO: "eMTC","26201","LTE BAND 20",6300')).toEqual({ act: "eMTC", operator: "26201", band: "LTE BAND 20" });
    expect(parseQnwinfo('+QNWINFO: "No Service"')).toEqual({ act: "none", operator: null, band: null });
    expect(parseCops('+COPS: 0,0,"Telekom.de",8')).toEqual({ operator: "Telekom.de", act: 8 });
    expect(parseCops("+COPS: 0")).toEqual({ operator: null, act: null });
  });
  test("SIM states from +CPIN and +CME ERROR (numeric and verbose)", () => {
    expect(parseCpin("+CPIN: READY")).toBe("ready");
    expect(parseCpin("+CPIN: SIM PIN")).toBe("sim-pin");
    expect(parseCpin("+CPIN: SIM PUK")).toBe("sim-puk");
    expect(parseCpin("+CPIN: NOT INSERTED")).toBe("not-inserted");
    expect(cmeSimState("10")).toBe("not-inserted");
    expect(cmeSimState("SIM not inserted")).toBe("not-inserted");
    expect(cmeSimState("SIM PUK required")).toBe("sim-puk");
    expect(cmeSimState("14")).toBe("busy");
    expect(cmeSimState("operation not allowed")).toBeNull();
    expect(isWrongPassword("16")).toBe(true);
    expect(isWrongPassword("incorrect password")).toBe(true);
    expect(isWrongPassword("10")).toBe(false);
  });
  test("network back-off texts", () => {
    expect(parseBackoff("+CME ERROR: back-off timer running, 120 s")).toBe(120);
    expect(parseBackoff("T3396 30")).toBe(30);
    expect(parseBackoff("congestion")).toBe(720);
    expect(parseBackoff("+CME ERROR: 30")).toBeNull();
  });
});

describe("profiles", () => {
  test("picked from the model for auto, generic when unknown", () => {
    expect(profileForModel("BG77").id).toBe("quectel-bg77");
    expect(profileForModel("Quectel BG95-M3").id).toBe("quectel-bg95");
    expect(profileForModel("BG600L-M3").id).toBe("quectel-bg600l");
    expect(profileForModel("EC25").id).toBe("quectel-ec25");
    expect(profileForModel("SIM7600E").id).toBe("generic");
    expect(profileForModel(null).id).toBe("generic");
    expect(resolveProfile("quectel-bg96", "EC25").id).toBe("quectel-bg96");
    expect(resolveProfile("auto", "BG96").id).toBe("quectel-bg96");
  });
  test("time limits per command (vendor manual maxima)", () => {
    const p = PROFILES["quectel-bg96"];
    expect(limitFor(p, "AT")).toBe(300);
    expect(limitFor(p, "AT+CPIN?")).toBe(5_000);
    expect(limitFor(p, "AT+COPS=0")).toBe(180_000);
    expect(limitFor(p, "AT+CGATT=1")).toBe(140_000);
    expect(limitFor(p, "ATD*99#")).toBe(60_000);
    expect(p.limits.hungAfter).toBe(60_000);
    expect(p.resetCommand).toBe("AT+CFUN=1,1");
    expect(p.powerDownCommand).toBe("AT+QPOWD=1");
    expect(p.bootUrc).toBe("RDY");
    expect(p.usbInterfaces).toEqual({ data: 2, control: 3 });
    expect(PROFILES.generic.signalCommands).not.toContain("AT+QCSQ");
  });
});

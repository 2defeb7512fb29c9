import { describe, expect, test } from "bun:test";
import { CellkeepError } from "../../src/core/cause.ts";
import { maskSecrets, parseCommand, splitCommands } from "../../src/sim/at-syntax.ts";
import { splitQuotedFields } from "../../src/at/lines.ts";
import { SCENARIO_HELP, SCENARIO_NAMES, parseScenario, resolveBehaviour } from "../../src/sim/scenario.ts";

describe("scenario specs", () => {
  test("name, name:value, name:k=v,k=v", () => {
    expect(parseScenario("healthy")).toEqual({ name: "healthy", params: {} });
    expect(parseScenario("drop-after:30")).toEqual({ name: "drop-after", value: "30", params: {} });
    expect(parseScenario("hang:after=3,recover=60")).toEqual({ name: "hang", params: { after: "3", recover: "60" } });
  });

  test("unknown names and bad numbers are config-invalid", () => {
    expect(() => parseScenario("nope")).toThrow(CellkeepError);
    expect(() => resolveBehaviour(["drop-after:soon"])).toThrow(/not a number of seconds/);
    expect(() => resolveBehaviour(["healthy"], 0)).toThrow(/time scale/);
  });

  test("every scenario has help text", () => {
    for (const n of SCENARIO_NAMES) expect(SCENARIO_HELP[n].length).toBeGreaterThan(10);
  });

  test("defaults are the healthy modem", () => {
    const b = resolveBehaviour([]);
    expect(b).toMatchObject({ sim: "ready", registration: "home", autoAttach: true, auth: null, assignAddress: true, hang: null, dropAfterMs: null });
    expect(b.registrationMs).toBe(2000);
    expect(b.guardMs).toBe(1000);
  });

  test("time scale multiplies every delay once", () => {
    const b = resolveBehaviour(["slow-registration:60", "drop-after:30", "network-backoff:120"], 0.01);
    expect(b.registrationMs).toBe(600);
    expect(b.dropAfterMs).toBe(300);
    expect(b.backoffMs).toBe(1200);
    expect(b.bootMs).toBe(10);
    expect(b.guardMs).toBe(10);
  });

  test("scenarios combine; overrides win last", () => {
    const b = resolveBehaviour(["dial-before-attach", "garbage:5", "sim-pin:9999", "reboot-loop:every=20,times=3", "port-vanish:7"], 1, { poolStart: "10.1.0.2" });
    expect(b.autoAttach).toBe(false);
    expect(b.garbageEveryMs).toBe(5000);
    expect(b.sim).toBe("pin");
    expect(b.pin).toBe("9999");
    expect(b.rebootLoop).toEqual({ everyMs: 20_000, times: 3 });
    expect(b.portVanish).toEqual({ afterConnectMs: 7000 });
    expect(b.poolStart).toBe("10.1.0.2");
    expect(resolveBehaviour(["hang"]).hang).toEqual({ afterCommands: 3, recoverMs: null, afterConnectMs: null });
    expect(resolveBehaviour(["hang:call=10"], 0.5).hang).toEqual({ afterCommands: 3, recoverMs: null, afterConnectMs: 5000 });
    expect(resolveBehaviour(["dead-peer:4"]).deadPeerAfterMs).toBe(4000);
    expect(resolveBehaviour(["wrong-credentials"]).auth).toBe("reject");
    expect(resolveBehaviour(["no-ip"]).assignAddress).toBe(false);
  });

  test("a bare first value may precede key=value pairs", () => {
    expect(parseScenario("network-drop:20,back=5")).toEqual({ name: "network-drop", value: "20", params: { back: "5" } });
    expect(() => parseScenario("network-drop:back=5,20")).toThrow(/expected key=value/);
  });

  test("the new network scenarios: parameters, defaults, scaled once", () => {
    expect(resolveBehaviour(["registration-denied"])).toMatchObject({ registration: "denied", deniedForMs: null, denyCause: null });
    expect(resolveBehaviour(["registration-denied:for=20,cause=15"], 0.1)).toMatchObject({ registration: "denied", deniedForMs: 2000, denyCause: 15 });
    expect(resolveBehaviour(["registration-denied:30"]).deniedForMs).toBe(30_000);
    expect(resolveBehaviour(["apn-rejected"]).acceptApn).toBe("internet");
    expect(resolveBehaviour(["apn-rejected:corp.example"]).acceptApn).toBe("corp.example");
    expect(resolveBehaviour([]).acceptApn).toBeNull();
    expect(resolveBehaviour(["t3396:45"], 0.01).t3396Ms).toBe(450);
    expect(resolveBehaviour(["t3396"]).t3396Ms).toBe(60_000);
    expect(resolveBehaviour(["reboot-mid-call"]).rebootMidCall).toEqual({ afterConnectMs: 20_000, times: 1 });
    expect(resolveBehaviour(["reboot-mid-call:after=5,times=3"], 0.1).rebootMidCall).toEqual({ afterConnectMs: 500, times: 3 });
    expect(resolveBehaviour(["nocarrier-payload"]).noCarrierPayload).toEqual({ everyMs: 1000, bytes: 100 });
    expect(resolveBehaviour(["nocarrier-payload:every=2,bytes=50"], 0.5).noCarrierPayload).toEqual({ everyMs: 1000, bytes: 50 });
    expect(resolveBehaviour(["network-drop"]).networkDrop).toEqual({ afterConnectMs: 20_000, backMs: 10_000, times: Number.POSITIVE_INFINITY });
    expect(resolveBehaviour(["network-drop:after=30,back=60,times=1"], 0.01).networkDrop).toEqual({ afterConnectMs: 300, backMs: 600, times: 1 });
    expect(() => resolveBehaviour(["reboot-mid-call:after=5,times=two"])).toThrow(/whole number/);
    expect(() => resolveBehaviour(["registration-denied:for=soon"])).toThrow(/not a number of seconds/);
  });
});

describe("AT syntax", () => {
  test("split command lines", () => {
    expect(splitCommands("E0V1&D2")).toEqual(["E0", "V1", "&D2"]);
    expect(splitCommands('+CGDCONT=1,"IP","a;b";+CGATT?')).toEqual(['+CGDCONT=1,"IP","a;b"', "+CGATT?"]);
    expect(splitCommands("+IPR=115200;&W")).toEqual(["+IPR=115200", "&W"]);
    expect(splitCommands("D*99***1#")).toEqual(["D*99***1#"]);
    expect(splitCommands("S7=30S0?")).toEqual(["S7=30", "S0?"]);
    expect(splitCommands("")).toEqual([]);
    expect(splitCommands("!")).toBeNull();
  });

  test("split arguments, quotes removed", () => {
    expect(splitQuotedFields('1,"IP","internet.test"')).toEqual(["1", "IP", "internet.test"]);
    expect(splitQuotedFields('"a,b",2')).toEqual(["a,b", "2"]);
  });

  test("parse one command: basic name and rest in upper case; extended form and arguments with their case kept", () => {
    expect(parseCommand("e0")).toEqual({ name: "E", form: "exec", args: [], rest: "0" });
    expect(parseCommand("&d2")).toEqual({ name: "&D", form: "exec", args: [], rest: "2" });
    expect(parseCommand('d"*99#"')).toEqual({ name: "D", form: "exec", args: [], rest: '"*99#"' });
    expect(parseCommand("S0?")).toEqual({ name: "S", form: "exec", args: [], rest: "0?" });
    expect(parseCommand("+cgatt")).toEqual({ name: "+CGATT", form: "exec", args: [], rest: "" });
    expect(parseCommand("+CGATT?")).toEqual({ name: "+CGATT", form: "read", args: [], rest: "" });
    expect(parseCommand("+CGATT=?")).toEqual({ name: "+CGATT", form: "test", args: [], rest: "" });
    expect(parseCommand('+cgdcont=1,"IP","Internet.Test"')).toEqual({ name: "+CGDCONT", form: "set", args: ["1", "IP", "Internet.Test"], rest: "" });
    expect(parseCommand("+C SQ")).toBeNull();
    expect(parseCommand("+")).toBeNull();
  });

  test("secrets are masked", () => {
    expect(maskSecrets('AT+CPIN="1234"')).toBe("AT+CPIN=***");
    expect(maskSecrets('AT+CGAUTH=1,1,"user","hunter2";+CGATT?')).toBe("AT+CGAUTH=***;+CGATT?");
    expect(maskSecrets('AT+QICSGP=1,1,"apn","u","pw"')).toBe("AT+QICSGP=***");
    expect(maskSecrets("AT+CPIN?")).toBe("AT+CPIN?");
  });
});

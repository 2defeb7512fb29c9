import { afterEach, describe, expect, test } from "bun:test";
import { Terminal, lines } from "./helpers.ts";

let term: Terminal | null = null;
afterEach(async () => {
  await term?.stop();
  term = null;
});

async function booted(opts: ConstructorParameters<typeof Terminal>[0] = {}): Promise<Terminal> {
  term = new Terminal(opts);
  return term;
}

describe("power-on and basic AT", () => {
  test("silent while booting, then RDY and the boot URCs", async () => {
    const t = await booted();
    expect(await t.at("AT")).toBe("");
    const boot = await t.boot();
    expect(lines(boot)).toEqual(["RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE"]);
    expect(t.sim.modem.core.counters.droppedBytes).toBe(3);
  });

  test("echo on until ATE0; OK framed by CR LF", async () => {
    const t = await booted();
    await t.boot();
    expect(await t.at("AT")).toBe("AT\r\r\nOK\r\n");
    expect(await t.at("ATE0")).toBe("ATE0\r\r\nOK\r\n");
    expect(await t.at("AT")).toBe("\r\nOK\r\n");
  });

  test("ATI identifies a Quectel BG96", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    // One information block: lines joined by CR LF, then the final result (V.250 §5.7).
    expect(await t.at("ATI")).toBe("\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n");
    expect(lines(await t.at("AT+CGMM"))).toEqual(["BG96", "OK"]);
    expect(lines(await t.at("AT+CGMR"))).toEqual(["BG96MAR02A07M1G", "OK"]);
    expect(lines(await t.at("AT+CGSN"))).toEqual(["866425031234567", "OK"]);
    expect(lines(await t.at("AT+CIMI"))).toEqual(["001010123456789", "OK"]);
    expect(lines(await t.at("AT+QCCID"))).toEqual(["+QCCID: 89001012345678901234", "OK"]);
  });

  test("BG77 model text", async () => {
    const t = await booted({ booted: true, behaviour: { model: "BG77" } });
    await t.at("ATE0");
    expect(lines(await t.at("ATI"))[1]).toBe("BG77");
  });

  test("unknown commands give ERROR; CMEE selects numeric or verbose +CME ERROR", async () => {
    const t = await booted({ booted: true, scenarios: ["sim-missing"] });
    await t.at("ATE0");
    expect(lines(await t.at("AT+FOO"))).toEqual(["ERROR"]);
    expect(lines(await t.at("ATY"))).toEqual(["ERROR"]);
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["+CME ERROR: 10"]);
    await t.at("AT+CMEE=2");
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["+CME ERROR: SIM not inserted"]);
    await t.at("AT+CMEE=0");
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["ERROR"]);
  });

  test("concatenated commands: basic run together, extended split by ';'", async () => {
    const t = await booted({ booted: true });
    expect(lines(await t.at("ATE0V1&D2"))).toEqual(["ATE0V1&D2", "OK"]);
    expect(lines(await t.at("AT+CMEE=2;+CFUN?;+CGATT?"))).toEqual(["+CFUN: 1", "+CGATT: 0", "OK"]);
    expect(lines(await t.at("AT+CMEE?;+BOGUS"))).toEqual(["+CMEE: 2", "ERROR"]);
  });

  test("AT&D accepts 0..2, ATV0 gives numeric result codes", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    expect(lines(await t.at("AT&D2"))).toEqual(["OK"]);
    expect(lines(await t.at("AT&D3"))).toEqual(["ERROR"]);
    expect(await t.at("ATV0")).toBe("0\r");
    expect(await t.at("AT+NOPE")).toBe("4\r");
  });
});

describe("SIM, registration, attach", () => {
  test("healthy: searching, then home after the registration delay; URCs in =2 mode carry TAC/cell", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    await t.at("AT+CEREG=2");
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 2,2", "OK"]);
    expect(lines(await t.at("AT+COPS?"))).toEqual(["+COPS: 0", "OK"]);
    expect(lines(await t.at("AT+CSQ"))).toEqual(["+CSQ: 99,99", "OK"]);
    await t.advance(2000);
    expect(lines(t.take())).toEqual(['+CEREG: 1,"1A2B","01A2D001",8']);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(['+CEREG: 2,1,"1A2B","01A2D001",8', "OK"]);
    expect(lines(await t.at("AT+CGREG?"))).toEqual(["+CGREG: 0,1", "OK"]);
    expect(lines(await t.at("AT+CREG?"))).toEqual(["+CREG: 0,1", "OK"]);
    expect(lines(await t.at("AT+COPS?"))).toEqual(['+COPS: 0,0,"TEST",8', "OK"]);
    expect(lines(await t.at("AT+CSQ"))).toEqual(["+CSQ: 24,99", "OK"]);
    expect(lines(await t.at("AT+QCSQ"))).toEqual(['+QCSQ: "CAT-M1",-65,-91,155,-9', "OK"]);
    expect(lines(await t.at("AT+QNWINFO"))).toEqual(['+QNWINFO: "CAT-M1","00101","LTE BAND 20",6300', "OK"]);
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 0", "OK"]);
    await t.advance(500);
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 1", "OK"]);
  });

  test("time scale shrinks the delays", async () => {
    const t = await booted({ booted: true, timeScale: 0.01 });
    await t.at("ATE0");
    await t.advance(19);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 0,2", "OK"]);
    await t.advance(1);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 0,1", "OK"]);
  });

  test("slow-registration:10 takes 10 s", async () => {
    const t = await booted({ booted: true, scenarios: ["slow-registration:10"] });
    await t.at("ATE0");
    await t.advance(9999);
    expect(lines(await t.at("AT+CGREG?"))).toEqual(["+CGREG: 0,2", "OK"]);
    await t.advance(1);
    expect(lines(await t.at("AT+CGREG?"))).toEqual(["+CGREG: 0,1", "OK"]);
  });

  test("sim-missing: CME 10 everywhere the SIM is needed, never registers", async () => {
    const t = await booted({ scenarios: ["sim-missing"] });
    expect(lines(await t.boot())).toEqual(["RDY", "+CFUN: 1"]);
    await t.at("ATE0");
    expect(lines(await t.at("AT+CIMI"))).toEqual(["+CME ERROR: 10"]);
    await t.advance(60_000);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 0,0", "OK"]);
    expect(lines(await t.at("AT+CGATT=1"))).toEqual(["+CME ERROR: 10"]);
  });

  test("sim-pin: SIM PIN until the right PIN; wrong PINs count down to SIM PUK", async () => {
    const t = await booted({ booted: true, scenarios: ["sim-pin:4321"] });
    await t.at("ATE0");
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["+CPIN: SIM PIN", "OK"]);
    expect(lines(await t.at("AT+CIMI"))).toEqual(["+CME ERROR: 11"]);
    expect(lines(await t.at('AT+CPIN="1111"'))).toEqual(["+CME ERROR: 16"]);
    expect(lines(await t.at('AT+CPIN="4321"'))).toEqual(["OK", "+CPIN: READY", "+QIND: SMS DONE"]);
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["+CPIN: READY", "OK"]);
    await t.advance(2000);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 0,1", "OK"]);
    const cmd = t.events.find((e) => e.type === "sim.command" && e.line.includes("CPIN=")) as { line: string } | undefined;
    expect(cmd?.line).toBe("AT+CPIN=***");
  });

  test("sim-pin: three wrong PINs lock the SIM (PUK)", async () => {
    const t = await booted({ booted: true, scenarios: ["sim-pin"] });
    await t.at("ATE0");
    for (let i = 0; i < 3; i++) expect(lines(await t.at('AT+CPIN="0000"'))).toEqual(["+CME ERROR: 16"]);
    expect(lines(await t.at("AT+CPIN?"))).toEqual(["+CPIN: SIM PUK", "OK"]);
    expect(lines(await t.at('AT+CPIN="1234"'))).toEqual(["+CME ERROR: 12"]);
  });

  test("registration-denied: stat 3 for good, attach refused", async () => {
    const t = await booted({ booted: true, scenarios: ["registration-denied"] });
    await t.at("ATE0");
    await t.at("AT+CEREG=1");
    await t.advance(2000);
    expect(lines(t.take())).toEqual(["+CEREG: 3"]);
    await t.advance(600_000);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(["+CEREG: 1,3", "OK"]);
    expect(lines(await t.at("AT+CGATT=1"))).toEqual(["+CME ERROR: 30"]);
  });

  test("network-backoff: rejected with cause 22 and a readable timer, then registers", async () => {
    const t = await booted({ booted: true, scenarios: ["network-backoff:60"] });
    await t.at("ATE0");
    await t.at("AT+CEREG=3");
    await t.advance(2000);
    expect(lines(t.take())).toEqual(['+CEREG: 3,"1A2B","01A2D001",8,0,22']);
    expect(lines(await t.at("AT+CEREG?"))).toEqual(['+CEREG: 3,3,"1A2B","01A2D001",8,0,22', "OK"]);
    expect(lines(await t.at('AT+QNWCFG="backoff"'))).toEqual(['+QNWCFG: "backoff",60,22', "OK"]);
    await t.advance(30_000);
    expect(lines(await t.at('AT+QNWCFG="backoff"'))).toEqual(['+QNWCFG: "backoff",30,22', "OK"]);
    await t.advance(30_000);
    expect(lines(t.take())).toEqual(["+CEREG: 2"]);
    await t.advance(2000);
    expect(lines(t.take())).toEqual(['+CEREG: 1,"1A2B","01A2D001",8']);
    expect(lines(await t.at('AT+QNWCFG="backoff"'))).toEqual(['+QNWCFG: "backoff",0,0', "OK"]);
  });

  test("dial-before-attach: no automatic attach; AT+CGATT=1 answers OK after the attach delay", async () => {
    const t = await booted({ booted: true, scenarios: ["dial-before-attach"] });
    await t.at("ATE0");
    await t.advance(10_000);
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 0", "OK"]);
    expect(await t.at("AT+CGATT=1")).toBe("");
    // Commands typed while it runs wait their turn.
    await t.write("AT+CGATT?\r");
    expect(t.take()).toBe("");
    await t.advance(500);
    expect(lines(t.take())).toEqual(["OK", "+CGATT: 1", "OK"]);
  });

  test("CGATT=1 while searching waits for registration", async () => {
    const t = await booted({ booted: true, scenarios: ["dial-before-attach"] });
    await t.at("ATE0");
    expect(await t.at("AT+CGATT=1")).toBe("");
    await t.advance(2000);
    expect(t.take()).toBe("");
    await t.advance(500);
    expect(lines(t.take())).toEqual(["OK"]);
  });

  test("CFUN=0/4 takes the radio off, CFUN=1 brings registration back", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    await t.advance(3000);
    expect(lines(await t.at("AT+CFUN=4"))).toEqual(["OK"]);
    expect(lines(await t.at("AT+CFUN?"))).toEqual(["+CFUN: 4", "OK"]);
    expect(lines(await t.at("AT+CEREG?;+CGATT?"))).toEqual(["+CEREG: 0,0", "+CGATT: 0", "OK"]);
    expect(lines(await t.at("ATD*99#"))).toEqual(["NO CARRIER"]);
    expect(lines(await t.at("AT+CFUN=1"))).toEqual(["OK"]);
    await t.advance(2500);
    expect(lines(await t.at("AT+CEREG?;+CGATT?"))).toEqual(["+CEREG: 0,1", "+CGATT: 1", "OK"]);
  });

  test("CGDCONT set and read", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    expect(lines(await t.at('AT+CGDCONT=1,"IP","internet.test"'))).toEqual(["OK"]);
    expect(lines(await t.at('AT+CGDCONT=2,"IPV4V6","other"'))).toEqual(["OK"]);
    expect(lines(await t.at("AT+CGDCONT?"))).toEqual(['+CGDCONT: 1,"IP","internet.test","0.0.0.0",0,0,0', '+CGDCONT: 2,"IPV4V6","other","0.0.0.0",0,0,0', "OK"]);
    expect(lines(await t.at('AT+CGDCONT=1,"FOO","x"'))).toEqual(["+CME ERROR: 50"]);
  });
});

describe("reboot and power", () => {
  test("CFUN=1,1: OK, silence, then RDY; settings back to defaults (echo on)", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    expect(lines(await t.at("AT+CFUN=1,1"))).toEqual(["OK"]);
    expect(await t.at("AT")).toBe("");
    expect(lines(await t.boot())).toEqual(["RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE"]);
    expect(await t.at("AT")).toBe("AT\r\r\nOK\r\n");
  });

  test("QPOWD: OK then POWERED DOWN, deaf until power cycle", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    expect(lines(await t.at("AT+QPOWD"))).toEqual(["OK"]);
    await t.advance(1000);
    expect(lines(t.take())).toEqual(["POWERED DOWN"]);
    expect(t.sim.modem.core.powerState).toBe("off");
    await t.advance(60_000);
    expect(await t.at("AT")).toBe("");
    t.sim.modem.powerCycle();
    expect(lines(await t.boot())).toContain("RDY");
  });

  test("hang: stops answering after N commands, CFUN=1,1 unheard, power cycle recovers", async () => {
    const t = await booted({ booted: true, scenarios: ["hang:2"] });
    expect(lines(await t.at("ATE0"))).toEqual(["ATE0", "OK"]);
    expect(lines(await t.at("AT"))).toEqual(["OK"]);
    expect(await t.at("AT")).toBe("");
    expect(await t.at("AT+CFUN=1,1")).toBe("");
    await t.advance(600_000);
    expect(t.take()).toBe("");
    expect(t.events.some((e) => e.type === "sim.hang" && e.hung)).toBe(true);
    t.sim.modem.powerCycle();
    expect(lines(await t.boot())).toContain("RDY");
    // It hangs once per run: after recovery it keeps answering.
    for (let i = 0; i < 5; i++) expect(lines(await t.at("AT")).at(-1)).toBe("OK");
  });

  test("what the DTE sends into silence is reported as sim.unheard lines (hung, booting), never as answered commands", async () => {
    const t = await booted({ booted: true, scenarios: ["hang:1"] });
    await t.at("ATE0");
    await t.write("AT\r");
    await t.write(Uint8Array.of(0x7e, 0xff, 0x03, 0x0d)); // PPP bytes with a CR: not a command line
    await t.write('AT+CPIN="1234"\r');
    await t.write("AT+CFUN=1,1\r");
    const unheard = () => t.events.filter((e) => e.type === "sim.unheard").map((e) => `${(e as { state: string }).state}:${(e as { line: string }).line}`);
    expect(unheard()).toEqual(["hung:AT", "hung:AT+CPIN=***", "hung:AT+CFUN=1,1"]);
    expect(t.events.filter((e) => e.type === "sim.command").map((e) => (e as { line: string }).line)).toEqual(["ATE0"]);
    t.sim.modem.powerCycle();
    await t.write("AT\r");
    expect(unheard().at(-1)).toBe("booting:AT");
  });

  test("hang:after=1,recover=30: the module's watchdog reboots it", async () => {
    const t = await booted({ booted: true, scenarios: ["hang:after=1,recover=30"] });
    await t.at("ATE0");
    expect(await t.at("AT")).toBe("");
    await t.advance(30_000);
    expect(lines(await t.boot())).toContain("RDY");
    expect(lines(await t.at("AT")).at(-1)).toBe("OK");
  });

  test("reboot-loop: reboots by itself every N s", async () => {
    const t = await booted({ booted: true, scenarios: ["reboot-loop:every=10,times=2"] });
    await t.advance(10_000);
    expect(t.sim.modem.core.powerState).toBe("booting");
    await t.advance(1000);
    expect(lines(t.take())).toContain("RDY");
    await t.advance(11_000);
    expect(lines(t.take())).toContain("RDY");
    await t.advance(60_000);
    expect(t.take()).toBe("");
    expect(t.events.filter((e) => e.type === "sim.power" && e.reason === "reboot-loop")).toHaveLength(2);
  });
});

describe("garbage", () => {
  test("random bytes and URC storms between commands, never inside a response", async () => {
    const t = await booted({ booted: true, scenarios: ["garbage:1"] });
    await t.at("ATE0");
    await t.advance(10_000);
    const noise = t.take();
    expect(noise.length).toBeGreaterThan(0);
    expect(noise).not.toContain("OK");
    expect(noise).not.toContain("ERROR");
    const kinds = new Set(t.events.filter((e) => e.type === "sim.garbage").map((e) => (e as { kind: string }).kind));
    expect(kinds.size).toBe(2);
    // A command still gets exactly its answer.
    expect(lines(await t.at("AT+CGATT?"))).toEqual(["+CGATT: 1", "OK"]);
  });
});

describe("robustness", () => {
  test("random bytes from the DTE never throw; the modem still answers AT afterwards", async () => {
    const t = await booted({ booted: true });
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 500; i++) {
      const chunk = new Uint8Array(1 + Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256));
      await t.write(chunk);
    }
    // Finish whatever line the noise left open, then talk normally.
    await t.write("\r");
    await t.advance(5000);
    if (t.sim.modem.core.modeState !== "command") {
      await t.advance(1000);
      await t.write("+++");
      await t.advance(1000);
      await t.at("ATH");
    }
    t.take();
    expect(lines(await t.at("AT")).at(-1)).toBe("OK");
  });

  test("overlong command line is cut, not grown without bound", async () => {
    const t = await booted({ booted: true });
    await t.at("ATE0");
    expect(lines(await t.at(`AT${"E0".repeat(2500)}`))).toEqual(["OK"]);
    expect(lines(await t.at(`AT+${"X".repeat(5000)}`))).toEqual(["ERROR"]);
  });
});

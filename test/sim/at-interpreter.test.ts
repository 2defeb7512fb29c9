/**
 * The AT interpreter alone: a host that records what it is told, and a small
 * command table of its own (the V.250 basic commands plus test commands), so
 * the line discipline, result wording, pending commands and URC holding are
 * tested without the Quectel personality or a modem behind them.
 */
import { describe, expect, test } from "bun:test";
import { AtInterpreter, type InterpreterHost } from "../../src/sim/at-interpreter.ts";
import { ChannelSettings, cmeResult, finalText, infoText, urcText } from "../../src/sim/at-responses.ts";
import { BASIC_COMMANDS } from "../../src/sim/commands/basic.ts";
import { type AtContext, commandTable, cme, ok } from "../../src/sim/commands/table.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { TimerTable } from "../../src/sim/timers.ts";

class RecordingHost implements InterpreterHost {
  text = "";
  readonly events: SimEvent[] = [];
  readonly timers = new TimerTable<"pending">();
  urcsOn = true;
  readonly did: string[] = [];
  output(bytes: Uint8Array): void {
    this.text += String.fromCharCode(...bytes);
  }
  emit(e: SimEvent): void {
    this.events.push(e);
  }
  arm(kind: "pending", at: number): void {
    this.timers.arm(kind, at);
  }
  disarm(kind: "pending"): void {
    this.timers.disarm(kind);
  }
  urcsAllowed(): boolean {
    return this.urcsOn;
  }
  connected(cid: number, now: number): void {
    this.did.push(`connected ${cid}@${now}`);
  }
  resetModule(now: number): void {
    this.did.push(`reset@${now}`);
  }
  poweredDown(now: number): void {
    this.did.push(`poweredDown@${now}`);
  }
  commandLineDone(now: number): void {
    this.did.push(`done@${now}`);
  }
  take(): string {
    const t = this.text;
    this.text = "";
    return t;
  }
  commandEvents(): string[] {
    return this.events.filter((e) => e.type === "sim.command").map((e) => `${e.line} → ${e.result}`);
  }
}

function rig() {
  const host = new RecordingHost();
  const settings = new ChannelSettings();
  let interpreter: AtInterpreter | null = null;
  const table = commandTable(BASIC_COMMANDS, {
    "+PING": () => ok(["+PING: pong"]),
    "+TWO": () => ok(["one", "two"]),
    "+FAIL": () => cme(30),
    // A URC raised while the line runs (e.g. registration changing under AT+COPS).
    "+URC": () => {
      interpreter!.urc("+EVENT: 1");
      return ok();
    },
    "+WAIT": (_cmd, _m, now) => ({ kind: "later", pending: { kind: "cgatt", line: "AT+WAIT", timeoutAt: now + 100 } }),
    "+OFF": (_cmd, _m, now) => ({ kind: "later", pending: { kind: "qpowd", line: "AT+OFF", timeoutAt: now + 50, answered: true } }),
    "+CPIN": () => ok(),
    D: () => ({ kind: "connect", cid: 3 }),
    "+RESET": () => ({ kind: "reset" }),
  });
  // The basic commands touch only the settings and (ATZ) the radio's URC modes.
  const modem = { settings, radio: { resetUrcModes: () => {} } } as unknown as AtContext;
  interpreter = new AtInterpreter(settings, table, modem, host);
  const send = (s: string, now = 0) => interpreter!.input(Uint8Array.from(s, (c) => c.charCodeAt(0)), now);
  const at = (line: string, now = 0) => {
    host.take();
    send(`${line}\r`, now);
    return host.take();
  };
  return { host, settings, interpreter, send, at };
}

describe("AtInterpreter: line discipline", () => {
  test("echo while ATE1 (the default), one CR LF-framed OK per line", () => {
    const { at } = rig();
    expect(at("AT")).toBe("AT\r\r\nOK\r\n");
    expect(at("ATE0")).toBe("ATE0\r\r\nOK\r\n");
    expect(at("AT")).toBe("\r\nOK\r\n");
    expect(at("at+ping")).toBe("\r\n+PING: pong\r\n\r\nOK\r\n");
  });

  test("backspace edits, noise before A and a lone LF are ignored, a line that is not AT gets nothing", () => {
    const { at, send, host } = rig();
    at("ATE0");
    expect(at("xyz\nAT+PINX\bG")).toBe("\r\n+PING: pong\r\n\r\nOK\r\n");
    expect(at("hello")).toBe("");
    send("\n");
    expect(host.take()).toBe("");
  });

  test('"A/" repeats the last command line at once, without CR', () => {
    const { at, send, host } = rig();
    at("ATE0");
    at("AT+PING");
    send("A/");
    expect(host.take()).toBe("\r\n+PING: pong\r\n\r\nOK\r\n");
  });

  test("a line is cut at 1024 characters", () => {
    const { at } = rig();
    at("ATE0");
    expect(at(`AT${" ".repeat(1100)}+PING`)).toBe("\r\nOK\r\n");
  });

  test("dropInput forgets a half-typed line; idle is false while one is typed", () => {
    const { at, send, interpreter, host } = rig();
    at("ATE0");
    send("AT+PI");
    expect(interpreter.idle).toBe(false);
    interpreter.dropInput();
    expect(interpreter.idle).toBe(true);
    send("NG\r");
    expect(host.take()).toBe("");
  });
});

describe("AtInterpreter: command lines and results", () => {
  test("every information response in order, then one final result; the line stops at the first command that is not OK", () => {
    const { at } = rig();
    at("ATE0");
    expect(at("AT+PING;+TWO")).toBe("\r\n+PING: pong\r\n\r\none\r\ntwo\r\n\r\nOK\r\n");
    expect(at("AT+PING;+FAIL;+TWO")).toBe("\r\n+PING: pong\r\n\r\n+CME ERROR: 30\r\n");
    expect(at("AT+NOPE")).toBe("\r\nERROR\r\n");
    expect(at("AT1")).toBe("\r\nERROR\r\n");
  });

  test("+CMEE chooses ERROR, numeric or verbose +CME ERROR", () => {
    const { at } = rig();
    at("ATE0");
    at("AT+CMEE=0");
    expect(at("AT+FAIL")).toBe("\r\nERROR\r\n");
    at("AT+CMEE=2");
    expect(at("AT+FAIL")).toBe("\r\n+CME ERROR: no network service\r\n");
  });

  test("ATV0: numeric final results ending in CR, information without the leading CR LF; ATQ1: silence", () => {
    const { at } = rig();
    at("ATE0");
    expect(at("ATV0")).toBe("0\r");
    expect(at("AT+PING")).toBe("+PING: pong\r\n0\r");
    expect(at("AT+FAIL")).toBe("+CME ERROR: 30\r\n");
    expect(at("ATD*99#")).toBe("1\r");
    expect(at("ATQ1")).toBe("");
    expect(at("AT+PING")).toBe("");
  });

  test("each line is reported as a sim.command event with its result, secrets masked", () => {
    const { at, host } = rig();
    at('AT+CPIN="1234";+FAIL');
    at("AT+PING");
    expect(host.commandEvents()).toEqual(["AT+CPIN=***;+FAIL → +CME ERROR: 30", "AT+PING → OK"]);
  });

  test("CONNECT: the host starts the call after the result; a reset result says OK, then the host resets; every line counts as done", () => {
    const { at, host } = rig();
    expect(at("ATD*99#", 5)).toBe("ATD*99#\r\r\nCONNECT 150000000\r\n");
    expect(at("AT+RESET", 6)).toBe("AT+RESET\r\r\nOK\r\n");
    expect(host.did).toEqual(["connected 3@5", "done@5", "reset@6", "done@6"]);
  });
});

describe("AtInterpreter: pending commands", () => {
  test("no final result while pending; what is typed meanwhile waits, then runs after the answer", () => {
    const { at, send, host, interpreter } = rig();
    at("ATE0");
    expect(at("AT+WAIT", 10)).toBe("");
    expect(host.timers.next()).toBe(110);
    expect(interpreter.pendingKind).toBe("cgatt");
    expect(interpreter.idle).toBe(false);
    send("AT+PING\r", 20);
    expect(host.take()).toBe("");
    interpreter.completePending(50, { kind: "ok" });
    expect(host.take()).toBe("\r\nOK\r\n\r\n+PING: pong\r\n\r\nOK\r\n");
    expect(host.timers.next()).toBeNull();
    expect(host.commandEvents()).toEqual(["ATE0 → OK", "AT+WAIT → (pending)", "AT+WAIT → OK", "AT+PING → OK"]);
  });

  test("a pending AT+CGATT that runs out of time answers +CME ERROR: 30", () => {
    const { at, host, interpreter } = rig();
    at("ATE0");
    at("AT+WAIT");
    interpreter.pendingTimeout(100);
    expect(host.take()).toBe("\r\n+CME ERROR: 30\r\n");
    expect(interpreter.pendingKind).toBeNull();
  });

  test("a command answered at once (AT+QPOWD): OK now, POWERED DOWN when its time is up, typed bytes lost", () => {
    const { at, send, host, interpreter } = rig();
    at("ATE0");
    expect(at("AT+OFF", 0)).toBe("\r\nOK\r\n");
    send("AT+PING\r");
    interpreter.pendingTimeout(50);
    expect(host.take()).toBe("\r\nPOWERED DOWN\r\n");
    expect(host.did.at(-1)).toBe("poweredDown@50");
    send("AT\r");
    expect(host.take()).toBe("\r\nOK\r\n");
  });
});

describe("AtInterpreter: unsolicited results", () => {
  test("a URC raised while a line runs goes out after its final result", () => {
    const { at } = rig();
    at("ATE0");
    expect(at("AT+URC;+PING")).toBe("\r\n+PING: pong\r\n\r\nOK\r\n\r\n+EVENT: 1\r\n");
  });

  test("URCs wait while a command is pending and come after its answer; they are always CR LF framed", () => {
    const { at, host, interpreter } = rig();
    at("ATE0");
    at("ATV0");
    at("AT+WAIT");
    interpreter.urc("+CEREG: 1");
    expect(host.take()).toBe("");
    interpreter.completePending(1, { kind: "ok" });
    expect(host.take()).toBe("0\r\r\n+CEREG: 1\r\n");
  });

  test("where the host allows none (data mode, switched off) URCs are dropped, held ones too", () => {
    const { at, host, interpreter } = rig();
    at("AT+WAIT");
    interpreter.urc("+CEREG: 5");
    host.urcsOn = false;
    interpreter.urc("+CEREG: 2");
    interpreter.completePending(1, { kind: "ok" });
    expect(host.take()).toBe("\r\nOK\r\n");
  });
});

describe("response wording (at-responses.ts)", () => {
  const v1 = { quiet: false, verbose: true };
  const v0 = { quiet: false, verbose: false };
  test("information and final results under ATV1, ATV0, ATQ1", () => {
    expect(infoText(["a", "b"], v1)).toBe("\r\na\r\nb\r\n");
    expect(infoText(["a", "b"], v0)).toBe("a\r\nb\r\n");
    expect(infoText([], v1)).toBeNull();
    expect(infoText(["a"], { quiet: true, verbose: true })).toBeNull();
    expect(finalText("NO CARRIER", v1)).toBe("\r\nNO CARRIER\r\n");
    expect(finalText("NO CARRIER", v0)).toBe("3\r");
    expect(finalText("CONNECT 150000000", v0)).toBe("1\r");
    expect(finalText("+CME ERROR: 10", v0)).toBe("+CME ERROR: 10\r\n");
    expect(finalText("OK", { quiet: true, verbose: true })).toBeNull();
    expect(urcText("RDY")).toBe("\r\nRDY\r\n");
  });

  test("+CME errors under AT+CMEE 0, 1, 2", () => {
    expect(cmeResult(11, 0)).toBe("ERROR");
    expect(cmeResult(11, 1)).toBe("+CME ERROR: 11");
    expect(cmeResult(11, 2)).toBe("+CME ERROR: SIM PIN required");
  });

  test("ChannelSettings.reset restores E1 V1 Q0 CMEE=1 &D2 and keeps the baud rate", () => {
    const s = new ChannelSettings();
    Object.assign(s, { echo: false, verbose: false, quiet: true, cmee: 2, andD: 0, ipr: 9600 });
    s.reset();
    expect({ ...s }).toEqual({ echo: true, verbose: true, quiet: false, cmee: 1, andD: 2, ipr: 9600 });
  });
});

import { describe, expect, test } from "bun:test";
import { AtChannelCore, type AtResponse, type AtUrc } from "../../src/at/core.ts";
import { LineSplitter, parseFinal } from "../../src/at/lines.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function rig() {
  const writes: string[] = [];
  const responses = new Map<number, AtResponse>();
  const urcs: AtUrc[] = [];
  const data: string[] = [];
  const modes: string[] = [];
  const core = new AtChannelCore({
    write: (b) => writes.push(dec.decode(b)),
    response: (id, r) => responses.set(id, r),
    urc: (u) => urcs.push(u),
    data: (b) => data.push(dec.decode(b)),
    dataStarted: () => modes.push("data"),
    dataEnded: (why) => modes.push(`command:${why}`),
  });
  const feed = (s: string | Uint8Array, now = 0) => core.receive(typeof s === "string" ? enc.encode(s) : s, now);
  return { core, writes, responses, urcs, data, modes, feed };
}

describe("final results", () => {
  const cases: Array<[string, string, string]> = [
    ["OK", "ok", ""],
    ["ERROR", "error", ""],
    ["+CME ERROR: 10", "cme-error", "10"],
    ["+CME ERROR: SIM not inserted", "cme-error", "SIM not inserted"],
    ["+CMS ERROR: 500", "cms-error", "500"],
    ["NO CARRIER", "no-carrier", ""],
    ["BUSY", "busy", ""],
    ["NO ANSWER", "no-answer", ""],
    ["NO DIALTONE", "no-dialtone", ""],
    ["CONNECT", "connect", ""],
    ["CONNECT 150000000", "connect", "150000000"],
  ];
  for (const [line, kind, detail] of cases) {
    test(line, () => {
      const { core, responses, feed } = rig();
      const id = core.submit({ command: "ATX", timeoutMs: 300 }, 0);
      feed(`\r\n${line}\r\n`, 5);
      const r = responses.get(id)!;
      expect(r.status).toBe(kind as AtResponse["status"]);
      expect(r.detail).toBe(detail);
    });
  }
  test("information text is not a final result", () => {
    expect(parseFinal("OKAY")).toBeNull();
    expect(parseFinal("+CSQ: 20,99")).toBeNull();
  });
});

describe("AtChannelCore", () => {
  test("one command in flight, the queue behind it", () => {
    const { core, writes, responses, feed } = rig();
    const a = core.submit({ command: "AT+CGMM", timeoutMs: 300 }, 0);
    const b = core.submit({ command: "AT+CGMR", timeoutMs: 300 }, 0);
    expect(writes).toEqual(["AT+CGMM\r"]);
    feed("\r\nBG96\r\n\r\nOK\r\n", 10);
    expect(writes).toEqual(["AT+CGMM\r", "AT+CGMR\r"]);
    feed("\r\nBG96MAR02A07M1G\r\n\r\nOK\r\n", 20);
    expect(responses.get(a)!.lines).toEqual(["BG96"]);
    expect(responses.get(b)!.lines).toEqual(["BG96MAR02A07M1G"]);
    expect(responses.get(b)!.doneAt - responses.get(b)!.sentAt).toBe(10);
  });

  test("time limit per command; the next one goes out after a timeout", () => {
    const { core, writes, responses } = rig();
    const a = core.submit({ command: "AT+COPS=0", timeoutMs: 180_000 }, 0);
    core.submit({ command: "AT", timeoutMs: 300 }, 0);
    expect(core.nextDeadline()).toBe(180_000);
    core.tick(179_999);
    expect(responses.has(a)).toBe(false);
    core.tick(180_000);
    expect(responses.get(a)!.status).toBe("timeout");
    expect(writes.at(-1)).toBe("AT\r");
    expect(core.nextDeadline()).toBe(180_300);
    expect(core.stats.timeouts).toBe(1);
  });

  test("echo before ATE0 is dropped, with CR-only and LF-only line ends", () => {
    const { core, responses, feed } = rig();
    const id = core.submit({ command: "AT+CSQ", timeoutMs: 300 }, 0);
    feed("AT+CSQ\r\r\n+CSQ: 20,99\n\nOK\r", 1);
    expect(responses.get(id)!.status).toBe("ok");
    expect(responses.get(id)!.lines).toEqual(["+CSQ: 20,99"]);
    expect(core.stats.echoes).toBe(1);
  });

  test("URCs interleaved with a response are URCs, the query's own answer is not", () => {
    const { core, responses, urcs, feed } = rig();
    const id = core.submit({ command: "AT+CEREG?", timeoutMs: 300 }, 0);
    feed("\r\n+CGEV: ME PDN ACT 1\r\n\r\n+CEREG: 2,1,\"1A2B\",\"01A2B3C4\",8\r\n+QIND: \"csq\",20,99\r\nRDY\r\n\r\nOK\r\n", 3);
    expect(responses.get(id)!.lines).toEqual(['+CEREG: 2,1,"1A2B","01A2B3C4",8']);
    expect(urcs.map((u) => u.name)).toEqual(["+CGEV", "+QIND", "RDY"]);
  });

  test("a +CEREG URC in the middle of AT+CGATT? is a URC", () => {
    const { core, responses, urcs, feed } = rig();
    const id = core.submit({ command: "AT+CGATT?", timeoutMs: 300 }, 0);
    feed("\r\n+CEREG: 5\r\n+CGATT: 1\r\nOK\r\n", 3);
    expect(responses.get(id)!.lines).toEqual(["+CGATT: 1"]);
    expect(urcs.map((u) => u.line)).toEqual(["+CEREG: 5"]);
  });

  test("every listed URC between commands, and an unknown unsolicited line", () => {
    const { urcs, feed } = rig();
    feed(
      "\r\n+CEREG: 1\r\n+CGREG: 1\r\n+CREG: 5\r\n+CPIN: READY\r\nRDY\r\nPOWERED DOWN\r\n+QIND: SMS DONE\r\n+CGEV: NW DETACH\r\n+QUSIM: 1\r\n+CFUN: 1\r\n+XYZ: 3\r\n",
    );
    expect(urcs.map((u) => u.name)).toEqual(["+CEREG", "+CGREG", "+CREG", "+CPIN", "RDY", "POWERED DOWN", "+QIND", "+CGEV", "+QUSIM", "+CFUN", null]);
  });

  test("garbage bytes are counted and do not break the command", () => {
    const { core, responses, feed } = rig();
    const id = core.submit({ command: "AT+CGSN", timeoutMs: 300 }, 0);
    feed(new Uint8Array([0x00, 0xff, 0x81, 0x1b, 0x7e]), 1);
    feed("\r\n867698040000000\r\n", 2);
    feed(new Uint8Array([0x00, 0xfe, 0x0d, 0x0a]), 3);
    feed("OK\r\n", 4);
    expect(responses.get(id)!.status).toBe("ok");
    expect(responses.get(id)!.lines).toEqual(["~", "867698040000000"]);
    expect(core.stats.garbageBytes).toBe(6);
  });

  test("an over-long line is dropped as garbage", () => {
    const s = new LineSplitter();
    const lines = s.push(enc.encode("x".repeat(3000) + "\r\nOK\r\n"));
    expect(lines).toEqual(["x".repeat(3000 - 2048), "OK"]);
    expect(s.garbageBytes).toBe(2048);
  });

  test("CONNECT hands the rest of the chunk to data mode; NO CARRIER in the stream takes it back", () => {
    const { core, responses, data, modes, urcs, writes, feed } = rig();
    const id = core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
    const queued = core.submit({ command: "AT", timeoutMs: 300 }, 0);
    feed("\r\nCONNECT 150000000\r\n~\x7d\x23\xc0\x21OK\r\n", 100);
    expect(responses.get(id)!.status).toBe("connect");
    expect(responses.get(id)!.detail).toBe("150000000");
    expect(core.mode).toBe("data");
    expect(data.join("")).toBe("~\x7d\x23\xc0\x21OK\r\n");
    // queued commands wait for command mode, with no time limit running
    expect(writes).toEqual(["ATD*99#\r"]);
    expect(core.nextDeadline()).toBeNull();
    feed("~more~\r\nNO CAR", 200);
    feed("RIER\r\n", 210);
    expect(core.mode).toBe("command");
    expect(modes).toEqual(["data", "command:no-carrier"]);
    expect(urcs.at(-1)!.name).toBe("NO CARRIER");
    expect(writes).toEqual(["ATD*99#\r", "AT\r"]);
    feed("\r\nOK\r\n", 220);
    expect(responses.get(queued)!.status).toBe("ok");
  });

  test("resumeCommandMode after an escape resynchronises", () => {
    const { core, responses, feed } = rig();
    core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
    feed("CONNECT\r\n~partial frame", 1);
    core.resumeCommandMode(2);
    const id = core.submit({ command: "AT", timeoutMs: 300 }, 3);
    feed("\r\nOK\r\n", 4);
    expect(responses.get(id)!.status).toBe("ok");
    expect(responses.get(id)!.lines).toEqual([]);
  });

  test("abortAll ends queued and in-flight commands", () => {
    const { core, responses } = rig();
    const a = core.submit({ command: "AT+COPS=0", timeoutMs: 180_000 }, 0);
    const b = core.submit({ command: "AT", timeoutMs: 300 }, 0);
    core.abortAll(5);
    expect(responses.get(a)!.status).toBe("aborted");
    expect(responses.get(b)!.status).toBe("aborted");
    expect(core.nextDeadline()).toBeNull();
  });

  test("a late final result with nothing in flight is reported, not attributed", () => {
    const { core, urcs, responses, feed } = rig();
    const a = core.submit({ command: "AT", timeoutMs: 100 }, 0);
    core.tick(100);
    feed("\r\nOK\r\n", 150);
    expect(responses.get(a)!.status).toBe("timeout");
    expect(urcs.map((u) => u.name)).toEqual(["OK"]);
  });
});

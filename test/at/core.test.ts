import { describe, expect, test } from "bun:test";
import { concatBytes } from "../support/ip.ts";
import { AtChannelCore, DEFAULT_AT_LIMITS, type AtResponse, type AtUrc } from "../../src/at/core.ts";
import { LineSplitter, parseFinal } from "../../src/at/lines.ts";
import { HdlcDecoder, encodeFrame } from "../../src/ppp/hdlc.ts";
import { PROTO, type Framing } from "../../src/ppp/types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function rig() {
  const writes: string[] = [];
  const responses = new Map<number, AtResponse>();
  const urcs: AtUrc[] = [];
  const data: string[] = [];
  const raw: Uint8Array[] = [];
  const modes: string[] = [];
  const core = new AtChannelCore({
    write: (b) => writes.push(dec.decode(b)),
    response: (id, r) => responses.set(id, r),
    urc: (u) => urcs.push(u),
    data: (b) => {
      data.push(dec.decode(b));
      raw.push(b.slice());
    },
    dataStarted: () => modes.push("data"),
    dataEnded: (why) => modes.push(`command:${why}`),
  });
  const feed = (s: string | Uint8Array, now = 0) => core.receive(typeof s === "string" ? enc.encode(s) : s, now);
  return { core, writes, responses, urcs, data, raw, modes, feed };
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

describe("bounds: the command queue and the lines of one response", () => {
  test("the queue holds 64 commands behind the one in flight; the next ends as queue-full, is counted and never sent", () => {
    const { core, writes, responses, feed } = rig();
    expect(DEFAULT_AT_LIMITS).toEqual({ maxQueued: 64, maxLines: 256 });
    const first = core.submit({ command: "AT+COPS?", timeoutMs: 180_000 }, 0);
    const queued = Array.from({ length: 64 }, (_, i) => core.submit({ command: `AT+Q${i}`, timeoutMs: 300 }, 0));
    expect(core.stats.queueFull).toBe(0);
    const refused = core.submit({ command: "AT+REFUSED", timeoutMs: 300 }, 7);
    // Answered on the adapter's next tick (the caller holds the id by then), without waiting for the queue.
    expect(responses.has(refused)).toBe(false);
    expect(core.nextDeadline()).toBe(7);
    core.tick(7);
    expect(responses.get(refused)).toMatchObject({ command: "AT+REFUSED", status: "queue-full", lines: [], detail: "64 commands already queued", sentAt: 7, doneAt: 7 });
    expect(core.stats.queueFull).toBe(1);
    expect(core.nextDeadline()).toBe(180_000);
    expect(responses.has(first)).toBe(false);
    // The queue is intact and drains in order; the refused command never went out.
    feed("\r\nOK\r\n", 10);
    for (let i = 0; i < 64; i++) feed("\r\nOK\r\n", 20 + i);
    expect(queued.map((id) => responses.get(id)?.status)).toEqual(queued.map(() => "ok"));
    expect(writes).toHaveLength(65);
    expect(writes.some((w) => w.includes("REFUSED"))).toBe(false);
    // Room again.
    const later = core.submit({ command: "AT", timeoutMs: 300 }, 100);
    expect(writes.at(-1)).toBe("AT\r");
    feed("\r\nOK\r\n", 101);
    expect(responses.get(later)!.status).toBe("ok");
  });

  test("abortAll also answers a refused command still waiting for its tick", () => {
    const { core, responses } = rig();
    const limited = new AtChannelCore(
      { write: () => {}, response: (id, r) => responses.set(id, r), urc: () => {}, data: () => {}, dataStarted: () => {}, dataEnded: () => {} },
      { maxQueued: 1 },
    );
    limited.submit({ command: "AT+A", timeoutMs: 300 }, 0);
    limited.submit({ command: "AT+B", timeoutMs: 300 }, 0);
    const refused = limited.submit({ command: "AT+C", timeoutMs: 300 }, 0);
    limited.abortAll(1);
    expect(responses.get(refused)!.status).toBe("queue-full");
    expect(limited.nextDeadline()).toBeNull();
    expect(limited.stats.queueFull).toBe(1);
    expect(core.stats.queueFull).toBe(0);
  });

  test("256 intermediate lines are kept, the rest dropped and counted; the final result ends the command as too-many-lines", () => {
    const { core, writes, responses, feed } = rig();
    const id = core.submit({ command: "AT+QCFG=?", timeoutMs: 5_000 }, 0);
    const next = core.submit({ command: "AT+CSQ", timeoutMs: 300 }, 0);
    let flood = "";
    for (let i = 0; i < 300; i++) flood += `\r\n+QCFG: "item${i}",(0,1)\r\n`;
    feed(flood, 5);
    // Still in flight: the modem's answer is not over, the next command waits for it.
    expect(responses.has(id)).toBe(false);
    expect(writes).toEqual(["AT+QCFG=?\r"]);
    feed("\r\nOK\r\n", 6);
    const r = responses.get(id)!;
    expect(r.status).toBe("too-many-lines");
    expect(r.lines).toHaveLength(256);
    expect(r.lines[0]).toBe('+QCFG: "item0",(0,1)');
    expect(r.lines[255]).toBe('+QCFG: "item255",(0,1)');
    expect(r.detail).toBe("44 lines over the limit of 256 dropped; final result OK");
    expect(core.stats.lineOverflows).toBe(1);
    expect(core.stats.droppedLines).toBe(44);
    // The next command gets its own answer.
    expect(writes).toEqual(["AT+QCFG=?\r", "AT+CSQ\r"]);
    feed("\r\n+CSQ: 20,99\r\n\r\nOK\r\n", 7);
    expect(responses.get(next)).toMatchObject({ status: "ok", lines: ["+CSQ: 20,99"] });
  });

  test("a flood that never ends is cut by the time limit (status timeout; the overflow is counted)", () => {
    const { core, responses, feed } = rig();
    const id = core.submit({ command: "AT+QCFG=?", timeoutMs: 1_000 }, 0);
    for (let i = 0; i < 400; i++) feed(`\r\n+QCFG: ${i}\r\n`, 1 + i);
    core.tick(1_000);
    expect(responses.get(id)!.status).toBe("timeout");
    expect(responses.get(id)!.lines).toHaveLength(256);
    expect(core.stats.lineOverflows).toBe(1);
    expect(core.stats.droppedLines).toBe(144);
  });
});

// ---------------------------------------------------------------------------
// Modem text vs. PPP payload in data mode (RFC 1662 §4.2: a raw 0x7E is always a flag)

const TEXT = "\r\nNO CARRIER\r\n";
/** What cellkeep negotiates: ACCM 0, so CR and LF inside a frame go out unescaped. */
const ACCM0: Framing = { accm: 0, acfc: true, pfc: true, fcs32: false };
const ACCM0_FULL: Framing = { accm: 0, acfc: false, pfc: false, fcs32: false };

const concat = (parts: Uint8Array[]): Uint8Array => concatBytes(...parts);

/** Payloads that carry the modem's text, at the start, in the middle, at the end, split by escapes. */
const TEXT_PAYLOADS = [
  enc.encode(TEXT),
  enc.encode(`${TEXT}${TEXT}`),
  enc.encode(`ping ${TEXT} pong`),
  enc.encode(`tail${TEXT}`),
  new Uint8Array([...enc.encode("\r\n"), 0x7e, ...enc.encode(`NO CARRIER\r\n`), 0x7d, ...enc.encode(TEXT)]),
];

/** Frames whose payloads hold the text (both framings), as one stream, and the payloads in order. */
function textFrames(): { stream: Uint8Array; payloads: Uint8Array[] } {
  const wires: Uint8Array[] = [];
  const payloads: Uint8Array[] = [];
  for (const framing of [ACCM0, ACCM0_FULL]) {
    for (const p of TEXT_PAYLOADS) {
      wires.push(encodeFrame(PROTO.IPV4, p, framing));
      payloads.push(p);
    }
  }
  const stream = concat(wires);
  // The test is about unescaped text: make sure the encoder really sent CR LF "NO CARRIER" raw.
  expect(dec.decode(stream)).toContain(TEXT);
  return { stream, payloads };
}

/** A core in data mode (after ATD → CONNECT); `feed` now goes to the data path. */
function dataRig() {
  const r = rig();
  r.core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
  r.feed("\r\nCONNECT 150000000\r\n", 1);
  expect(r.core.mode).toBe("data");
  return r;
}

/** Everything the data sink got, and the frames an ACCM-0 decoder finds in it. */
function delivered(r: ReturnType<typeof rig>): { bytes: Uint8Array; payloads: Uint8Array[] } {
  const bytes = concat(r.raw);
  const d = new HdlcDecoder({ accm: 0 });
  const payloads = d.push(bytes).map((e) => e.info);
  return { bytes, payloads };
}

describe("data mode: NO CARRIER only between frames", () => {
  test("frames whose payload holds the text stay PPP data, in one chunk", () => {
    const { stream, payloads } = textFrames();
    const r = dataRig();
    r.feed(stream, 2);
    expect(r.core.mode).toBe("data");
    expect(r.modes).toEqual(["data"]);
    expect(r.urcs).toEqual([]);
    const got = delivered(r);
    expect(got.bytes).toEqual(stream);
    expect(got.payloads).toEqual(payloads);
  });

  test("the same frames split into two chunks at every offset, and one octet at a time", () => {
    const { stream, payloads } = textFrames();
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = dataRig();
      r.feed(stream.subarray(0, cut), 2);
      r.feed(stream.subarray(cut), 3);
      if (r.core.mode !== "data" || r.modes.length !== 1) throw new Error(`left data mode with the cut at ${cut}`);
      const got = delivered(r);
      expect(got.bytes).toEqual(stream);
      expect(got.payloads).toEqual(payloads);
    }
    const r = dataRig();
    for (let i = 0; i < stream.length; i++) r.feed(stream.subarray(i, i + 1), 2);
    expect(r.core.mode).toBe("data");
    expect(delivered(r).bytes).toEqual(stream);
  });

  test("an oversize frame full of the text (the decoder hunts inside it) stays data", () => {
    const big = enc.encode(TEXT.repeat(400)); // 5600 octets: beyond any MRU
    const after = encodeFrame(PROTO.IPV4, enc.encode("after"), ACCM0);
    const stream = concat([encodeFrame(PROTO.IPV4, big, ACCM0), after]);
    const r = dataRig();
    r.feed(stream, 2);
    expect(r.core.mode).toBe("data");
    expect(concat(r.raw)).toEqual(stream);
    const d = new HdlcDecoder({ accm: 0 });
    const evs = d.push(concat(r.raw));
    expect(evs.map((e) => dec.decode(e.info))).toEqual(["after"]);
    expect(d.counters.oversize).toBe(1);
  });

  test("real NO CARRIER after the last frame's closing flag ends data mode, split at every offset", () => {
    const { stream, payloads } = textFrames();
    const all = concat([stream, enc.encode(TEXT)]);
    for (let cut = 0; cut <= all.length; cut++) {
      const r = dataRig();
      r.feed(all.subarray(0, cut), 2);
      r.feed(all.subarray(cut), 3);
      if (r.core.mode !== "command") throw new Error(`NO CARRIER missed with the cut at ${cut}`);
      expect(r.modes).toEqual(["data", "command:no-carrier"]);
      expect(r.urcs.map((u) => u.name)).toEqual(["NO CARRIER"]);
      // PPP got every frame up to and including the last flag; the text is not PPP data.
      const got = delivered(r);
      expect(got.bytes).toEqual(stream);
      expect(got.payloads).toEqual(payloads);
    }
  });

  test("after the text the channel parses commands again (the queued one goes out)", () => {
    const r = rig();
    r.core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
    const queued = r.core.submit({ command: "AT", timeoutMs: 300 }, 0);
    const frame = encodeFrame(PROTO.IPV4, enc.encode(TEXT), ACCM0);
    r.feed(concat([enc.encode("\r\nCONNECT\r\n"), frame, enc.encode(TEXT)]), 1);
    expect(r.core.mode).toBe("command");
    expect(r.writes).toEqual(["ATD*99#\r", "AT\r"]);
    r.feed("\r\nOK\r\n", 2);
    expect(r.responses.get(queued)!.status).toBe("ok");
    expect(concat(r.raw)).toEqual(frame);
  });

  test("text at the start of data mode, before any flag, ends it (same chunk as CONNECT, and split)", () => {
    const whole = enc.encode(`\r\nCONNECT 150000000\r\n${TEXT}`);
    const connectEnd = dec.decode(whole).indexOf(TEXT);
    for (let cut = connectEnd; cut <= whole.length; cut++) {
      const r = rig();
      r.core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
      r.feed(whole.subarray(0, cut), 1);
      r.feed(whole.subarray(cut), 2);
      expect(r.modes).toEqual(["data", "command:no-carrier"]);
      expect(r.raw).toEqual([]);
    }
  });

  test('"~~\\r\\nNO CARRIER\\r\\n", "~NO CARRIER\\r", LF-only and an abort before the text all end data mode', () => {
    const cases: Array<[string, string]> = [
      ["~~", TEXT],
      ["~", "NO CARRIER\r"],
      ["~", "\nNO CARRIER\n"],
      ["~\r\n~\r\r\n~", TEXT],
      ["~\xff\x03\x7d\x7e", TEXT], // a frame aborted (RFC 1662 §4.2), then the text
    ];
    for (const [ppp, text] of cases) {
      const r = dataRig();
      r.feed(ppp + text + "\r\nOK\r\n", 2);
      expect(r.modes).toEqual(["data", "command:no-carrier"]);
      expect(r.data.join("")).toBe(ppp);
      expect(r.urcs.map((u) => u.name)).toEqual(["NO CARRIER", "OK"]);
    }
  });

  test("text-like bytes after a flag that turn out not to be the text reach PPP in order", () => {
    const r = dataRig();
    const parts = ["~\r\nNO CAR", "RIEX\r\n~", "\r\nNO", "~\xff\x03", "NO CARRIER\r\n~\r\nNO CARRIER!~"];
    for (const p of parts) r.feed(p, 2);
    expect(r.core.mode).toBe("data");
    expect(r.data.join("")).toBe(parts.join(""));
  });

  test("text without a flag before it (inside a frame, or garbage) is data", () => {
    const r = dataRig();
    r.feed("~\xff\x03\x00\x21", 2);
    r.feed(TEXT, 3);
    r.feed("garbage" + TEXT, 4);
    expect(r.core.mode).toBe("data");
    expect(r.data.join("")).toBe("~\xff\x03\x00\x21" + TEXT + "garbage" + TEXT);
  });
});

describe("data mode: the boot URC RDY between frames means the module rebooted mid-call", () => {
  const RDY = "\r\nRDY\r\n";
  test("RDY after the last frame's closing flag ends data mode as rebooted, split at every offset; RDY inside payloads is data", () => {
    const frames = concat([
      encodeFrame(PROTO.IPV4, enc.encode(`x${RDY}y`), ACCM0),
      encodeFrame(PROTO.IPV4, enc.encode(RDY), ACCM0),
      encodeFrame(PROTO.IPV4, enc.encode(`RDY${TEXT}`), ACCM0),
    ]);
    const all = concat([frames, enc.encode(RDY)]);
    for (let cut = 0; cut <= all.length; cut++) {
      const r = dataRig();
      r.feed(all.subarray(0, cut), 2);
      r.feed(all.subarray(cut), 3);
      if (r.core.mode !== "command") throw new Error(`RDY missed with the cut at ${cut}`);
      expect(r.modes).toEqual(["data", "command:rebooted"]);
      expect(r.urcs.map((u) => u.name)).toEqual(["RDY"]);
      expect(concat(r.raw)).toEqual(frames);
    }
    const r = dataRig();
    r.feed(frames, 2);
    expect(r.core.mode).toBe("data");
  });
});

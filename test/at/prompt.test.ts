/** AT+CMGS and its "> " prompt (27.005 §3.5.1): the body goes out when the prompt comes, ended by Ctrl-Z. */
import { describe, expect, test } from "bun:test";
import { AtChannelCore, type AtResponse } from "../../src/at/core.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function rig() {
  const writes: string[] = [];
  const responses = new Map<number, AtResponse>();
  const core = new AtChannelCore({
    write: (b) => writes.push(dec.decode(b)),
    response: (id, r) => responses.set(id, r),
    urc: () => {},
    data: () => {},
    dataStarted: () => {},
    dataEnded: () => {},
  });
  return { core, writes, responses, feed: (s: string) => core.receive(enc.encode(s), 0) };
}

describe("text after the prompt", () => {
  test("nothing before the prompt; the body and Ctrl-Z after it; the answer ends the command", () => {
    const r = rig();
    const id = r.core.submit({ command: 'AT+CMGS="+4917"', timeoutMs: 1000, body: "hello" }, 0);
    expect(r.writes).toEqual(['AT+CMGS="+4917"\r']);
    r.feed("\r\n");
    expect(r.writes.length).toBe(1);
    r.feed("> ");
    expect(r.writes[1]).toBe("hello\x1a");
    expect(r.writes.length).toBe(2);
    r.feed("\r\n+CMGS: 7\r\n\r\nOK\r\n");
    expect(r.responses.get(id)).toMatchObject({ status: "ok", lines: ["+CMGS: 7"] });
  });

  test("Ctrl-Z and ESC inside the body are dropped (they would end or cancel the text early)", () => {
    const r = rig();
    r.core.submit({ command: 'AT+CMGS="+4917"', timeoutMs: 1000, body: "a\x1ab\x1bc" }, 0);
    r.feed("\r\n> ");
    expect(r.writes[1]).toBe("abc\x1a");
  });

  test("a command without a body never answers a prompt", () => {
    const r = rig();
    r.core.submit({ command: "AT", timeoutMs: 1000 }, 0);
    r.feed("\r\n> ");
    expect(r.writes).toEqual(["AT\r"]);
  });
});

import { describe, expect, test } from "bun:test";
import { UnheardLines } from "../../src/sim/unheard.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("UnheardLines (what the DTE sends into silence)", () => {
  test("each AT command line is one entry, secrets masked; lines may span reads", () => {
    const u = new UnheardLines();
    expect(u.input(bytes("AT\rAT+CPIN"))).toEqual(["AT"]);
    expect(u.input(bytes('="1234"\r'))).toEqual(["AT+CPIN=***"]);
  });

  test("PPP bytes and noise are not command lines; the command after PPP bytes on the same line is", () => {
    const u = new UnheardLines();
    expect(u.input(Uint8Array.of(0x7e, 0xff, 0x03, 0x0d))).toEqual([]);
    expect(u.input(bytes("hello\r"))).toEqual([]);
    expect(u.input(Uint8Array.of(0x7e, 0x21, 0x7d, ...bytes("at+cfun=1,1\r")))).toEqual(["at+cfun=1,1"]);
  });

  test("reset forgets a half line", () => {
    const u = new UnheardLines();
    u.input(bytes("AT+CS"));
    u.reset();
    expect(u.input(bytes("Q\r"))).toEqual([]);
  });
});

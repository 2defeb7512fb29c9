import { describe, expect, test } from "bun:test";
import { BAUD_CODES, isSupportedBaudRate } from "../../src/core/baud.ts";

describe("baud rates", () => {
  test("9600..921600 and the high USB rates up to 4 Mbit/s are known", () => {
    for (const r of [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 1500000, 2000000, 3000000, 4000000]) {
      expect(isSupportedBaudRate(r)).toBe(true);
    }
    expect(isSupportedBaudRate(12345)).toBe(false);
    // asm-generic codes: B9600 = 0o15, B115200 = 0o10002, B4000000 = 0o10017.
    expect(BAUD_CODES.get(9600)).toBe(0o15);
    expect(BAUD_CODES.get(115200)).toBe(0o10002);
    expect(BAUD_CODES.get(4000000)).toBe(0o10017);
  });
});

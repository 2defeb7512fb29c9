import { describe, expect, test } from "bun:test";
import { CFLAG, IFLAG, LFLAG, OFLAG, rawFlags } from "../../src/serial/termios.ts";

// A cooked tty's flags as Linux sets them for a fresh console.
const cooked = { iflag: 0o2400 | IFLAG.ICRNL | IFLAG.IXON, oflag: 0o5, cflag: 0o277 | CFLAG.HUPCL, lflag: 0o105073 };

describe("rawFlags", () => {
  test("raw 8N1: no echo, no canonical mode, no signals, no output processing, no CR mapping", () => {
    const f = rawFlags(cooked, { baudRate: 115200, hupcl: false });
    expect(f.lflag & (LFLAG.ECHO | LFLAG.ICANON | LFLAG.ISIG)).toBe(0);
    expect(f.oflag & OFLAG.OPOST).toBe(0);
    expect(f.iflag & (IFLAG.ICRNL | IFLAG.IXON | IFLAG.ISTRIP)).toBe(0);
    expect(f.cflag & CFLAG.CSIZE).toBe(CFLAG.CS8);
    expect(f.cflag & (CFLAG.PARENB | CFLAG.CSTOPB | CFLAG.HUPCL)).toBe(0);
    expect(f.cflag & (CFLAG.CREAD | CFLAG.CLOCAL)).toBe(CFLAG.CREAD | CFLAG.CLOCAL);
    expect(f.cflag & CFLAG.CRTSCTS).toBe(0);
  });

  test.each([
    [5, CFLAG.CS5],
    [6, CFLAG.CS6],
    [7, CFLAG.CS7],
    [8, CFLAG.CS8],
  ] as const)("dataBits %d → CSIZE %o", (bits, expected) => {
    expect(rawFlags(cooked, { baudRate: 9600, dataBits: bits }).cflag & CFLAG.CSIZE).toBe(expected);
  });

  test.each([
    ["none", 0, false],
    ["even", CFLAG.PARENB, true],
    ["odd", CFLAG.PARENB | CFLAG.PARODD, true],
    ["mark", CFLAG.PARENB | CFLAG.PARODD | CFLAG.CMSPAR, true],
    ["space", CFLAG.PARENB | CFLAG.CMSPAR, true],
  ] as const)("parity %s", (parity, bits, inpck) => {
    const f = rawFlags(cooked, { baudRate: 9600, parity });
    expect((f.cflag & (CFLAG.PARENB | CFLAG.PARODD | CFLAG.CMSPAR)) >>> 0).toBe(bits >>> 0);
    expect((f.iflag & IFLAG.INPCK) !== 0).toBe(inpck);
  });

  test("stop bits, flow control, HUPCL", () => {
    const f = rawFlags(cooked, { baudRate: 9600, stopBits: 2, rtscts: true, xon: true, xoff: true, hupcl: true });
    expect(f.cflag & CFLAG.CSTOPB).toBe(CFLAG.CSTOPB);
    expect((f.cflag & CFLAG.CRTSCTS) !== 0).toBe(true);
    expect(f.cflag & CFLAG.HUPCL).toBe(CFLAG.HUPCL);
    expect(f.iflag & (IFLAG.IXON | IFLAG.IXOFF)).toBe(IFLAG.IXON | IFLAG.IXOFF);
    // Results are unsigned 32-bit words (CRTSCTS is bit 31).
    expect(f.cflag).toBeGreaterThan(0);
  });

  test("rejects framing Linux cannot do", () => {
    expect(() => rawFlags(cooked, { baudRate: 9600, dataBits: 9 as 8 })).toThrow(/dataBits/);
    expect(() => rawFlags(cooked, { baudRate: 9600, parity: "weird" })).toThrow(/parity/);
  });
});

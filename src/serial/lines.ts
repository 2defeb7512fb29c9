/**
 * Modem control lines (DTR, RTS out; CTS, DSR, DCD, RI in) via TIOCM* ioctls,
 * and exclusive mode (TIOCEXCL). Constants are asm-generic (bun-facts §3).
 *
 * A pseudo-terminal has no modem lines: the kernel answers ENOTTY. That is a
 * property of the transport, not a failure, so it surfaces as
 * `LinesNotSupportedError` (code "ENOTTY", `notSupported: true`) that callers
 * can test for, instead of a generic I/O error that would look like a vanished port.
 */
import * as libc from "../sys/libc.ts";

export const TIOCMGET = 0x5415;
export const TIOCMBIS = 0x5416;
export const TIOCMBIC = 0x5417;
export const TIOCEXCL = 0x540c;
export const TIOCNXCL = 0x540d;
export const TIOCSBRK = 0x5427;
export const TIOCCBRK = 0x5428;

export const TIOCM = { DTR: 0x002, RTS: 0x004, CTS: 0x020, CAR: 0x040, RNG: 0x080, DSR: 0x100 } as const;

export interface InputLines {
  cts: boolean;
  dsr: boolean;
  dcd: boolean;
  ri: boolean;
}

/** The device has no modem control lines (a pty, some USB CDC functions). */
export class LinesNotSupportedError extends libc.SysError {
  readonly notSupported = true;
  constructor(syscall: string) {
    super(syscall, libc.ERRNO.ENOTTY, "(this port has no modem control lines)");
    this.name = "LinesNotSupportedError";
  }
}

function fail(syscall: string): never {
  const e = libc.errno();
  if (e === libc.ERRNO.ENOTTY || e === libc.ERRNO.EINVAL) throw new LinesNotSupportedError(syscall);
  throw new libc.SysError(syscall, e);
}

function bitsBuffer(bits: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, bits, true);
  return b;
}

/** Raise (`true`) or drop (`false`) the given output lines; omitted lines are untouched. */
export function setOutputLines(fd: number, lines: { dtr?: boolean; rts?: boolean }): void {
  let raise = 0;
  let drop = 0;
  if (lines.dtr !== undefined) lines.dtr ? (raise |= TIOCM.DTR) : (drop |= TIOCM.DTR);
  if (lines.rts !== undefined) lines.rts ? (raise |= TIOCM.RTS) : (drop |= TIOCM.RTS);
  if (raise && libc.ioctl(fd, TIOCMBIS, bitsBuffer(raise)) < 0) fail("ioctl(TIOCMBIS)");
  if (drop && libc.ioctl(fd, TIOCMBIC, bitsBuffer(drop)) < 0) fail("ioctl(TIOCMBIC)");
}

/** Read CTS/DSR/DCD/RI. */
export function getInputLines(fd: number): InputLines {
  const b = new Uint8Array(4);
  if (libc.ioctl(fd, TIOCMGET, b) < 0) fail("ioctl(TIOCMGET)");
  const bits = new DataView(b.buffer).getInt32(0, true);
  return {
    cts: (bits & TIOCM.CTS) !== 0,
    dsr: (bits & TIOCM.DSR) !== 0,
    dcd: (bits & TIOCM.CAR) !== 0,
    ri: (bits & TIOCM.RNG) !== 0,
  };
}

/** Start (`true`) or stop a break condition. */
export function setBreak(fd: number, on: boolean): void {
  if (libc.ioctlInt(fd, on ? TIOCSBRK : TIOCCBRK) < 0) fail(on ? "ioctl(TIOCSBRK)" : "ioctl(TIOCCBRK)");
}

/**
 * Refuse further open(2)s of this tty (EBUSY) until close. Root with
 * CAP_SYS_ADMIN bypasses it, which is why UUCP lock files back it up.
 */
export function setExclusive(fd: number): void {
  libc.check(libc.ioctlInt(fd, TIOCEXCL), "ioctl(TIOCEXCL)");
}

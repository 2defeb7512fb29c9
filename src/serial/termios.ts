/**
 * termios through libc: raw 8N1 (or 5-8 data bits, parity, 1/2 stop bits),
 * standard and high baud rates, optional RTS/CTS, queue flush and drain.
 *
 * Layout of glibc's and musl's `struct termios` (identical on x86-64 and
 * arm64; bun-facts §3): c_iflag@0, c_oflag@4, c_cflag@8, c_lflag@12,
 * c_line@16, c_cc[32]@17, c_ispeed@52, c_ospeed@56; 60 bytes in all.
 * We go through tcgetattr/tcsetattr (not TCGETS) because the kernel's own
 * struct is different and libc converts.
 */
import * as libc from "../sys/libc.ts";
import { BAUD_CODES } from "../core/baud.ts";

export const TERMIOS_SIZE = 60;
/** Extra room so a libc with a larger struct can never write past our buffer. */
const TERMIOS_ALLOC = 128;

const OFF = { iflag: 0, oflag: 4, cflag: 8, lflag: 12, cc: 17 } as const;

// c_iflag
const IGNBRK = 0o1, BRKINT = 0o2, IGNPAR = 0o4, PARMRK = 0o10, INPCK = 0o20, ISTRIP = 0o40;
const INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IUCLC = 0o1000, IXON = 0o2000, IXANY = 0o4000;
const IXOFF = 0o10000, IMAXBEL = 0o20000;
// c_oflag
const OPOST = 0o1;
// c_cflag
const CSIZE = 0o60, CS5 = 0, CS6 = 0o20, CS7 = 0o40, CS8 = 0o60, CSTOPB = 0o100, CREAD = 0o200;
const PARENB = 0o400, PARODD = 0o1000, HUPCL = 0o2000, CLOCAL = 0o4000, CMSPAR = 0o10000000000;
const CRTSCTS = 0o20000000000;
// c_lflag
const ISIG = 0o1, ICANON = 0o2, ECHO = 0o10, ECHOE = 0o20, ECHOK = 0o40, ECHONL = 0o100, IEXTEN = 0o100000;
// c_cc indices
const VTIME = 5, VMIN = 6;

export const TCSANOW = 0;
export const TCIFLUSH = 0, TCOFLUSH = 1, TCIOFLUSH = 2;

/** speed_t code → rate, to read back what the driver actually set. */
const RATE_OF_CODE = new Map([...BAUD_CODES].map(([rate, code]) => [code, rate]));

export interface LineSettings {
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  stopBits?: 1 | 1.5 | 2;
  parity?: "none" | "even" | "odd" | "mark" | "space" | string;
  /** Hardware flow control (CRTSCTS). */
  rtscts?: boolean;
  xon?: boolean;
  xoff?: boolean;
  xany?: boolean;
  /** Drop DTR on last close (HUPCL). */
  hupcl?: boolean;
}

function u32(t: Uint8Array, off: number): number {
  return new DataView(t.buffer, t.byteOffset, t.byteLength).getUint32(off, true);
}
function setU32(t: Uint8Array, off: number, v: number): void {
  new DataView(t.buffer, t.byteOffset, t.byteLength).setUint32(off, v >>> 0, true);
}

/** Read the fd's termios; throws SysError (ENOTTY for a non-tty). */
export function getTermios(fd: number): Uint8Array {
  const t = new Uint8Array(TERMIOS_ALLOC);
  libc.check(libc.tcgetattr(fd, t), "tcgetattr");
  return t;
}

function invalid(msg: string): Error {
  const err = new libc.SysError("tcsetattr", libc.ERRNO.EINVAL, msg);
  return err;
}

export interface TermiosFlags {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
}

/**
 * The flag words for raw mode with `s`'s framing, from the current ones
 * (pure, so the mapping is testable without a UART: a pty forces CS8 and no
 * parity whatever we ask).
 */
export function rawFlags(cur: TermiosFlags, s: LineSettings): TermiosFlags {
  let iflag = cur.iflag;
  let cflag = cur.cflag;
  let lflag = cur.lflag;
  let oflag = cur.oflag;

  iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | IXON | IXANY | IXOFF | IMAXBEL | INPCK | IGNPAR);
  oflag &= ~OPOST;
  lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ICANON | ISIG | IEXTEN);
  cflag &= ~(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS | HUPCL);
  cflag |= CREAD | CLOCAL;

  switch (s.dataBits ?? 8) {
    case 5: cflag |= CS5; break;
    case 6: cflag |= CS6; break;
    case 7: cflag |= CS7; break;
    case 8: cflag |= CS8; break;
    default: throw invalid(`unsupported dataBits ${String(s.dataBits)}`);
  }
  // Linux has no 1.5 stop bits; like bindings-cpp, 1.5 and 2 both set CSTOPB.
  if ((s.stopBits ?? 1) !== 1) cflag |= CSTOPB;
  switch (s.parity ?? "none") {
    case "none": break;
    case "even": cflag |= PARENB; iflag |= INPCK; break;
    case "odd": cflag |= PARENB | PARODD; iflag |= INPCK; break;
    case "mark": cflag |= PARENB | PARODD | CMSPAR; iflag |= INPCK; break;
    case "space": cflag |= PARENB | CMSPAR; iflag |= INPCK; break;
    default: throw invalid(`unsupported parity ${String(s.parity)}`);
  }
  if (s.rtscts) cflag |= CRTSCTS;
  if (s.xon) iflag |= IXON;
  if (s.xoff) iflag |= IXOFF;
  if (s.xany) iflag |= IXANY;
  if (s.hupcl ?? true) cflag |= HUPCL;

  return { iflag: iflag >>> 0, oflag: oflag >>> 0, cflag: cflag >>> 0, lflag: lflag >>> 0 };
}

/**
 * Put a tty in raw mode with the given line settings (cfmakeraw plus framing):
 * no echo, no signals, no CR/LF mapping, VMIN=1/VTIME=0 so a read returns as
 * soon as one byte is there, CREAD|CLOCAL so the modem's DCD does not gate
 * reads. Throws SysError on failure or when the driver refused the rate.
 */
export function applyTermios(fd: number, s: LineSettings): void {
  const code = BAUD_CODES.get(s.baudRate);
  if (code === undefined) throw invalid(`unsupported baud rate ${s.baudRate}`);
  const t = getTermios(fd);
  const f = rawFlags({ iflag: u32(t, OFF.iflag), oflag: u32(t, OFF.oflag), cflag: u32(t, OFF.cflag), lflag: u32(t, OFF.lflag) }, s);
  const { iflag, oflag, cflag, lflag } = f;

  setU32(t, OFF.iflag, iflag);
  setU32(t, OFF.oflag, oflag);
  setU32(t, OFF.cflag, cflag >>> 0);
  setU32(t, OFF.lflag, lflag);
  t[OFF.cc + VMIN] = 1;
  t[OFF.cc + VTIME] = 0;
  libc.check(libc.cfsetispeed(t, code), "cfsetispeed", String(s.baudRate));
  libc.check(libc.cfsetospeed(t, code), "cfsetospeed", String(s.baudRate));
  libc.check(libc.tcsetattr(fd, TCSANOW, t), "tcsetattr");
  // tcsetattr succeeds if ANY requested change took; read back the rate.
  const actual = getBaudRate(fd);
  if (actual !== s.baudRate) throw invalid(`the driver refused ${s.baudRate} bit/s (kept ${actual})`);
}

/** Change only the baud rate, keeping everything else. */
export function setBaudRate(fd: number, rate: number): void {
  const code = BAUD_CODES.get(rate);
  if (code === undefined) throw invalid(`unsupported baud rate ${rate}`);
  const t = getTermios(fd);
  libc.check(libc.cfsetispeed(t, code), "cfsetispeed", String(rate));
  libc.check(libc.cfsetospeed(t, code), "cfsetospeed", String(rate));
  libc.check(libc.tcsetattr(fd, TCSANOW, t), "tcsetattr");
  const actual = getBaudRate(fd);
  if (actual !== rate) throw invalid(`the driver refused ${rate} bit/s (kept ${actual})`);
}

/** The output rate the driver reports, in bit/s (0 if unknown). */
export function getBaudRate(fd: number): number {
  const t = getTermios(fd);
  return RATE_OF_CODE.get(libc.cfgetospeed(t)) ?? 0;
}

/** The c_cflag word (tests use it to check CRTSCTS/CSIZE). */
export function getCflag(fd: number): number {
  return u32(getTermios(fd), OFF.cflag);
}
export function getLflag(fd: number): number {
  return u32(getTermios(fd), OFF.lflag);
}

export const CFLAG = { CSIZE, CS5, CS6, CS7, CS8, CSTOPB, PARENB, PARODD, CMSPAR, CRTSCTS, CLOCAL, CREAD, HUPCL } as const;
export const IFLAG = { IXON, IXOFF, IXANY, INPCK, ICRNL, ISTRIP } as const;
export const OFLAG = { OPOST } as const;
export const LFLAG = { ICANON, ECHO, ISIG } as const;

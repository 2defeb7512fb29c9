/**
 * The one bun:ffi binding to the C library, shared by the serial port, pty,
 * TUN and sd_notify adapters.
 *
 * Why FFI: serialport's native binding aborts under Bun (no uv_poll), and a
 * compiled cellkeep binary must carry no `.node` files so it cross-compiles.
 *
 * Portability (see /work/shared/notes/bun-facts.md §2, §3, §7):
 * - glibc names its library `libc.so.6`; musl's loader resolves that name (and
 *   `libc.so`, `libc.musl-<arch>.so.1`) to itself, so we try them in order.
 * - Every constant exported here is the asm-generic Linux value, identical on
 *   x86-64 and arm64.
 * - Variadic functions (open, ioctl, fcntl) are declared with fixed argument
 *   types; on the x86-64 SysV and Linux AAPCS64 ABIs variadic integer/pointer
 *   arguments travel in the same registers as fixed ones, so this is sound.
 *
 * The library is opened lazily on first use: importing this module costs
 * nothing, and a process that never touches a tty never dlopens anything.
 *
 * Wrappers return the raw C result (-1 on failure) and never throw; call
 * `errno()` right after a failed call, or use `check()` / `SysError` to turn a
 * failure into an exception that names the call and the errno.
 */
import { dlopen, FFIType, ptr, read as ffiRead, CString, type Pointer } from "bun:ffi";
import { CellkeepError } from "../core/cause.ts";

/** Candidate names, most likely first. */
export const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"] as const;

const { i32, u32, u64, ptr: P, i64 } = FFIType;
/** size_t on the LP64 targets we support. */
const usize = u64;

const SYMBOLS = {
  open: { args: [P, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, P, usize], returns: i64 },
  write: { args: [i32, P, usize], returns: i64 },
  // Declared (int, unsigned long, void*) as measured in bun-facts §3.
  ioctl: { args: [i32, u64, P], returns: i32 },
  fcntl: { args: [i32, i32, i32], returns: i32 },
  tcgetattr: { args: [i32, P], returns: i32 },
  tcsetattr: { args: [i32, i32, P], returns: i32 },
  cfsetispeed: { args: [P, u32], returns: i32 },
  cfsetospeed: { args: [P, u32], returns: i32 },
  cfgetospeed: { args: [P], returns: u32 },
  tcflush: { args: [i32, i32], returns: i32 },
  tcdrain: { args: [i32], returns: i32 },
  posix_openpt: { args: [i32], returns: i32 },
  grantpt: { args: [i32], returns: i32 },
  unlockpt: { args: [i32], returns: i32 },
  ptsname_r: { args: [i32, P, usize], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  sendto: { args: [i32, P, usize, i32, P, u32], returns: i64 },
  eventfd: { args: [u32, i32], returns: i32 },
  clock_settime: { args: [i32, P], returns: i32 },
  __errno_location: { args: [], returns: P },
  strerror: { args: [i32], returns: P },
} as const;

type LibcSymbols = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

let lib: { symbols: LibcSymbols; name: string } | null = null;

/**
 * dlopen the first of `names` that loads with every symbol we use. Throws
 * CellkeepError "platform-unsupported" (naming each failure) when none does:
 * not Linux, or a C library without one of the symbols.
 */
export function openLibc(names: readonly string[]): { symbols: LibcSymbols; name: string } {
  const failures: string[] = [];
  for (const name of names) {
    try {
      const opened = dlopen(name, SYMBOLS);
      return { symbols: opened.symbols as unknown as LibcSymbols, name };
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new CellkeepError("platform-unsupported", `cannot load the C library via bun:ffi (${failures.join("; ")})`);
}

/** dlopen libc on first use; throws (platform-unsupported) only if no candidate name loads. */
function load(): { symbols: LibcSymbols; name: string } {
  lib ??= openLibc(LIBC_NAMES);
  return lib;
}

/** Which library name was loaded (for diagnostics); loads libc if needed. */
export function libcName(): string {
  return load().name;
}

// --- errno -------------------------------------------------------------------

/** The calling thread's errno, read through __errno_location() (glibc and musl). */
export function errno(): number {
  const p = load().symbols.__errno_location();
  return p === null ? 0 : ffiRead.i32(p, 0);
}

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ESPIPE: 29,
  EPIPE: 32,
  ECONNREFUSED: 111,
} as const;

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([k, v]) => [v, k]));

/** "EIO", "ENOTTY"... or "E<n>" for numbers we do not name. */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `E${n}`;
}

/** libc's message for an errno ("Input/output error"). */
export function strerror(n: number): string {
  const p = load().symbols.strerror(n);
  return p === null ? `errno ${n}` : new CString(p).toString();
}

/** A failed system call: which call, on what, and the errno. */
export class SysError extends Error {
  readonly errno: number;
  /** Node-style code ("EIO"), so code that handles fs errors can handle these too. */
  readonly code: string;
  readonly syscall: string;
  constructor(syscall: string, errnoValue: number, what?: string) {
    const code = errnoName(errnoValue);
    super(`${syscall}${what ? ` ${what}` : ""}: ${code} (${strerror(errnoValue)})`);
    this.name = "SysError";
    this.errno = errnoValue;
    this.code = code;
    this.syscall = syscall;
  }
}

/** Throw a SysError if `result` < 0 (reading errno immediately), else return it. */
export function check(result: number, syscall: string, what?: string): number {
  if (result < 0) throw new SysError(syscall, errno(), what);
  return result;
}

// --- constants shared by adapters ---------------------------------------------

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  CLOEXEC: 0o2000000,
} as const;

export const F = { GETFL: 3, SETFL: 4 } as const;

// --- typed wrappers -----------------------------------------------------------

/** A NUL-terminated UTF-8 copy of `s` (kept alive by the caller's reference). */
export function cstr(s: string): Buffer {
  return Buffer.from(s + "\0", "utf8");
}

export function open(path: string, flags: number, mode = 0): number {
  return load().symbols.open(cstr(path), flags, mode);
}
export function close(fd: number): number {
  return load().symbols.close(fd);
}
/** read(2) into `buf` (a non-empty view); returns bytes read or -1. */
export function read(fd: number, buf: Uint8Array, length = buf.byteLength): number {
  return Number(load().symbols.read(fd, buf, length));
}
/** write(2) from `buf` (a non-empty view); returns bytes written or -1. */
export function write(fd: number, buf: Uint8Array, length = buf.byteLength): number {
  return Number(load().symbols.write(fd, buf, length));
}
/** ioctl with a pointer argument (`arg` is a buffer the kernel reads or fills). */
export function ioctl(fd: number, request: number, arg: Uint8Array | null): number {
  return load().symbols.ioctl(fd, request, arg === null ? null : ptr(arg));
}
/** ioctl with an integer (or no) third argument, e.g. TIOCEXCL, TIOCGPTPEER. */
export function ioctlInt(fd: number, request: number, arg = 0): number {
  // bun:ffi passes a number given for a `ptr` parameter through as the raw
  // register value, which is exactly what an int-by-value ioctl wants.
  return load().symbols.ioctl(fd, request, arg as unknown as Pointer);
}
export function fcntl(fd: number, cmd: number, arg = 0): number {
  return load().symbols.fcntl(fd, cmd, arg);
}
/** `termios` must be at least TERMIOS_SIZE bytes. */
export function tcgetattr(fd: number, termios: Uint8Array): number {
  return load().symbols.tcgetattr(fd, termios);
}
export function tcsetattr(fd: number, when: number, termios: Uint8Array): number {
  return load().symbols.tcsetattr(fd, when, termios);
}
/** `speed` is a Bxxx constant (speed_t code), not a rate in bit/s. */
export function cfsetispeed(termios: Uint8Array, speed: number): number {
  return load().symbols.cfsetispeed(termios, speed);
}
export function cfsetospeed(termios: Uint8Array, speed: number): number {
  return load().symbols.cfsetospeed(termios, speed);
}
export function cfgetospeed(termios: Uint8Array): number {
  return load().symbols.cfgetospeed(termios);
}
export function tcflush(fd: number, queue: number): number {
  return load().symbols.tcflush(fd, queue);
}
export function tcdrain(fd: number): number {
  return load().symbols.tcdrain(fd);
}
export function posix_openpt(flags: number): number {
  return load().symbols.posix_openpt(flags);
}
export function grantpt(fd: number): number {
  return load().symbols.grantpt(fd);
}
export function unlockpt(fd: number): number {
  return load().symbols.unlockpt(fd);
}
/** The slave path of pty master `fd`, or throws SysError. */
export function ptsname(fd: number): string {
  const buf = new Uint8Array(128);
  const rc = load().symbols.ptsname_r(fd, buf, buf.byteLength);
  // ptsname_r returns the error number itself (not -1/errno) on failure.
  if (rc !== 0) throw new SysError("ptsname_r", rc);
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}
export function socket(domain: number, type: number, protocol: number): number {
  return load().symbols.socket(domain, type, protocol);
}
export function sendto(fd: number, data: Uint8Array, flags: number, addr: Uint8Array | null, addrLen: number): number {
  return Number(load().symbols.sendto(fd, data, data.byteLength, flags, addr === null ? null : ptr(addr), addrLen));
}

export const EFD_NONBLOCK = 0x800;
export const EFD_CLOEXEC = 0x80000;

/** eventfd(2): a counter fd to wake a thread waiting in poll(2). */
export function eventfd(initval: number, flags: number): number {
  return load().symbols.eventfd(initval, flags);
}

/** clockid_t CLOCK_REALTIME (asm-generic). */
export const CLOCK_REALTIME = 0;

/**
 * clock_settime(CLOCK_REALTIME): step the system clock to `epochMs`. struct
 * timespec on LP64 is { i64 tv_sec; i64 tv_nsec } (16 bytes). Needs
 * CAP_SYS_TIME (EPERM without; systemd's ProtectClock=yes also denies it).
 */
export function clockSetRealtime(epochMs: number): number {
  const ts = new BigInt64Array(2);
  const ms = Math.floor(epochMs);
  ts[0] = BigInt(Math.floor(ms / 1000));
  ts[1] = BigInt((ms - Math.floor(ms / 1000) * 1000) * 1_000_000);
  return load().symbols.clock_settime(CLOCK_REALTIME, ptr(ts));
}

export type { Pointer };

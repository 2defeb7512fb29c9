/**
 * systemd integration: sd_notify(3) readiness, status and watchdog, spoken
 * directly over the notification socket (a unix datagram socket named by
 * $NOTIFY_SOCKET). Bun has no unix-datagram API (bun-facts §6), so this goes
 * through bun:ffi socket(AF_UNIX, SOCK_DGRAM) + sendto via src/sys/libc.ts.
 *
 * Protocol (sd_notify(3), systemd.service(5)): one datagram of
 * newline-separated KEY=VALUE assignments. READY=1 once running (Type=notify),
 * STATUS=<one line> for `systemctl status`, WATCHDOG=1 at least every
 * WATCHDOG_USEC (we send at half of it, as sd_watchdog_enabled(3) advises),
 * STOPPING=1 on shutdown. A socket path starting with "@" is in the abstract
 * namespace: the "@" becomes a NUL byte and the address length does not count
 * a terminating NUL.
 *
 * Everything here fails soft: not running under systemd means no
 * NOTIFY_SOCKET and every call is a no-op returning false.
 */
import * as libc from "../sys/libc.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";

export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
/** Do not raise SIGPIPE if systemd has gone away. */
export const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t (2) + sun_path[108]. */
export const SOCKADDR_UN_SIZE = 110;

/** Encode a NOTIFY_SOCKET value as struct sockaddr_un and its length, or null if it is not a usable unix socket address. */
export function unixSocketAddress(path: string): { addr: Uint8Array; len: number } | null {
  if (path.length === 0) return null;
  const abstract = path.startsWith("@");
  if (!abstract && !path.startsWith("/")) return null; // systemd also allows vsock: addresses; we do not speak those
  const name = new TextEncoder().encode(abstract ? path.slice(1) : path);
  // sun_path is 108 bytes: a path needs one for its terminating NUL, an abstract name one for its leading NUL.
  if (name.length > 107) return null;
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  // sa_family_t is a u16 in host order; every target we build for (x86-64, arm64) is little-endian.
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  const off = abstract ? 3 : 2; // abstract: sun_path[0] stays NUL
  addr.set(name, off);
  const len = abstract ? 2 + 1 + name.length : 2 + name.length + 1;
  return { addr, len };
}

/** One line for STATUS= (systemd shows only one; newlines would start new assignments). */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ").trim();
}

export interface Notifier {
  /** Send raw assignments ("READY=1\nSTATUS=..."); false when not sent. */
  send(state: string): boolean;
  ready(status?: string): boolean;
  status(text: string): boolean;
  watchdog(): boolean;
  stopping(status?: string): boolean;
  close(): void;
}

/** A notifier that does nothing (not under systemd). */
export const nullNotifier: Notifier = {
  send: () => false,
  ready: () => false,
  status: () => false,
  watchdog: () => false,
  stopping: () => false,
  close: () => {},
};

export class SdNotifier implements Notifier {
  private fd = -1;
  private readonly address: { addr: Uint8Array; len: number };
  /** The last send error, for diagnostics. */
  lastError: string | null = null;

  constructor(
    readonly socketPath: string,
    private readonly log?: Logger,
  ) {
    const a = unixSocketAddress(socketPath);
    if (!a) throw new Error(`NOTIFY_SOCKET is not a unix socket address: ${socketPath}`);
    this.address = a;
  }

  /** A notifier for $NOTIFY_SOCKET, or nullNotifier when unset (not started by systemd, or Type= is not notify). */
  static fromEnv(env: Record<string, string | undefined> = process.env, log?: Logger): Notifier {
    const path = env.NOTIFY_SOCKET;
    if (!path) return nullNotifier;
    try {
      return new SdNotifier(path, log);
    } catch (err) {
      log?.warn("systemd notification disabled", { detail: (err as Error).message });
      return nullNotifier;
    }
  }

  send(state: string): boolean {
    if (this.fd < 0) {
      this.fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (this.fd < 0) return this.fail("socket");
    }
    const data = new TextEncoder().encode(state);
    const n = libc.sendto(this.fd, data, MSG_NOSIGNAL, this.address.addr, this.address.len);
    if (n < 0) return this.fail("sendto");
    this.lastError = null;
    return true;
  }

  ready(status?: string): boolean {
    return this.send(status === undefined ? "READY=1" : `READY=1\nSTATUS=${oneLine(status)}`);
  }
  status(text: string): boolean {
    return this.send(`STATUS=${oneLine(text)}`);
  }
  watchdog(): boolean {
    return this.send("WATCHDOG=1");
  }
  stopping(status?: string): boolean {
    return this.send(status === undefined ? "STOPPING=1" : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }
  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }

  private fail(call: string): boolean {
    const e = libc.errno();
    const msg = `${call}: ${libc.errnoName(e)} (${libc.strerror(e)})`;
    // Log each distinct failure once; systemd being briefly away must not flood the log.
    if (msg !== this.lastError) this.log?.warn("systemd notification failed", { socket: this.socketPath, detail: msg });
    this.lastError = msg;
    return false;
  }
}

/**
 * The keep-alive period: half of WATCHDOG_USEC (sd_watchdog_enabled(3)), or
 * null when the watchdog is off or meant for another process (WATCHDOG_PID).
 */
export function watchdogIntervalMs(env: Record<string, string | undefined> = process.env, pid = process.pid): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec)) return null;
  const wpid = env.WATCHDOG_PID;
  if (wpid !== undefined && wpid !== "" && Number(wpid) !== pid) return null;
  const ms = Number(usec) / 1000;
  if (!(ms > 0)) return null;
  return Math.max(1, Math.floor(ms / 2));
}

export interface WatchdogOptions {
  scheduler: Scheduler;
  notifier: Pick<Notifier, "watchdog">;
  /** From watchdogIntervalMs(). */
  intervalMs: number;
  /**
   * Is the agent making progress? E.g. "the supervisor reported progress
   * within the last N s". The timer firing proves the event loop turns; this
   * proves the supervisor is not wedged. When false we stay silent and let
   * systemd's WatchdogSec= restart us.
   */
  isAlive: (now: number) => boolean;
  log?: Logger;
}

/** Sends WATCHDOG=1 every interval while isAlive() holds. */
export class SystemdWatchdog {
  private cancel: CancelTimer | null = null;
  /** Keep-alives sent and withheld (for /status and tests). */
  sent = 0;
  withheld = 0;

  constructor(private readonly o: WatchdogOptions) {
    if (!(o.intervalMs > 0)) throw new RangeError("watchdog interval must be positive");
  }

  start(): void {
    this.stop();
    this.tick();
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  private tick(): void {
    const now = this.o.scheduler.now();
    if (this.o.isAlive(now)) {
      if (this.o.notifier.watchdog()) this.sent++;
    } else {
      this.withheld++;
      if (this.withheld === 1 || this.withheld % 10 === 0) this.o.log?.error("watchdog keep-alive withheld: the supervisor made no progress", { withheld: this.withheld });
    }
    this.cancel = this.o.scheduler.setTimer(now + this.o.intervalMs, () => this.tick());
  }
}

/** isAlive for the watchdog from a "last progress" timestamp: recent within `maxAgeMs`. */
export function progressWithin(lastProgressAt: () => number, maxAgeMs: number): (now: number) => boolean {
  return (now) => now - lastProgressAt() <= maxAgeMs;
}

/**
 * Pseudo-terminal pairs for tests and the virtual modem: the agent opens the
 * slave like a real modem tty (optionally through a stable symlink such as
 * /tmp/cellkeep-modem), and the simulator drives the master.
 *
 * - posix_openpt/grantpt/unlockpt/ptsname_r through libc (bun-facts §2).
 * - The slave is put in raw mode (no echo, no CR/LF mapping, no signals)
 *   through the MASTER fd: Linux applies termios ioctls on a pty master to
 *   its slave (tty_mode_ioctl uses tty->link), so no slave fd is needed.
 * - By default the pair holds one slave fd open itself (`holdSlave`). Without
 *   it, the master's reads fail with EIO every time the last client closes the
 *   slave, so an agent that closes and reopens the port would kill the
 *   simulator's side. Holding it makes the master behave like a modem that
 *   stays powered while the host closes its tty.
 * - `close()` closes the master (the slave side then reads EOF: the agent sees
 *   `port-vanished`) and removes the symlink if it still points at our slave.
 */
import * as fs from "node:fs";
import type { BytePipe } from "../core/pipe.ts";
import * as libc from "../sys/libc.ts";
import { FdPipe } from "./fd-pipe.ts";
import { applyTermios } from "./termios.ts";

export interface PtyOptions {
  /** Create this symlink to the slave (replacing an existing symlink there). */
  link?: string;
  /** Raw mode on the slave (default true). */
  raw?: boolean;
  /** Keep a slave fd open inside the pair (default true; see above). */
  holdSlave?: boolean;
}

export interface PtyPair {
  /** Non-blocking, close-on-exec master fd. */
  readonly masterFd: number;
  /** "/dev/pts/N". */
  readonly slavePath: string;
  /** The symlink, when asked for. */
  readonly linkPath?: string;
  /** What a client should open: linkPath if set, else slavePath. */
  readonly path: string;
  readonly isOpen: boolean;
  /** Close the master (and any ptyMasterPipe over it) and remove the link. Idempotent. */
  close(): void;
}

const pipesOfPair = new WeakMap<PtyPair, FdPipe>();

export function openPtyPair(opts: PtyOptions = {}): PtyPair {
  const flags = libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC;
  const masterFd = libc.check(libc.posix_openpt(flags), "posix_openpt");
  let holdFd = -1;
  let linkPath: string | undefined;
  try {
    libc.check(libc.grantpt(masterFd), "grantpt");
    libc.check(libc.unlockpt(masterFd), "unlockpt");
    const slavePath = libc.ptsname(masterFd);
    if (opts.raw ?? true) applyTermios(masterFd, { baudRate: 115200, hupcl: false });
    if (opts.holdSlave ?? true) holdFd = libc.check(libc.open(slavePath, flags), "open", slavePath);
    if (opts.link) {
      replaceSymlink(opts.link, slavePath);
      linkPath = opts.link;
    }
    let open = true;
    const pair: PtyPair = {
      masterFd,
      slavePath,
      ...(linkPath ? { linkPath } : {}),
      path: linkPath ?? slavePath,
      get isOpen() {
        return open;
      },
      close() {
        if (!open) return;
        open = false;
        void pipesOfPair.get(pair)?.close();
        if (linkPath) removeOwnSymlink(linkPath, slavePath);
        if (holdFd >= 0) libc.close(holdFd);
        libc.close(masterFd);
      },
    };
    return pair;
  } catch (err) {
    if (linkPath) removeOwnSymlink(linkPath, libc.ptsname(masterFd));
    if (holdFd >= 0) libc.close(holdFd);
    libc.close(masterFd);
    throw err;
  }
}

/**
 * A BytePipe over the pair's master (the simulator's side). One per pair;
 * asking again returns the same pipe. It finishes with `port-vanished` if
 * the slave hangs up (only possible with holdSlave: false) and is closed by
 * `pair.close()`.
 */
export function ptyMasterPipe(pair: PtyPair): BytePipe {
  if (!pair.isOpen) throw new Error("ptyMasterPipe: the pty pair is closed");
  let pipe = pipesOfPair.get(pair);
  if (!pipe || !pipe.isOpen) {
    pipe = new FdPipe(pair.masterFd, { label: `pty master of ${pair.slavePath}` });
    pipesOfPair.set(pair, pipe);
  }
  return pipe;
}

function replaceSymlink(link: string, target: string): void {
  try {
    const st = fs.lstatSync(link);
    if (!st.isSymbolicLink()) throw new Error(`openPtyPair: ${link} exists and is not a symlink`);
    fs.unlinkSync(link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  fs.symlinkSync(target, link);
}

function removeOwnSymlink(link: string, target: string): void {
  try {
    if (fs.readlinkSync(link) === target) fs.unlinkSync(link);
  } catch {
    // already gone or replaced by someone else
  }
}

/**
 * Open the pair's slave for another process, e.g. `slirp` or `pppd` as the
 * far PPP peer: `Bun.spawn(["slirp"], { stdin: fd, stdout: fd })`.
 * Blocking by default (a new open file description, so the agent's
 * non-blocking fds are unaffected); the caller closes it after spawning.
 */
export function openSlaveFd(pair: PtyPair, opts: { nonBlocking?: boolean } = {}): number {
  const flags = libc.O.RDWR | libc.O.NOCTTY | libc.O.CLOEXEC | (opts.nonBlocking ? libc.O.NONBLOCK : 0);
  return libc.check(libc.open(pair.slavePath, flags), "open", pair.slavePath);
}

/**
 * slirp as an independent PPP peer over a real pty (see
 * /work/shared/notes/slirp-peer.md): `slirp-fullbolt ppp nozeros`, fd 0 = the
 * pty slave in raw mode, stdout /dev/null, stderr to a file, HOME = an empty
 * temp dir holding only the secrets files we write. stop() kills slirp, closes
 * the pty and removes the temp dir.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BytePipe } from "../../src/core/pipe.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";

export const SLIRP_BIN = "/usr/bin/slirp-fullbolt";

export interface SlirpPeer {
  pair: PtyPair;
  /** Our side: the pty master as a BytePipe. */
  pipe: BytePipe;
  proc: ReturnType<typeof Bun.spawn>;
  home: string;
  /** slirp's stderr so far (banner, diagnostics). */
  stderr(): string;
  stop(): Promise<void>;
}

export function slirpAvailable(): boolean {
  return Bun.which("slirp-fullbolt") !== null || Bun.file(SLIRP_BIN).size > 0;
}

export interface SlirpOptions {
  /** "+pap" / "+chap" with a secrets file holding user/password. */
  auth?: { method: "pap" | "chap"; user: string; password: string };
  /** Extra options, each its own argv element ("-vj", "debugppp", "mtu 1500"). */
  args?: string[];
}

export function startSlirp(opts: SlirpOptions = {}): SlirpPeer {
  const home = mkdtempSync(join(tmpdir(), "cellkeep-slirp-"));
  const args = ["ppp", "nozeros"];
  if (opts.auth) {
    // slirp's secrets format (as pppd's): client server secret
    writeFileSync(join(home, `.${opts.auth.method}-secrets`), `${opts.auth.user} * ${opts.auth.password}\n`, { mode: 0o600 });
    args.push(`+${opts.auth.method}`);
  }
  args.push(...(opts.args ?? []));
  // Raw mode before spawning, or the line discipline echoes our first ConfReq back (pitfall 3).
  const pair = openPtyPair({ raw: true });
  const slaveFd = openSync(pair.slavePath, "r+");
  const errPath = join(home, "stderr.log");
  const errFd = openSync(errPath, "w");
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([SLIRP_BIN, ...args], {
      cwd: home,
      env: { HOME: home, PATH: "/usr/bin:/bin" },
      stdin: slaveFd,
      stdout: "ignore",
      stderr: errFd,
    });
  } finally {
    closeSync(slaveFd);
    closeSync(errFd);
  }
  const pipe = ptyMasterPipe(pair);
  let stopped = false;
  return {
    pair,
    pipe,
    proc,
    home,
    stderr: () => {
      try {
        return readFileSync(errPath, "utf8");
      } catch {
        return "";
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(2000).then(() => false)]);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      await pipe.close();
      pair.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

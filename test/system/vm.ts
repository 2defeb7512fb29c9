/**
 * The pieces of the system test (test/system/run.ts): the cached arm64 guest
 * image, the virtual modem on the host behind a reconnectable socket, QEMU,
 * and a shell on the guest's serial console.
 *
 * The modem path: `cellkeep simulate` on a host pty ⇄ socat ⇄ a unix socket
 * QEMU serves ⇄ QEMU's usb-serial (an FTDI FT232, always plugged) ⇄ the
 * guest's ftdi_sio driver ⇄ /dev/ttyUSB0. The socket lets the test restart the
 * virtual modem with other scenarios while the guest keeps its USB device.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");
const BUILD_IMAGE = join(import.meta.dir, "build-image.sh");

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  /** false: taken from the cache. */
  built: boolean;
}

/**
 * The guest image for the current recipe: from the cache
 * ($CELLKEEP_VM_CACHE, default ~/.cache/cellkeep/system-test/<recipe hash>),
 * or built by build-image.sh and put there.
 */
export async function guestImage(log: (line: string) => void): Promise<GuestImage> {
  const recipe = createHash("sha256").update(readFileSync(BUILD_IMAGE)).digest("hex").slice(0, 16);
  const cacheRoot = process.env.CELLKEEP_VM_CACHE ?? join(homedir(), ".cache/cellkeep/system-test");
  const dir = join(cacheRoot, recipe);
  const image = { dir, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), rootfs: join(dir, "rootfs.img") };
  if ([image.kernel, image.initrd, image.rootfs].every(existsSync)) return { ...image, built: false };
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`building the guest image (mmdebstrap, arm64, ${process.env.SUITE ?? "bookworm"}) into ${dir}`);
  const p = Bun.spawn(["bash", BUILD_IMAGE, tmp], { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`build-image.sh failed (exit ${code}):\n${(out + err).split("\n").slice(-30).join("\n")}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { ...image, built: true };
}

/** Reads a stream to its end, handing each decoded chunk to `onText`. */
async function drain(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onText(decoder.decode(value, { stream: true }));
  }
}

/** `cellkeep simulate` on a host pty, bridged by socat to QEMU's modem socket. */
export class HostModem {
  private sim: Subprocess | null = null;
  private bridge: Subprocess | null = null;
  private logText = "";

  constructor(
    private readonly dir: string,
    private readonly socket: string,
  ) {}

  /** Everything the virtual modem logged (its events), across restarts. */
  get log(): string {
    return this.logText;
  }

  async start(scenarios: string[]): Promise<void> {
    await this.stop();
    const link = join(this.dir, "ttySIM");
    const args = [process.execPath, join(ROOT, "src/main.ts"), "simulate", "--pty", link, "--time-scale", "0.2", "--username", "demo", "--password", "demo-secret"];
    for (const s of scenarios) args.push("--scenario", s);
    const sim = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    this.sim = sim;
    this.logText += `--- simulate ${scenarios.join(" ")}\n`;
    void drain(sim.stderr as ReadableStream<Uint8Array>, (text) => (this.logText += text));
    // The first stdout line is the pty path: the simulator is ready.
    const reader = (sim.stdout as ReadableStream<Uint8Array>).getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(20_000).then(() => null)]);
    reader.releaseLock();
    if (!first || first.done) throw new Error(`cellkeep simulate did not start:\n${this.logText}`);
    this.bridge = Bun.spawn(["socat", `UNIX-CONNECT:${this.socket}`, `FILE:${link},raw,echo=0`], { stdout: "ignore", stderr: "pipe" });
  }

  async stop(): Promise<void> {
    for (const p of [this.bridge, this.sim]) {
      if (!p) continue;
      p.kill("SIGTERM");
      await Promise.race([p.exited, Bun.sleep(5_000).then(() => p.kill("SIGKILL"))]);
    }
    this.bridge = null;
    this.sim = null;
  }
}

export interface VmOptions {
  image: GuestImage;
  /** Per-run directory: the qcow2 overlay, sockets, the 9p share. */
  dir: string;
  /** Shared with the guest at /host (9p). */
  share: string;
  modemSocket: string;
  memoryMiB?: number;
  cpus?: number;
}

/**
 * QEMU (TCG: an arm64 guest on an x86 host) with the guest's console on this
 * process's pipes. Every run writes to a fresh qcow2 overlay; the cached image
 * stays clean.
 */
export class Vm {
  private proc: Subprocess<"pipe", "pipe", "pipe"> | null = null;
  /** All console output since boot (for diagnosis). */
  transcript = "";
  private cursor = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly o: VmOptions) {}

  async start(): Promise<void> {
    const overlay = join(this.o.dir, "overlay.qcow2");
    const img = Bun.spawnSync(["qemu-img", "create", "-q", "-f", "qcow2", "-b", this.o.image.rootfs, "-F", "raw", overlay]);
    if (img.exitCode !== 0) throw new Error(`qemu-img: ${img.stderr.toString()}`);
    const args = [
      "qemu-system-aarch64",
      "-M", "virt",
      // pauth-impdef: QEMU's cheap pointer-authentication hash; the architected one is slow under TCG.
      "-cpu", "max,pauth-impdef=on",
      "-smp", String(this.o.cpus ?? 2),
      "-m", String(this.o.memoryMiB ?? 1536),
      "-kernel", this.o.image.kernel,
      "-initrd", this.o.image.initrd,
      "-append", "root=/dev/vda rw console=ttyAMA0 quiet loglevel=3 systemd.show_status=false",
      "-drive", `file=${overlay},if=virtio,format=qcow2`,
      "-virtfs", `local,path=${this.o.share},mount_tag=host,security_model=none,id=host`,
      "-nic", "none",
      "-display", "none",
      "-monitor", "none",
      "-chardev", "stdio,id=console,signal=off",
      "-serial", "chardev:console",
      "-chardev", `socket,id=modem,path=${this.o.modemSocket},server=on,wait=off`,
      "-device", "qemu-xhci",
      "-device", "usb-serial,chardev=modem,always-plugged=on",
    ];
    const proc = Bun.spawn(args, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    this.proc = proc;
    void drain(proc.stdout, (text) => {
      this.transcript += text;
      for (const w of this.waiters.splice(0)) w();
    });
    void drain(proc.stderr, (text) => (this.transcript += `[qemu] ${text}`));
  }

  get exited(): Promise<number> {
    return this.proc?.exited ?? Promise.resolve(0);
  }

  /** Waits for `pattern` in console output after the cursor; moves the cursor past it. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.transcript.slice(this.cursor);
      const m = pattern.exec(rest);
      if (m) {
        this.cursor += m.index + m[0].length;
        return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${pattern} on the guest console; last output:\n${rest.slice(-1500)}`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), Bun.sleep(Math.min(left, 1000))]);
    }
  }

  private write(text: string): void {
    this.proc!.stdin.write(text);
    this.proc!.stdin.flush();
  }

  /** After (re)boot: wait for the autologin shell, then make it quiet and machine-readable. */
  async login(timeoutMs = 240_000): Promise<void> {
    await this.waitFor(/login: root \(automatic login\)/, timeoutMs);
    await Bun.sleep(1500);
    // No echo, no prompt, no bracketed paste, no kernel messages on the console: output is exactly the commands' output.
    this.write("stty -echo; bind 'set enable-bracketed-paste off' 2>/dev/null; PS1=''; PS2=''; export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat SYSTEMD_COLORS=0; dmesg -n 1; echo '@@ready@@'\n");
    await this.waitFor(/@@ready@@/, 60_000);
  }

  /** Runs `cmd` in the guest's root shell; resolves with its exit status and combined output. */
  async sh(cmd: string, timeoutMs = 120_000): Promise<{ code: number; out: string }> {
    const token = Math.random().toString(36).slice(2, 10);
    this.write(`echo '@@<${token}@@'; { ${cmd}\n} 2>&1; echo "@@>${token} $?@@"\n`);
    await this.waitFor(new RegExp(`@@<${token}@@\\r?\\n`), 30_000);
    const start = this.cursor;
    const m = await this.waitFor(new RegExp(`@@>${token} (\\d+)@@`), timeoutMs);
    const out = this.transcript.slice(start, this.cursor - m[0].length).replace(/\r/g, "");
    return { code: Number(m[1]), out };
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill("SIGTERM");
    await Promise.race([this.proc.exited, Bun.sleep(10_000).then(() => this.proc?.kill("SIGKILL"))]);
    this.proc = null;
  }
}

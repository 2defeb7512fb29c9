#!/usr/bin/env bun
/**
 * The system test (`npm run test:system`, as root): the .deb installed the way
 * the README says on an arm64 Debian guest booted with systemd under
 * qemu-system-aarch64 (TCG), with the virtual modem on the host attached as a
 * USB serial adapter. Not part of `npm test` (too slow for CI; see the README).
 *
 * Each check prints "ok" or "FAIL", its time, and what it saw; the run ends
 * with the timings and exits 1 if any check failed. A check that cannot run
 * because an earlier one failed is reported as failed too, never skipped.
 *
 *   bun test/system/run.ts [--keep] [--deb-dir DIR]
 *     --keep      leave the run directory (console transcript, modem log) in place
 *     --deb-dir   install the .debs found there instead of building them
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../../build/build.ts";
import { buildDeb, debFileName } from "../../build/deb.ts";
import { VERSION } from "../../src/version.ts";
import { guestImage, HostModem, Vm, ROOT } from "./vm.ts";

const args = process.argv.slice(2);
const keep = args.includes("--keep");
const debDirArg = args.includes("--deb-dir") ? args[args.indexOf("--deb-dir") + 1] : undefined;

const t0 = Date.now();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const log = (line: string) => console.log(`[${secs(Date.now() - t0).padStart(8)}] ${line}`);

interface Result {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}
const results: Result[] = [];
const timings: Array<[string, number]> = [];

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  log(`${name} ...`);
  const value = await fn();
  timings.push([name, Date.now() - start]);
  log(`${name}: ${secs(Date.now() - start)}`);
  return value;
}

/** A check: fn returns what it saw (printed), or throws with what went wrong. */
async function check(name: string, fn: () => Promise<string>): Promise<boolean> {
  const start = Date.now();
  let ok = true;
  let detail: string;
  try {
    detail = await fn();
  } catch (err) {
    ok = false;
    detail = err instanceof Error ? err.message : String(err);
  }
  const ms = Date.now() - start;
  results.push({ name, ok, ms, detail });
  log(`${ok ? "ok  " : "FAIL"} ${name} (${secs(ms)})${detail ? `\n        ${detail.trim().split("\n").slice(0, 25).join("\n        ")}` : ""}`);
  return ok;
}

function fail(what: string, out = ""): never {
  throw new Error(out ? `${what}\n${out.trim()}` : what);
}

if (process.getuid?.() !== 0) {
  console.error("test:system needs root (binfmt_misc for the image build, mmdebstrap)");
  process.exit(1);
}
/** Debian packages this test needs on the host, by the program that shows each is there. */
const HOST_TOOLS: Record<string, string> = {
  mmdebstrap: "mmdebstrap",
  "arch-test": "arch-test",
  "qemu-system-aarch64": "qemu-system-arm",
  "qemu-img": "qemu-utils",
  "qemu-aarch64-static": "qemu-user-static",
  "mke2fs": "e2fsprogs",
  socat: "socat",
  readelf: "binutils",
};
const missing = Object.entries(HOST_TOOLS).filter(([tool]) => !Bun.which(tool, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }));
if (missing.length > 0) {
  console.error(`test:system needs: apt-get install ${[...new Set(missing.map(([, pkg]) => pkg))].join(" ")}  (missing: ${missing.map(([t]) => t).join(", ")})`);
  process.exit(1);
}

const runDir = mkdtempSync(join(tmpdir(), "cellkeep-system-"));
const share = join(runDir, "share");
mkdirSync(share);
const modemSocket = join(runDir, "modem.sock");
const UPGRADE_VERSION = `${VERSION}+systest2`;

// --- the guest's configuration files --------------------------------------------------------
const BASE_CONFIG = `# cellkeep system test: the virtual modem on the host, as /dev/ttyUSB0 in the guest
[modem]
port = "auto"
control_port = "none"

[network]
apn = "internet"

[auth]
method = "pap"
username = "demo"
password_file = "/etc/cellkeep/password"

[ppp]
echo_interval = "10s"
echo_failures = 3

[link]
mode = "tun"
interface = "cell0"
default_route = true
dns = "/run/cellkeep/resolv.conf"

[health]
every = "20s"
targets = ["8.8.8.8"]
timeout = "5s"

[recovery]
state_file = "/var/lib/cellkeep/recovery.json"

[http]
listen = "127.0.0.1:8080"
token_file = "/etc/cellkeep/token"
`;
// Every failed dial resets, with no spacing: module reset, power cycle (a GPIO line on the
// guest's PL061), reboot (the packaged request file), in one escalation.
const LADDER_CONFIG = BASE_CONFIG.replace("[ppp]\n", '[ppp]\nrestart_timer = "1s"\nmax_configure = 3\n').replace(
  "[recovery]\n",
  `[recovery]
dial_failures = 1
backoff = ["0s"]
power_cycle = "gpioset --mode=time --usec=200000 gpiochip0 0=1 && echo cellkeep-power-cycle-ran-as-$(id -un)"
reboot_command = "touch /run/cellkeep/reboot-requested"
`,
);

let vm: Vm | null = null;
const modem = new HostModem(runDir, modemSocket);
let exitCode = 0;

try {
  // --- build ---------------------------------------------------------------------------------
  const debDir = debDirArg ?? join(runDir, "dist");
  if (!debDirArg) {
    await step("build arm64 binary and .debs", async () => {
      const bin = await buildBinary("linux-arm64", debDir);
      // gzip: the xz of `npm run build` costs minutes here; the contents are the same.
      await buildDeb({ binary: bin.path, target: "linux-arm64", outDir: debDir, compression: "gzip" });
      await buildDeb({ binary: bin.path, target: "linux-arm64", outDir: debDir, compression: "gzip", version: UPGRADE_VERSION });
    });
  }
  const deb = debFileName(VERSION, "arm64");
  const upgradeDeb = debFileName(UPGRADE_VERSION, "arm64");
  for (const f of readdirSync(debDir).filter((f) => f.endsWith(".deb"))) copyFileSync(join(debDir, f), join(share, f));
  writeFileSync(join(share, "cellkeep.toml"), BASE_CONFIG);
  writeFileSync(join(share, "ladder.toml"), LADDER_CONFIG);
  writeFileSync(join(share, "reload.toml"), BASE_CONFIG.replace('apn = "internet"', 'apn = "internet.reloaded"'));

  const image = await step("guest image (cached or built)", () => guestImage(log));
  log(image.built ? `image built: ${image.dir}` : `image from cache: ${image.dir}`);

  // --- boot ------------------------------------------------------------------------------------
  vm = new Vm({ image, dir: runDir, share, modemSocket });
  const theVm = vm;
  await step("boot the guest to a shell", async () => {
    await theVm.start();
    // QEMU creates the modem socket at start; the bridge connects to it.
    for (let i = 0; i < 100 && !readdirSync(runDir).includes("modem.sock"); i++) await Bun.sleep(100);
    await modem.start(["healthy"]);
    await theVm.login();
  });
  const sh = (cmd: string, timeoutMs?: number) => theVm.sh(cmd, timeoutMs);
  const must = async (cmd: string, timeoutMs?: number) => {
    const r = await sh(cmd, timeoutMs);
    if (r.code !== 0) fail(`\`${cmd}\` exited ${r.code}`, r.out);
    return r.out;
  };
  const waitUntil = async (what: string, cmd: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const r = await sh(cmd);
      if (r.code === 0) return r.out;
      last = r.out;
      await Bun.sleep(2000);
    }
    return fail(`${what}: not within ${secs(timeoutMs)}`, last);
  };
  const mainPid = async () => (await must("systemctl show -p MainPID --value cellkeep")).trim();

  await must("mountpoint -q /host || mount /host");

  // --- install as the README says ------------------------------------------------------------
  await check("install: apt install ./cellkeep_*.deb (user, groups, conffile mode, state dir)", async () => {
    await must(`cd /host && apt-get install -y -q ./${deb} >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }`, 600_000);
    const id = await must("id cellkeep");
    if (!/\(dialout\)/.test(id) || !/\(gpio\)/.test(id)) fail("cellkeep is not in dialout and gpio", id);
    const conf = await must("stat -c '%U:%G %a' /etc/cellkeep/cellkeep.toml /etc/cellkeep /var/lib/cellkeep");
    if (!/^root:cellkeep 640\nroot:cellkeep 750\ncellkeep:cellkeep 750/.test(conf)) fail("unexpected owners/modes", conf);
    const enabled = await sh("systemctl is-enabled cellkeep");
    if (enabled.out.trim() !== "disabled") fail("a fresh install must not enable the service before it is configured", enabled.out);
    return `${id.trim()}\n${conf.trim()}`;
  });

  await check("first config: config, password and token files root:cellkeep 0640; `cellkeep check` as the service user", async () => {
    await must("install -m 0640 -o root -g cellkeep /host/cellkeep.toml /etc/cellkeep/cellkeep.toml");
    await must("umask 027; printf 'demo-secret\\n' > /etc/cellkeep/password; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \\n' > /etc/cellkeep/token; chgrp cellkeep /etc/cellkeep/password /etc/cellkeep/token");
    return must("setpriv --reuid=cellkeep --regid=cellkeep --init-groups cellkeep check --config /etc/cellkeep/cellkeep.toml | head -3");
  });

  await check("`cellkeep ports` finds the modem on /dev/ttyUSB0", async () => {
    const out = await must("cellkeep ports");
    if (!out.includes("/dev/ttyUSB0")) fail("no /dev/ttyUSB0 in the list", out);
    return out;
  });

  await check("`cellkeep doctor` finds the modem and nothing that blocks a run (exit 0)", async () => {
    const r = await sh("cellkeep doctor --config /etc/cellkeep/cellkeep.toml");
    if (r.code !== 0) fail(`doctor exited ${r.code}`, r.out);
    if (!r.out.includes("/dev/ttyUSB0")) fail("doctor does not name /dev/ttyUSB0", r.out);
    return r.out;
  });

  await check("systemd-analyze security: the exposure score", async () => {
    const out = await must("systemd-analyze security cellkeep.service --no-pager | tail -1");
    return out.trim();
  });

  // --- the service ---------------------------------------------------------------------------
  const connected = await check("systemctl enable --now cellkeep → connected in tun mode", async () => {
    await must("systemctl enable --now cellkeep", 120_000);
    await waitUntil("cellkeep status: connected", "cellkeep status", 240_000);
    const addr = await must("ip -4 addr show dev cell0; ip route show default");
    if (!/inet 10\.64\.0\.\d+/.test(addr) || !/default .*dev cell0/.test(addr)) fail("cell0 has no 10.64.0.x address or no default route", addr);
    const dns = await must("cat /run/cellkeep/resolv.conf");
    if (!/^nameserver /m.test(dns)) fail("no DNS servers in /run/cellkeep/resolv.conf", dns);
    return `${addr.trim()}\n${dns.trim()}`;
  });

  await check("ping through cell0 to the virtual network", async () => {
    if (!connected) fail("not connected");
    return must("ping -c 3 -W 5 -I cell0 8.8.8.8 | tail -2");
  });

  await check("GET /healthz over loopback → 200", async () => {
    const code = (await must("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz")).trim();
    if (code !== "200") fail(`HTTP ${code}`);
    return `HTTP ${code}`;
  });

  await check("systemctl reload applies a changed config (new APN dialled, same process)", async () => {
    const before = await mainPid();
    await must("install -m 0640 -o root -g cellkeep /host/reload.toml /etc/cellkeep/cellkeep.toml && systemctl reload cellkeep");
    const sawApn = async () => modem.log.includes("internet.reloaded");
    for (let i = 0; i < 60 && !(await sawApn()); i++) await Bun.sleep(2000);
    if (!(await sawApn())) fail("the virtual modem never saw the new APN", modem.log.split("\n").slice(-15).join("\n"));
    await waitUntil("connected again", "cellkeep status", 180_000);
    const after = await mainPid();
    if (after !== before) fail(`the process changed (${before} → ${after}): a restart, not a reload`);
    return `MainPID ${after} kept; ${(await must("journalctl -u cellkeep -o cat --no-pager | grep -m1 'changed: network'")).trim()}`;
  });

  await check("SIGSTOP of the agent → systemd's watchdog restarts it", async () => {
    const before = await mainPid();
    await must(`kill -STOP ${before}`);
    // WatchdogSec=90s, then SIGABRT (held while stopped) and SIGKILL after TimeoutStopSec=20s, RestartSec=5s.
    await waitUntil("a new main process", `p=$(systemctl show -p MainPID --value cellkeep); [ "$p" != 0 ] && [ "$p" != ${before} ]`, 240_000);
    const journal = await must("journalctl -u cellkeep -o cat --no-pager | grep -i -m1 'watchdog timeout'");
    await waitUntil("connected after the restart", "cellkeep status", 240_000);
    return journal.trim();
  });

  // --- the ladder up to the host reboot, and a reboot that keeps its state ----------------------
  // The virtual modem is only ever restarted while the guest is up: restarting it (and its socat
  // bridge) while the guest reboots left QEMU's usb-serial passing no data until the next reset.
  // So the service is disabled for this part: after the reboot it waits until the network has
  // healed, and the ladder's state is read before the agent starts again.
  await check("ladder: module reset → power cycle (GPIO, under the hardened unit) → host reboot", async () => {
    await must("systemctl disable --now cellkeep && install -m 0640 -o root -g cellkeep /host/ladder.toml /etc/cellkeep/cellkeep.toml");
    // IPCP never gives an address: every dial fails (a link fault), so the ladder climbs.
    await modem.start(["no-ip"]);
    await must("systemctl start cellkeep");
    await theVm.waitFor(/reboot: Restarting system/, 600_000);
    await theVm.login();
    await must("mountpoint -q /host || mount /host");
    const prev = await must("journalctl -b -1 -o cat --no-pager -u cellkeep -u cellkeep-reboot.service | grep -E 'cellkeep-power-cycle-ran-as|action|Reboot the host' | tail -12");
    if (!prev.includes("cellkeep-power-cycle-ran-as-cellkeep")) fail("the power-cycle command did not run (or not as cellkeep)", prev);
    if (/power-cycle command failed/.test(prev)) fail("the power-cycle command failed", prev);
    if (!/Reboot the host/.test(prev)) fail("cellkeep-reboot.service did not run", prev);
    return prev;
  });

  const resetsOf = (json: string) => Number(/"resets":\s*(\d+)/.exec(json)?.[1]);
  await check("after the reboot: the ladder's state is kept; with the network back the agent connects", async () => {
    const before = await must("cat /var/lib/cellkeep/recovery.json");
    if (!(resetsOf(before) >= 3)) fail(`resets = ${resetsOf(before)} after the reboot: the escalation was forgotten`, before);
    await modem.start(["healthy"]);
    await must("systemctl enable --now cellkeep");
    await waitUntil("cellkeep status: connected", "cellkeep status", 300_000);
    const after = await must("cat /var/lib/cellkeep/recovery.json");
    if (!(resetsOf(after) >= resetsOf(before))) fail(`resets ${resetsOf(before)} → ${resetsOf(after)}: the restarted agent forgot the escalation`, after);
    const rung = /"rung":\s*"([^"]+)"/.exec(before)?.[1];
    return `state file after the reboot: resets ${resetsOf(before)}, last rung ${rung}; connected again with resets ${resetsOf(after)} kept`;
  });

  // --- upgrade and purge ---------------------------------------------------------------------
  await check("upgrade: config and ladder state kept, the agent restarted", async () => {
    const before = await must("sha256sum /etc/cellkeep/cellkeep.toml; stat -c '%U:%G %a' /etc/cellkeep/cellkeep.toml; cat /var/lib/cellkeep/recovery.json");
    const pid = await mainPid();
    await must(`cd /host && apt-get install -y -q ./${upgradeDeb} >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }`, 600_000);
    const after = await must("sha256sum /etc/cellkeep/cellkeep.toml; stat -c '%U:%G %a' /etc/cellkeep/cellkeep.toml; cat /var/lib/cellkeep/recovery.json");
    const version = (await must("dpkg-query -W -f '${Version}' cellkeep")).trim();
    if (version !== UPGRADE_VERSION) fail(`installed version ${version}`);
    if (before.split("\n").slice(0, 2).join() !== after.split("\n").slice(0, 2).join()) fail("the config changed", `${before}\n→\n${after}`);
    const resetsBefore = resetsOf(before);
    const resetsAfter = resetsOf(after);
    if (!(resetsAfter >= resetsBefore && resetsAfter >= 3)) fail(`resets ${resetsBefore} → ${resetsAfter}`);
    const newPid = await mainPid();
    if (newPid === pid || newPid === "0") fail(`not restarted (MainPID ${pid} → ${newPid})`);
    return `${version}; config unchanged (${after.split("\n")[1]}); resets ${resetsAfter}; MainPID ${pid} → ${newPid}`;
  });

  await check("purge: config, secrets, state and the stat override removed", async () => {
    await must("apt-get purge -y -q cellkeep >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }", 300_000);
    const left = await sh("ls -d /etc/cellkeep /var/lib/cellkeep /run/cellkeep 2>/dev/null; dpkg-statoverride --list | grep cellkeep; ip link show cell0 2>/dev/null");
    if (left.out.trim() !== "") fail("left behind", left.out);
    return "nothing left";
  });
} catch (err) {
  results.push({ name: "harness", ok: false, ms: 0, detail: err instanceof Error ? err.stack ?? err.message : String(err) });
  log(`FAIL harness: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await modem.stop();
  await vm?.stop();
  if (vm) writeFileSync(join(runDir, "console.log"), vm.transcript);
  writeFileSync(join(runDir, "modem.log"), modem.log);
  const failed = results.filter((r) => !r.ok);
  console.log("\nTimings:");
  for (const [name, ms] of timings) console.log(`  ${secs(ms).padStart(9)}  ${name}`);
  for (const r of results) console.log(`  ${secs(r.ms).padStart(9)}  ${r.ok ? "ok  " : "FAIL"} ${r.name}`);
  console.log(`  ${secs(Date.now() - t0).padStart(9)}  total`);
  console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
  if (failed.length > 0 || keep) console.log(`run directory kept: ${runDir} (console.log, modem.log)`);
  else rmSync(runDir, { recursive: true, force: true });
  exitCode = failed.length > 0 ? 1 : 0;
}
void ROOT;
process.exit(exitCode);

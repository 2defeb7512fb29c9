/**
 * `cellkeep doctor` against fake /proc, /sys, /dev, lock and /etc trees: each
 * check finds what it should, says how to fix it, and the exit code says
 * whether anything blocks a run. Ownership matters to the checks, so files
 * are chowned to fake users (the tests run as root, like the suite).
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Host, canAccess, unitSetting, type HostRoots } from "../../src/doctor/host.ts";
import { runDoctor, formatReport, type DoctorReport } from "../../src/doctor/doctor.ts";
import { doctorCommand } from "../../src/cli/doctor.ts";
import type { Finding } from "../../src/doctor/checks.ts";

const CELLKEEP_UID = 999;
const CELLKEEP_GID = 999;
const DIALOUT = 20;
const NOW = Date.UTC(2026, 5, 1);
const BUILT = Date.UTC(2026, 0, 1);

let dir = "";
let roots: HostRoots;

function put(rel: string, text: string, mode = 0o644, uid = 0, gid = 0): string {
  const full = join(dir, rel);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
  chmodSync(full, mode);
  chownSync(full, uid, gid);
  return full;
}

function link(rel: string, target: string): void {
  const full = join(dir, rel);
  mkdirSync(dirname(full), { recursive: true });
  symlinkSync(target, full);
}

/** A process in the fake /proc: its name and the device paths it has open. */
function proc(pid: number, comm: string, open: string[] = []): void {
  put(`proc/${pid}/comm`, `${comm}\n`);
  mkdirSync(join(dir, `proc/${pid}/fd`), { recursive: true });
  open.forEach((p, i) => link(`proc/${pid}/fd/${i + 3}`, p));
}

/** A Quectel BG96 on USB: interfaces 0..3 as ttyUSB0..3. */
function bg96(): void {
  put("sys/bus/usb/devices/1-1/idVendor", "2c7c\n");
  put("sys/bus/usb/devices/1-1/idProduct", "0296\n");
  put("sys/bus/usb/devices/1-1/product", "Qualcomm CDMA Technologies MSM\n");
  for (let i = 0; i < 4; i++) {
    put(`sys/bus/usb/devices/1-1:1.${i}/bInterfaceNumber`, `0${i}\n`);
    mkdirSync(join(dir, `sys/bus/usb/devices/1-1:1.${i}/ttyUSB${i}`), { recursive: true });
    put(`dev/ttyUSB${i}`, "", 0o660, 0, DIALOUT);
  }
}

function config(extra = "", opts: { mode?: number; gid?: number } = {}): string {
  return put(
    "etc/cellkeep/cellkeep.toml",
    `[network]\napn = "internet"\n[link]\nmode = "tun"\n[recovery]\nstate_file = "${join(dir, "var/lib/cellkeep/recovery.json")}"\n${extra}`,
    opts.mode ?? 0o640,
    0,
    opts.gid ?? CELLKEEP_GID,
  );
}

const UNIT = `[Service]
User=cellkeep
AmbientCapabilities=CAP_NET_ADMIN
StateDirectory=cellkeep
DevicePolicy=closed
DeviceAllow=char-ttyUSB rw
DeviceAllow=char-ttyACM rw
DeviceAllow=/dev/net/tun rw
`;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ck-doctor-"));
  roots = { proc: join(dir, "proc"), sys: join(dir, "sys"), dev: join(dir, "dev"), lock: join(dir, "run/lock"), etc: join(dir, "etc"), unitDirs: [join(dir, "etc/systemd/system"), join(dir, "lib/systemd/system")] };
  // The doctor runs as root; the service user exists: the checks are for cellkeep.
  put("proc/self/status", "Name:\tcellkeep\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t0\nCapEff:\t000001ffffffffff\n");
  put("etc/passwd", `root:x:0:0:root:/root:/bin/bash\ncellkeep:x:${CELLKEEP_UID}:${CELLKEEP_GID}::/var/lib/cellkeep:/usr/sbin/nologin\n`);
  put("etc/group", `root:x:0:\ndialout:x:${DIALOUT}:cellkeep\ncellkeep:x:${CELLKEEP_GID}:\n`);
  put("lib/systemd/system/cellkeep.service", UNIT);
  put("dev/net/tun", "", 0o666);
  mkdirSync(join(dir, "run/lock"), { recursive: true });
  mkdirSync(join(dir, "var/lib/cellkeep"), { recursive: true });
  chownSync(join(dir, "var/lib/cellkeep"), CELLKEEP_UID, CELLKEEP_GID);
  chmodSync(join(dir, "var/lib/cellkeep"), 0o750);
  bg96();
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function doctor(configFile = config(), now = NOW, user?: string): DoctorReport {
  const r = runDoctor(new Host(roots, () => now), { configFile, buildTimeMs: BUILT, selfPid: 1, ...(user ? { user } : {}) });
  if (typeof r === "string") throw new Error(r);
  return r;
}

const of = (r: DoctorReport, check: string): Finding[] => r.findings.filter((f) => f.check === check);
const blocking = (r: DoctorReport) => r.findings.filter((f) => f.level === "block");

describe("a healthy host", () => {
  test("nothing blocks; checked for the service user; the BG96's data port is picked", () => {
    const r = doctor();
    expect(r.user.name).toBe("cellkeep");
    expect(blocking(r)).toEqual([]);
    expect(of(r, "modem port")[0]!.message).toContain("/dev/ttyUSB2 (data, picked by auto)");
    expect(of(r, "CAP_NET_ADMIN")[0]!.message).toContain("AmbientCapabilities=CAP_NET_ADMIN");
    const out: string[] = [];
    expect(doctorCommand(["--config", join(dir, "etc/cellkeep/cellkeep.toml")], { out: (t) => out.push(t), err: (t) => out.push(t) }, new Host(roots, () => NOW))).toBe(0);
    expect(out.join("\n")).toContain("nothing blocks a run");
  });

  test("which USB interface is which, with the data port marked", () => {
    const lines = of(doctor(), "USB interfaces").map((f) => f.message);
    expect(lines).toContain("/dev/ttyUSB0: Quectel BG96 (2c7c:0296) interface 0 = diagnostics (DM)");
    expect(lines).toContain("/dev/ttyUSB1: Quectel BG96 (2c7c:0296) interface 1 = GNSS (NMEA)");
    expect(lines).toContain("/dev/ttyUSB2: Quectel BG96 (2c7c:0296) interface 2 = AT + PPP data  ← data port");
    expect(lines).toContain("/dev/ttyUSB3: Quectel BG96 (2c7c:0296) interface 3 = AT control  ← control port");
  });
});

describe("the modem port", () => {
  test("no modem at all blocks, with what to do", () => {
    rmSync(join(dir, "sys/bus"), { recursive: true });
    const [f] = of(doctor(), "modem port");
    expect(f!.level).toBe("block");
    expect(f!.message).toContain("finds no modem");
    expect(f!.fix).toContain("cellkeep ports");
  });

  test("a port the user's groups cannot open blocks; the fix adds the group", () => {
    put("etc/group", `root:x:0:\ndialout:x:${DIALOUT}:\ncellkeep:x:${CELLKEEP_GID}:\n`);
    const f = of(doctor(), "modem port").find((x) => x.level === "block")!;
    expect(f.message).toBe("/dev/ttyUSB2 is root:dialout 0660: cellkeep cannot open it for reading and writing");
    expect(f.fix).toContain("usermod -aG dialout cellkeep");
  });

  test("a configured path that does not exist blocks", () => {
    const f = of(doctor(config('[modem]\nport = "/dev/ttyUSB7"\ncontrol_port = "none"\n')), "modem port")[0]!;
    expect(f.level).toBe("block");
    expect(f.message).toContain("/dev/ttyUSB7");
  });

  test("a port type the unit's DeviceAllow= does not list blocks, with the drop-in that allows it", () => {
    put("dev/ttyAMA0", "", 0o660, 0, DIALOUT);
    const f = of(doctor(config('[modem]\nport = "/dev/ttyAMA0"\ncontrol_port = "none"\n')), "service unit")[0]!;
    expect(f.level).toBe("block");
    expect(f.fix).toContain("DeviceAllow=/dev/ttyAMA0 rw");
    // A drop-in that allows it clears the finding.
    put("etc/systemd/system/cellkeep.service.d/uart.conf", "[Service]\nDeviceAllow=char-ttyAMA rw\n");
    expect(of(doctor(config('[modem]\nport = "/dev/ttyAMA0"\ncontrol_port = "none"\n')), "service unit")).toEqual([]);
  });
});

describe("other processes on the port", () => {
  test("ModemManager holding the data port blocks; the fix disables it", () => {
    proc(412, "ModemManager", ["/dev/ttyUSB2"]);
    const f = of(doctor(), "port holders").find((x) => x.level === "block")!;
    expect(f.message).toContain("/dev/ttyUSB2 is open in ModemManager (PID 412)");
    expect(f.fix).toContain("systemctl disable --now ModemManager");
  });

  test("ModemManager running without the port is a warning, not a block", () => {
    proc(412, "ModemManager", ["/dev/null"]);
    const r = doctor();
    expect(blocking(r)).toEqual([]);
    expect(of(r, "ModemManager")[0]!.level).toBe("warn");
  });

  test("a getty on the port blocks; the running agent itself is only noted", () => {
    proc(77, "agetty", ["/dev/ttyUSB3"]);
    proc(88, "cellkeep", ["/dev/ttyUSB2"]);
    const r = doctor();
    const fs = of(r, "port holders");
    expect(fs.find((f) => f.message.includes("ttyUSB3"))!.level).toBe("block");
    expect(fs.find((f) => f.message.includes("ttyUSB2"))!.level).toBe("info");
  });
});

describe("port locks", () => {
  test("a lock held by a live process blocks, naming it", () => {
    proc(300, "minicom");
    put("run/lock/LCK..ttyUSB2", "       300\n");
    const f = of(doctor(), "port lock").find((x) => x.message.includes("ttyUSB2"))!;
    expect(f.level).toBe("block");
    expect(f.message).toContain("locked by minicom (PID 300)");
  });

  test("a stale lock is information: cellkeep removes it", () => {
    put("run/lock/LCK..ttyUSB2", "     31337\n");
    const r = doctor();
    expect(blocking(r)).toEqual([]);
    expect(of(r, "port lock").find((x) => x.message.includes("ttyUSB2"))!.message).toContain("stale");
  });
});

describe("tun mode", () => {
  test("no /dev/net/tun blocks in tun mode; the fix loads the module", () => {
    rmSync(join(dir, "dev/net/tun"));
    const f = of(doctor(), "tun device")[0]!;
    expect(f.level).toBe("block");
    expect(f.fix).toContain("modprobe tun");
    const noneMode = put("etc/cellkeep/none.toml", '[network]\napn = "x"\n[link]\nmode = "none"\n', 0o640, 0, CELLKEEP_GID);
    expect(of(doctor(noneMode), "tun device")[0]!.level).toBe("ok");
  });

  test("CAP_NET_ADMIN: without a unit granting it, the service user is blocked", () => {
    rmSync(join(dir, "lib/systemd/system/cellkeep.service"));
    const f = of(doctor(), "CAP_NET_ADMIN")[0]!;
    expect(f.level).toBe("block");
    expect(f.message).toContain("needs CAP_NET_ADMIN");
    // Checked as root instead: fine.
    expect(of(doctor(undefined, NOW, "root"), "CAP_NET_ADMIN")[0]!.level).toBe("ok");
  });

  test("CAP_NET_ADMIN: a non-root process that has it in CapEff passes", () => {
    rmSync(join(dir, "lib/systemd/system/cellkeep.service"));
    put("proc/self/status", `Uid:\t${CELLKEEP_UID}\t${CELLKEEP_UID}\t${CELLKEEP_UID}\t${CELLKEEP_UID}\nGid:\t${CELLKEEP_GID}\t0\t0\t0\nGroups:\t${DIALOUT}\nCapEff:\t0000000000001000\n`);
    const r = doctor();
    expect(r.user.how).toBe("this process");
    expect(of(r, "CAP_NET_ADMIN")[0]!.level).toBe("ok");
    put("proc/self/status", `Uid:\t${CELLKEEP_UID}\t${CELLKEEP_UID}\t${CELLKEEP_UID}\t${CELLKEEP_UID}\nGid:\t${CELLKEEP_GID}\t0\t0\t0\nGroups:\t${DIALOUT}\nCapEff:\t0000000000000000\n`);
    expect(of(doctor(), "CAP_NET_ADMIN")[0]!.level).toBe("block");
  });
});

describe("config and secret files", () => {
  test("a config the service user cannot read blocks; the fix gives it the group", () => {
    const f = of(doctor(config("", { mode: 0o600, gid: 0 })), "config file")[0]!;
    expect(f.level).toBe("block");
    expect(f.message).toContain("cellkeep cannot read");
    expect(f.fix).toContain("chgrp cellkeep");
    expect(f.fix).toContain("chmod 0640");
  });

  test("a world-readable token file is a warning with chmod 640 (the service reads it through its group)", () => {
    const token = put("etc/cellkeep/token", "x".repeat(32), 0o644, 0, CELLKEEP_GID);
    const f = of(doctor(config(`[http]\ntoken_file = "${token}"\n`)), "secret file")[0]!;
    expect(f.level).toBe("warn");
    expect(f.fix).toBe(`chmod 640 ${token}`);
  });

  test("an unreadable password file blocks", () => {
    const pw = put("etc/cellkeep/password", "secret\n", 0o600, 0, 0);
    const r = doctor(config(`[auth]\nmethod = "pap"\nusername = "u"\npassword_file = "${pw}"\n`));
    // The config loads as root here; the finding is about the service user.
    const f = of(r, "secret file")[0]!;
    expect(f.level).toBe("block");
    expect(f.message).toContain(`cellkeep cannot read ${pw}`);
  });

  test("an invalid config blocks, pointing at `cellkeep check`", () => {
    const file = put("etc/cellkeep/bad.toml", "[network]\n", 0o640, 0, CELLKEEP_GID);
    const f = of(doctor(file), "config file").find((x) => x.level === "block")!;
    expect(f.message).toContain("network.apn");
    expect(f.fix).toContain("cellkeep check --config");
  });
});

describe("state directory, clock, QMI", () => {
  test("a state directory the user cannot write is a warning with the install -d fix", () => {
    chownSync(join(dir, "var/lib/cellkeep"), 0, 0);
    const f = of(doctor(), "state directory")[0]!;
    expect(f.level).toBe("warn");
    expect(f.fix).toBe(`install -d -o cellkeep -m 0750 ${join(dir, "var/lib/cellkeep")}`);
  });

  test("a clock before the release (no RTC) is a warning; a set clock is fine", () => {
    const f = of(doctor(undefined, Date.UTC(1970, 0, 1, 0, 5)), "clock")[0]!;
    expect(f.level).toBe("warn");
    expect(f.message).toContain("1970-01-01");
    expect(f.message).toContain("no RTC");
    expect(f.fix).toContain("systemd-timesyncd");
    put("sys/class/rtc/rtc0/name", "rtc-pl031\n");
    const okClock = of(doctor(), "clock")[0]!;
    expect(okClock.level).toBe("ok");
    expect(okClock.message).toContain("RTC: rtc0");
  });

  test("a qmi_wwan interface without raw_ip is a warning with the sysfs fix; with raw_ip it is fine", () => {
    link("sys/class/net/wwan0/device/driver", "../../../../bus/usb/drivers/qmi_wwan");
    put("sys/class/net/wwan0/qmi/raw_ip", "N\n");
    link("sys/class/net/eth0/device/driver", "../../../../bus/platform/drivers/macb");
    const f = of(doctor(), "qmi_wwan");
    expect(f).toHaveLength(1);
    expect(f[0]!.level).toBe("warn");
    expect(f[0]!.message).toContain("udhcpc: no lease");
    expect(f[0]!.fix).toContain("echo Y > /sys/class/net/wwan0/qmi/raw_ip");
    put("sys/class/net/wwan0/qmi/raw_ip", "Y\n");
    expect(of(doctor(), "qmi_wwan")[0]!.level).toBe("ok");
  });
});

describe("the report and the exit code", () => {
  test("warnings alone exit 0; a block exits 1; every fix is printed under its finding", () => {
    proc(412, "ModemManager", []);
    const lines: string[] = [];
    const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) };
    const file = join(dir, "etc/cellkeep/cellkeep.toml");
    config();
    expect(doctorCommand(["--config", file], io, new Host(roots, () => NOW))).toBe(0);
    rmSync(join(dir, "dev/net/tun"));
    lines.length = 0;
    expect(doctorCommand(["--config", file], io, new Host(roots, () => NOW))).toBe(1);
    const text = lines.join("\n");
    expect(text).toContain("BLOCK tun device: /dev/net/tun does not exist");
    expect(text).toContain("      fix: modprobe tun");
    expect(text).toContain("1 problem blocks a run, 1 warning");
    expect(doctorCommand(["--config", file, "--user", "nobody-here"], io, new Host(roots, () => NOW))).toBe(2);
  });

  test("formatReport puts multi-line fixes under each other", () => {
    const text = formatReport({ user: { name: "u", uid: 1, gids: [], how: "test" }, findings: [{ check: "c", level: "block", message: "m", fix: "a\nb" }], blocking: 1, warnings: 0 });
    expect(text.split("\n").slice(1)).toEqual(["BLOCK c: m", "      fix: a", "           b", "1 problem blocks a run, 0 warnings"]);
  });
});

describe("helpers", () => {
  test("canAccess follows owner, then group, then other; root passes", () => {
    const st = { mode: 0o640, uid: 0, gid: 5 };
    expect(canAccess(st, { uid: 7, gids: [5] }, "r")).toBe(true);
    expect(canAccess(st, { uid: 7, gids: [5] }, "rw")).toBe(false);
    expect(canAccess(st, { uid: 7, gids: [6] }, "r")).toBe(false);
    expect(canAccess({ mode: 0o604, uid: 7, gid: 5 }, { uid: 7, gids: [5] }, "r")).toBe(true);
    expect(canAccess({ mode: 0o000, uid: 7, gid: 5 }, { uid: 0, gids: [] }, "rw")).toBe(true);
  });

  test("unitSetting: later files add, an empty assignment resets", () => {
    expect(unitSetting(["DeviceAllow=a rw\nDeviceAllow=b rw", "DeviceAllow=\nDeviceAllow=c rw"], "DeviceAllow")).toEqual(["c rw"]);
  });
});

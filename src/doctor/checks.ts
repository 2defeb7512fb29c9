/**
 * `cellkeep doctor`'s checks. Each looks at one thing a run needs, reads the
 * host through `Host` (fake trees in tests), and returns findings: what it saw
 * and, when something is wrong, the command or edit that fixes it.
 *
 * Levels: "ok"; "info" (worth knowing: which USB interface is which);
 * "warn" (cellkeep runs, but something will bite: ModemManager, a readable
 * secret, a clock in 1970); "block" (cellkeep cannot run: no port, no
 * permission, no /dev/net/tun in tun mode, a bad config). The doctor exits 0
 * when nothing blocks.
 */
import { readlinkSync } from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/schema.ts";
import { permissionWarning, shellQuote } from "../config/files.ts";
import { chooseAutoPorts, discoverPorts, type PortCandidate } from "../serial/discovery.ts";
import { lockNameFor, parseLockPid } from "../serial/lockfile.ts";
import { ROLE_TEXT } from "../serial/usb-modems.ts";
import { CAP_NET_ADMIN, canAccess, Host, listDir, lstatOrNull, readText, unitSetting, type RunUser } from "./host.ts";

export type Level = "ok" | "info" | "warn" | "block";

export interface Finding {
  /** Which check: "modem port", "ModemManager", "tun device"... */
  check: string;
  level: Level;
  message: string;
  /** The command or edit that fixes it (absent when there is nothing to fix). */
  fix?: string;
}

export const SERVICE_UNIT = "cellkeep.service";

const ok = (check: string, message: string): Finding => ({ check, level: "ok", message });

/** The modem ports the config points at: configured paths, or what "auto" picks. */
export interface ModemPorts {
  data: string | null;
  control: string | null;
  candidates: PortCandidate[];
}

export function modemPorts(host: Host, config: Config | null): ModemPorts {
  const candidates = discoverPorts({ sysRoot: host.roots.sys, devRoot: host.roots.dev }).map((c) => ({ ...c, path: `/dev/${c.name}` }));
  const choice = chooseAutoPorts(candidates);
  const pick = (setting: string | undefined, auto: string | null) => (setting === undefined || setting === "auto" ? auto : setting === "none" ? null : setting);
  return {
    data: pick(config?.modem.port, choice.data?.candidate.path ?? null),
    control: pick(config?.modem.control_port, choice.control?.candidate.path ?? null),
    candidates,
  };
}

/** The modem port exists (or "auto" finds one) and the run user can open it. */
export function checkPort(host: Host, ports: ModemPorts, config: Config | null, user: RunUser): Finding[] {
  const check = "modem port";
  const out: Finding[] = [];
  if (ports.data === null) {
    const problem = chooseAutoPorts(ports.candidates).problem ?? "no serial port candidates found";
    return [{ check, level: "block", message: `modem.port = "auto" finds no modem: ${problem}`, fix: "plug the modem in (`cellkeep ports` lists what is seen), or set modem.port to its device, e.g. \"/dev/ttyUSB2\" or \"/dev/ttyAMA0\"" }];
  }
  for (const [role, port] of [["data", ports.data], ["control", ports.control]] as const) {
    if (port === null) continue;
    const how = (role === "data" ? config?.modem.port : config?.modem.control_port) ?? "auto";
    const st = lstatOrNull(host.devPath(port));
    if (!st) {
      out.push({ check, level: role === "data" ? "block" : "warn", message: `${port} (${role} port, modem.${role === "data" ? "port" : "control_port"} = "${how}") does not exist`, fix: "check the cable and `cellkeep ports`; set the path that exists" });
      continue;
    }
    const owner = `${host.userName(st.uid)}:${host.groupName(st.gid)} ${(st.mode & 0o777).toString(8).padStart(4, "0")}`;
    if (!canAccess(st, user, "rw")) {
      const group = host.groupName(st.gid);
      out.push({
        check,
        level: "block",
        message: `${port} is ${owner}: ${user.name} cannot open it for reading and writing`,
        fix: st.gid !== 0 ? `usermod -aG ${group} ${user.name}  (then restart cellkeep)` : `a udev rule giving ${port} to group dialout, e.g. KERNEL=="${path.basename(port)}", GROUP="dialout", MODE="0660"`,
      });
      continue;
    }
    out.push(ok(check, `${port} (${role}${how === "auto" ? ", picked by auto" : ""}) is ${owner}; ${user.name} can open it`));
  }
  return out;
}

/** The systemd unit's DeviceAllow= lets the service open the port (a port type the unit does not list is refused). */
export function checkUnitDevices(host: Host, ports: ModemPorts): Finding[] {
  const files = host.unitFiles(SERVICE_UNIT);
  if (files.length === 0 || ports.data === null) return [];
  const texts = files.map((f) => readText(f) ?? "");
  if (!unitSetting(texts, "DevicePolicy").some((v) => v === "closed" || v === "strict")) return [];
  const allowed = unitSetting(texts, "DeviceAllow").map((v) => v.split(/\s+/)[0]!);
  const out: Finding[] = [];
  for (const port of [ports.data, ports.control]) {
    if (port === null) continue;
    const kind = /^\/dev\/([A-Za-z]+)/.exec(port)?.[1];
    if (allowed.includes(port) || (kind && allowed.includes(`char-${kind}`))) continue;
    out.push({
      check: "service unit",
      level: "block",
      message: `${files[0]} allows only ${allowed.join(", ")}: ${port} would be refused to the service`,
      fix: `systemctl edit cellkeep, add:\n[Service]\nDeviceAllow=${port} rw`,
    });
  }
  return out;
}

/** Another process (ModemManager, a getty, minicom) has the port open, or ModemManager runs at all. */
export function checkHolders(host: Host, ports: ModemPorts, selfPid: number): Finding[] {
  const check = "port holders";
  const out: Finding[] = [];
  for (const port of [ports.data, ports.control]) {
    if (port === null) continue;
    const others = host.holders(port).filter((p) => p.pid !== selfPid);
    const cellkeep = others.filter((p) => p.comm === "cellkeep");
    const foreign = others.filter((p) => p.comm !== "cellkeep");
    if (foreign.length > 0) {
      const who = foreign.map((p) => `${p.comm || "?"} (PID ${p.pid})`).join(", ");
      const mm = foreign.some((p) => p.comm === "ModemManager");
      out.push({
        check,
        level: "block",
        message: `${port} is open in ${who}: AT commands and PPP would be mixed with theirs`,
        fix: mm ? "systemctl disable --now ModemManager  (or mask it; cellkeep.service also Conflicts= with it)" : `stop ${who}; for a serial console on it: systemctl disable --now serial-getty@${path.basename(port)}`,
      });
    } else if (cellkeep.length > 0) {
      out.push({ check, level: "info", message: `${port} is open in cellkeep (PID ${cellkeep.map((p) => p.pid).join(", ")}): the agent is running` });
    } else {
      out.push(ok(check, `no other process has ${port} open`));
    }
  }
  const mm = host.processes().find((p) => p.comm === "ModemManager");
  if (mm && !out.some((f) => f.level === "block" && f.message.includes("ModemManager"))) {
    out.push({
      check: "ModemManager",
      level: "warn",
      message: `ModemManager (PID ${mm.pid}) is running: it probes serial ports and takes modems it recognises`,
      fix: "systemctl disable --now ModemManager  (cellkeep.service stops it when it starts: Conflicts=ModemManager.service)",
    });
  }
  return out;
}

/** UUCP lock files for the ports: a live holder blocks; a stale one is removed by cellkeep itself. */
export function checkLocks(host: Host, ports: ModemPorts): Finding[] {
  const check = "port lock";
  const out: Finding[] = [];
  for (const port of [ports.data, ports.control]) {
    if (port === null) continue;
    const name = lockNameFor(port);
    const file = path.join(host.roots.lock, name);
    const text = readText(file);
    if (text === undefined) {
      out.push(ok(check, `no lock file for ${port} (${file})`));
      continue;
    }
    const pid = parseLockPid(Buffer.from(text, "latin1"));
    const alive = pid !== null && lstatOrNull(path.join(host.roots.proc, String(pid))) !== null;
    if (alive) {
      const comm = (readText(path.join(host.roots.proc, String(pid), "comm")) ?? "?").trim();
      out.push(
        comm === "cellkeep"
          ? { check, level: "info", message: `${file}: ${port} is locked by cellkeep (PID ${pid}): the agent is running` }
          : { check, level: "block", message: `${file}: ${port} is locked by ${comm} (PID ${pid})`, fix: `stop ${comm} (PID ${pid}); cellkeep refuses a port another program has locked` },
      );
    } else {
      out.push({ check, level: "info", message: `${file} is stale (PID ${pid ?? "unreadable"} is not running); cellkeep removes it when it opens ${port}` });
    }
  }
  const lockDir = lstatOrNull(host.roots.lock);
  if (!lockDir) out.push({ check, level: "info", message: `no lock directory ${host.roots.lock}: cellkeep runs without lock files` });
  return out;
}

/** tun mode: /dev/net/tun exists and the run user can open it. */
export function checkTun(host: Host, config: Config | null, user: RunUser): Finding[] {
  const check = "tun device";
  if (config && config.link.mode !== "tun") return [ok(check, `link.mode = "${config.link.mode}": no TUN device needed`)];
  const tun = host.devPath("/dev/net/tun");
  const st = lstatOrNull(tun);
  if (!st) {
    return [{ check, level: "block", message: "/dev/net/tun does not exist: the tun module is not loaded", fix: "modprobe tun && echo tun > /etc/modules-load.d/tun.conf" }];
  }
  if (!canAccess(st, user, "rw")) {
    return [{ check, level: "block", message: `/dev/net/tun is mode ${(st.mode & 0o777).toString(8)}: ${user.name} cannot open it`, fix: "chmod 0666 /dev/net/tun  (its usual mode; the privilege is CAP_NET_ADMIN, not the file mode)" }];
  }
  return [ok(check, "/dev/net/tun is there")];
}

/** tun mode: CAP_NET_ADMIN for the TUN device, addresses and routes: root, this process, or the unit's AmbientCapabilities=. */
export function checkNetAdmin(host: Host, config: Config | null, user: RunUser, self: { uid: number; capEff: bigint }): Finding[] {
  const check = "CAP_NET_ADMIN";
  if (config && config.link.mode !== "tun") return [ok(check, `link.mode = "${config.link.mode}": not needed`)];
  if (user.uid === 0) return [ok(check, "running as root")];
  if (self.uid === user.uid && (self.capEff >> CAP_NET_ADMIN) & 1n) return [ok(check, "this process has it")];
  const files = host.unitFiles(SERVICE_UNIT);
  const texts = files.map((f) => readText(f) ?? "");
  const ambient = unitSetting(texts, "AmbientCapabilities").join(" ");
  const unitUser = unitSetting(texts, "User").at(-1);
  if (files.length > 0 && /\bCAP_NET_ADMIN\b/.test(ambient) && (unitUser === undefined || unitUser === user.name)) {
    return [ok(check, `granted to the service by ${files[0]} (AmbientCapabilities=CAP_NET_ADMIN)`)];
  }
  return [
    {
      check,
      level: "block",
      message: `link.mode = "tun" needs CAP_NET_ADMIN and ${user.name} has none${files.length ? ` (${files[0]} grants no AmbientCapabilities=CAP_NET_ADMIN)` : ""}`,
      fix: "run it as the packaged service (systemctl enable --now cellkeep), or as root, or set link.mode = \"none\"",
    },
  ];
}

/** The config file and the files holding secrets: readable by the run user, not by everyone. */
export function checkFiles(host: Host, configFile: string, config: Config | null, configError: string | null, user: RunUser): Finding[] {
  const out: Finding[] = [];
  // auth.password is filled from password_file at load: only a password written in the config makes it a secret.
  const inlinePassword = Boolean(config?.auth.password) && config?.auth.password_file === undefined;
  const files: Array<[string, string, string]> = [[configFile, "config", "the PPP password"]];
  if (config?.auth.password_file) files.push([config.auth.password_file, "auth.password_file", "the PPP password"]);
  if (config?.http.token_file) files.push([config.http.token_file, "http.token_file", "the status endpoint's token"]);
  for (const [file, what, holds] of files) {
    const check = what === "config" ? "config file" : "secret file";
    const st = lstatOrNull(file);
    if (!st) {
      out.push({ check, level: "block", message: `${what} ${file} does not exist`, fix: what === "config" ? `start from the example: install -m 0640 -o root -g cellkeep config.example.toml ${shellQuote(file)} (the .deb installs one at /etc/cellkeep/cellkeep.toml)` : `create it: printf '%s\\n' SECRET > ${shellQuote(file)} && chown root:cellkeep ${shellQuote(file)} && chmod 0640 ${shellQuote(file)}` });
      continue;
    }
    if (!canAccess(st, user, "r")) {
      const group = user.gids.find((g) => g !== 0 && host.group(g)?.name === user.name) ?? user.gids[0];
      out.push({ check, level: "block", message: `${user.name} cannot read ${file} (${host.userName(st.uid)}:${host.groupName(st.gid)} ${(st.mode & 0o777).toString(8).padStart(4, "0")})`, fix: `chgrp ${group !== undefined ? host.groupName(group) : user.name} ${shellQuote(file)} && chmod 0640 ${shellQuote(file)}` });
      continue;
    }
    const warning = what === "config" && !inlinePassword ? null : permissionWarning(file, holds, st, user);
    if (warning) {
      const [message, fix] = warning.split("; run: ");
      out.push({ check, level: "warn", message: message!, ...(fix ? { fix } : {}) });
    } else out.push(ok(check, `${file}: ${user.name} can read it; ${what === "config" && !inlinePassword ? "it holds no secret" : "others cannot"}`));
  }
  if (configError !== null) out.push({ check: "config file", level: "block", message: configError, fix: `cellkeep check --config ${shellQuote(configFile)} lists every problem with its line` });
  return out;
}

/** The directory of recovery.state_file exists and the run user can write it (else restarts forget the ladder). */
export function checkStateDir(host: Host, config: Config | null, user: RunUser): Finding[] {
  const check = "state directory";
  const file = config?.recovery.state_file ?? "/var/lib/cellkeep/recovery.json";
  const dir = path.dirname(file);
  const st = lstatOrNull(dir);
  const fix = `install -d -o ${user.name} -m 0750 ${shellQuote(dir)}`;
  if (!st) {
    const unit = host.unitFiles(SERVICE_UNIT).map((f) => readText(f) ?? "");
    if (dir === "/var/lib/cellkeep" && unitSetting(unit, "StateDirectory").includes("cellkeep")) return [ok(check, `${dir} is created by the service (StateDirectory=cellkeep)`)];
    return [{ check, level: "warn", message: `${dir} does not exist: cellkeep creates it if it can, else restarts forget where the recovery ladder stands`, fix }];
  }
  if (!canAccess(st, user, "wx")) return [{ check, level: "warn", message: `${user.name} cannot write ${dir}: the recovery ladder's state is not kept across restarts (a restart could repeat a modem reset)`, fix }];
  return [ok(check, `${dir} is writable by ${user.name}`)];
}

/** A clock far behind (no RTC, no time sync yet): log times, the ladder's timestamps and TLS are wrong. */
export function checkClock(host: Host, buildTimeMs: number): Finding[] {
  const check = "clock";
  const now = host.now();
  const rtcs = listDir(path.join(host.roots.sys, "class/rtc"));
  const rtcNote = rtcs.length ? `RTC: ${rtcs.join(", ")}` : "no RTC";
  // A day of slack: a build's own clock may be a little ahead.
  if (now < buildTimeMs - 86_400_000) {
    return [
      {
        check,
        level: "warn",
        message: `the clock says ${new Date(now).toISOString()}, before this build (${new Date(buildTimeMs).toISOString().slice(0, 10)}); ${rtcNote}: the time was never set`,
        fix: "systemctl enable --now systemd-timesyncd (time over the network once a link is up), or apt install fake-hwclock on boards without an RTC",
      },
    ];
  }
  return [ok(check, `${new Date(now).toISOString()} (${rtcNote})`)];
}

/** Which USB interface of a known modem is which, so a person can tell ttyUSB2 from ttyUSB3. */
export function checkUsbInterfaces(ports: ModemPorts): Finding[] {
  const known = ports.candidates.filter((c) => c.kind === "usb-modem");
  if (known.length === 0) {
    const other = ports.candidates.filter((c) => c.kind !== "uart").map((c) => `${c.path} (${c.vendorId ?? "?"}:${c.productId ?? "?"} ${c.model ?? c.kind})`);
    return [{ check: "USB interfaces", level: "info", message: other.length ? `no known modem; other USB serial ports: ${other.join(", ")}` : "no USB serial ports" }];
  }
  return known.map((c) => ({
    check: "USB interfaces",
    level: "info" as const,
    message: `${c.path}: ${c.model} (${c.vendorId}:${c.productId}) interface ${c.interfaceNumber ?? "?"} = ${ROLE_TEXT[c.role]}${c.path === ports.data ? "  ← data port" : c.path === ports.control ? "  ← control port" : ""}`,
  }));
}

/**
 * qmi_wwan network interfaces: without raw_ip the driver expects Ethernet
 * framing the modem does not send, so DHCP never gets a lease ("udhcpc: no
 * lease"). cellkeep itself uses PPP, but the same modem's QMI interface is
 * often tried first.
 */
export function checkQmi(host: Host): Finding[] {
  const out: Finding[] = [];
  const netDir = path.join(host.roots.sys, "class/net");
  for (const iface of listDir(netDir)) {
    const driverLink = path.join(netDir, iface, "device/driver");
    let driver = "";
    try {
      driver = path.basename(readlinkSync(driverLink));
    } catch {
      continue;
    }
    if (driver !== "qmi_wwan") continue;
    const rawIp = (readText(path.join(netDir, iface, "qmi/raw_ip")) ?? "").trim();
    if (rawIp === "Y") out.push(ok("qmi_wwan", `${iface}: raw_ip is on`));
    else {
      out.push({
        check: "qmi_wwan",
        level: "warn",
        message: `${iface} (qmi_wwan) has raw_ip ${rawIp || "unreadable"}: DHCP on it gets no lease ("udhcpc: no lease") because the modem sends raw IP`,
        fix: `ip link set ${iface} down && echo Y > /sys/class/net/${iface}/qmi/raw_ip && ip link set ${iface} up  (not needed for cellkeep, which uses PPP on the serial port)`,
      });
    }
  }
  return out;
}

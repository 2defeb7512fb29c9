/**
 * Serial port discovery for `modem.port = "auto"` and `cellkeep ports`.
 *
 * Walks `<sysRoot>/bus/usb/devices` (the kernel lists devices like "1-1" and
 * their interfaces like "1-1:1.2" side by side there), reads idVendor /
 * idProduct of each device and bInterfaceNumber of each interface, and finds
 * the tty each interface exposes: `<iface>/ttyUSBn` (usb-serial drivers such
 * as option) or `<iface>/tty/ttyACMn` (cdc_acm). Known modems (usb-modems.ts)
 * get roles per interface number; other USB ttys and on-board UARTs
 * (`<sysRoot>/class/tty/ttyS*` with a real UART behind them, ttyAMA*,
 * ttymxc*...) are listed with lower scores. Nothing here opens a port.
 *
 * Both roots are injectable so tests build fake trees in a temp dir.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findModemModel, ROLE_TEXT, type PortRole } from "./usb-modems.ts";

export interface DiscoveryOptions {
  /** Default "/sys". */
  sysRoot?: string;
  /** Where device nodes live; default "/dev". */
  devRoot?: string;
}

export type CandidateKind = "usb-modem" | "usb-acm" | "usb-serial" | "uart";

export interface PortCandidate {
  /** Device node path, e.g. "/dev/ttyUSB2". */
  path: string;
  /** Kernel tty name, e.g. "ttyUSB2". */
  name: string;
  kind: CandidateKind;
  /** Lowercase hex, e.g. "2c7c" (USB only). */
  vendorId?: string;
  productId?: string;
  /** USB device path in sysfs, e.g. "1-1.3" (USB only). */
  usbPath?: string;
  interfaceNumber?: number;
  role: PortRole;
  /** Known model name ("Quectel BG96") or the device's product string. */
  model?: string;
  manufacturer?: string;
  serial?: string;
  /** Whether the device node exists under devRoot. */
  present: boolean;
  /** Higher is a better data-port candidate. */
  score: number;
}

const SCORE: Record<string, number> = {
  "usb-modem:data": 100,
  "usb-modem:at": 80,
  "usb-modem:unknown": 30,
  "usb-modem:gnss": 5,
  "usb-modem:diagnostics": 2,
  "usb-modem:network": 1,
  "usb-acm": 40,
  "usb-serial": 20,
  uart: 10,
};
/** A candidate whose /dev node is missing can't be opened now. */
const ABSENT_PENALTY = 50;

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** tty names an interface directory exposes (ttyUSBn directly, ttyACMn under tty/). */
function interfaceTtys(ifaceDir: string): string[] {
  const names = new Set<string>();
  for (const e of listDir(ifaceDir)) if (/^tty[A-Za-z]+\d+$/.test(e)) names.add(e);
  for (const e of listDir(path.join(ifaceDir, "tty"))) if (/^tty[A-Za-z]+\d+$/.test(e)) names.add(e);
  return [...names];
}

/** Natural order: ttyUSB2 < ttyUSB10, 1-1.2 < 1-1.10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** Every serial port candidate, best data-port candidate first. */
export function discoverPorts(opts: DiscoveryOptions = {}): PortCandidate[] {
  const sysRoot = opts.sysRoot ?? "/sys";
  const devRoot = opts.devRoot ?? "/dev";
  const usbDir = path.join(sysRoot, "bus/usb/devices");
  const out: PortCandidate[] = [];
  const seen = new Set<string>();

  for (const entry of listDir(usbDir).sort(naturalCompare)) {
    // Interfaces are "<device>:<config>.<interface>"; root hubs "usbN" have no ':'.
    const colon = entry.indexOf(":");
    if (colon < 0) continue;
    const ifaceDir = path.join(usbDir, entry);
    const ttys = interfaceTtys(ifaceDir);
    if (ttys.length === 0) continue;
    const usbPath = entry.slice(0, colon);
    const devDir = path.join(usbDir, usbPath);
    const vendorId = readText(path.join(devDir, "idVendor"))?.toLowerCase();
    const productId = readText(path.join(devDir, "idProduct"))?.toLowerCase();
    const ifnText = readText(path.join(ifaceDir, "bInterfaceNumber"));
    const interfaceNumber = ifnText !== undefined ? parseInt(ifnText, 16) : undefined;
    const model = vendorId && productId ? findModemModel(vendorId, productId) : undefined;
    for (const name of ttys) {
      const kind: CandidateKind = model ? "usb-modem" : name.startsWith("ttyACM") ? "usb-acm" : "usb-serial";
      const role: PortRole = model
        ? interfaceNumber !== undefined
          ? (model.interfaces[interfaceNumber] ?? "unknown")
          : "unknown"
        : "unknown";
      const devPath = path.join(devRoot, name);
      const present = fs.existsSync(devPath);
      const base = kind === "usb-modem" ? SCORE[`usb-modem:${role}`] : SCORE[kind];
      const c: PortCandidate = {
        path: devPath,
        name,
        kind,
        usbPath,
        role,
        present,
        score: (base ?? 0) - (present ? 0 : ABSENT_PENALTY),
      };
      if (vendorId) c.vendorId = vendorId;
      if (productId) c.productId = productId;
      if (interfaceNumber !== undefined && !Number.isNaN(interfaceNumber)) c.interfaceNumber = interfaceNumber;
      const productName = readText(path.join(devDir, "product"));
      const modelName = model?.name ?? productName;
      if (modelName) c.model = modelName;
      const manufacturer = readText(path.join(devDir, "manufacturer"));
      if (manufacturer) c.manufacturer = manufacturer;
      const serial = readText(path.join(devDir, "serial"));
      if (serial) c.serial = serial;
      out.push(c);
      seen.add(name);
    }
  }

  // On-board UARTs. The 8250 driver registers ttyS0..ttyS31 whether or not a
  // UART is there; `type` 0 (PORT_UNKNOWN) means no hardware.
  const ttyClass = path.join(sysRoot, "class/tty");
  for (const name of listDir(ttyClass).sort(naturalCompare)) {
    if (seen.has(name) || !/^tty(S|AMA|mxc|O|SAC|LP|HS|THS)\d+$/.test(name)) continue;
    if (name.startsWith("ttyS")) {
      const type = readText(path.join(ttyClass, name, "type"));
      if (type === undefined || type === "0") continue;
    }
    const devPath = path.join(devRoot, name);
    const present = fs.existsSync(devPath);
    out.push({ path: devPath, name, kind: "uart", role: "unknown", present, score: (SCORE.uart ?? 0) - (present ? 0 : ABSENT_PENALTY) });
  }

  return out.sort((a, b) => b.score - a.score || naturalCompare(a.usbPath ?? "~", b.usbPath ?? "~") || naturalCompare(a.name, b.name));
}

export interface PortChoice {
  candidate: PortCandidate;
  /** Why `auto` picked it, for `cellkeep ports` and the event log. */
  reason: string;
}

export interface AutoChoice {
  /** The port for AT bring-up and PPP (Quectel interface 2). */
  data: PortChoice | null;
  /** A second AT port on the same modem (Quectel interface 3), if any. */
  control: PortChoice | null;
  /** Why nothing was picked, when data is null. */
  problem?: string;
}

function describe(c: PortCandidate): string {
  const usb = c.vendorId && c.productId ? ` (${c.vendorId}:${c.productId}` + (c.interfaceNumber !== undefined ? `, interface ${c.interfaceNumber})` : ")") : "";
  return `${c.model ?? c.name}${usb}`;
}

/**
 * What `modem.port = "auto"` picks: the AT+PPP data interface of a known
 * modem (first by USB path if there are several), and the AT control port of
 * the same modem. Without a known modem, the best plain USB candidate
 * (ttyACM, then other USB serial) with a warning-worthy reason; never an
 * on-board UART.
 */
export function chooseAutoPorts(candidates: readonly PortCandidate[]): AutoChoice {
  const usable = candidates.filter((c) => c.present);
  const dataPorts = usable
    .filter((c) => c.kind === "usb-modem" && c.role === "data")
    .sort((a, b) => naturalCompare(a.usbPath ?? "", b.usbPath ?? ""));
  const first = dataPorts[0];
  if (first) {
    const modems = new Set(dataPorts.map((c) => c.usbPath));
    let reason = `${describe(first)} is the modem's AT + PPP data interface`;
    if (modems.size > 1) {
      reason += `; ${modems.size} known modems found, picked the first by USB path (${first.usbPath}); set modem.port to choose another`;
    }
    const ctl = usable.find((c) => c.usbPath === first.usbPath && c.kind === "usb-modem" && c.role === "at");
    return {
      data: { candidate: first, reason },
      control: ctl ? { candidate: ctl, reason: `${describe(ctl)} is the same modem's second AT port, free while ${first.name} is in PPP data mode` } : null,
    };
  }
  // On-board UARTs are never picked by "auto": on many boards ttyS0/ttyAMA0 is the
  // serial console, and AT probing plus modem resets aimed at a console do harm.
  // A UART-attached modem is configured by path.
  const fallback = usable.filter((c) => c.kind !== "usb-modem" && c.kind !== "uart").sort((a, b) => b.score - a.score)[0];
  if (fallback) {
    return {
      data: { candidate: fallback, reason: `no known modem found; ${describe(fallback)} is the best plain ${fallback.kind === "uart" ? "UART" : "USB serial"} candidate (set modem.port if it is wrong)` },
      control: null,
    };
  }
  const absent = candidates.filter((c) => c.kind === "usb-modem" && c.role === "data" && !c.present);
  return {
    data: null,
    control: null,
    problem: absent.length
      ? `a known modem is on USB but its device node is missing (${absent.map((c) => c.path).join(", ")})`
      : usable.some((c) => c.kind === "uart")
        ? "no USB modem found; on-board UARTs are never picked automatically (one may be the console): set modem.port to the UART the modem is wired to"
        : "no serial port candidates found",
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + " " : s.padEnd(n + 1);
}

/** The text `cellkeep ports` prints. */
export function formatPortsReport(candidates: readonly PortCandidate[], choice: AutoChoice = chooseAutoPorts(candidates)): string {
  const lines: string[] = [];
  if (candidates.length === 0) {
    lines.push("No serial port candidates found.");
  } else {
    const rows = candidates.map((c) => {
      const mark = choice.data?.candidate === c ? "data" : choice.control?.candidate === c ? "control" : "";
      return [
        c.path + (c.present ? "" : " (missing)"),
        c.vendorId && c.productId ? `${c.vendorId}:${c.productId}` : "-",
        c.interfaceNumber !== undefined ? String(c.interfaceNumber) : "-",
        c.kind === "usb-modem" ? ROLE_TEXT[c.role] : c.kind === "uart" ? "UART" : c.kind === "usb-acm" ? "USB CDC ACM" : "USB serial",
        c.model ?? "-",
        mark ? `<- auto ${mark}` : "",
      ];
    });
    const header = ["PATH", "USB ID", "IF", "ROLE", "MODEL", ""];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const fmt = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join(" ").trimEnd();
    lines.push(fmt(header));
    for (const r of rows) lines.push(fmt(r));
  }
  lines.push("");
  if (choice.data) {
    lines.push(`modem.port = "auto" picks ${choice.data.candidate.path} for AT and PPP: ${choice.data.reason}.`);
    if (choice.control) lines.push(`Control port: ${choice.control.candidate.path}: ${choice.control.reason}.`);
    if (choice.data.candidate.kind === "usb-modem") {
      lines.push("Only this interface carries PPP; the diagnostics and GNSS ports never answer ATD*99#.");
    }
  } else {
    lines.push(`modem.port = "auto" finds nothing: ${choice.problem ?? "no candidates"}.`);
  }
  return lines.join("\n") + "\n";
}

/** `cellkeep ports`: discover, choose, format. */
export function portsCommand(opts: DiscoveryOptions = {}): string {
  const candidates = discoverPorts(opts);
  return formatPortsReport(candidates, chooseAutoPorts(candidates));
}

/**
 * A path resolver for a configured port: a fixed path is returned as is when
 * its node exists; "auto" re-runs discovery each time (the modem may come back
 * as another ttyUSBn after a reset). Returns null when nothing is usable now.
 */
export function portResolver(configured: string, opts: DiscoveryOptions & { role?: "data" | "control" } = {}): () => string | null {
  if (configured !== "auto") return () => (fs.existsSync(configured) ? configured : null);
  return () => {
    const choice = chooseAutoPorts(discoverPorts(opts));
    const pick = opts.role === "control" ? choice.control : choice.data;
    return pick?.candidate.path ?? null;
  };
}

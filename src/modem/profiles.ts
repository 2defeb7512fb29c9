/**
 * Modem profiles: what differs between modules, as data. Time limits follow
 * the Quectel AT command manuals' "maximum response time" column (AT 300 ms,
 * +CPIN 5 s, +COPS 180 s, +CGATT 140 s, ATD 60 s... the BG95/BG77 manuals state
 * 60 s as worst case for most commands; no answer after that means the module is
 * hung and must be reset).
 */
import type { RadioCapabilities } from "./radio-policy.ts";

export type ProfileId = "quectel-bg77" | "quectel-bg95" | "quectel-bg96" | "quectel-bg600l" | "quectel-ec25" | "generic";

export interface CommandLimits {
  /** Basic commands (AT, ATE0, ATI, +CGMM...). */
  basic: number;
  cpin: number;
  cops: number;
  cgatt: number;
  dial: number;
  cfun: number;
  cgdcont: number;
  /** Radio / signal queries (+CSQ, +QCSQ, +QNWINFO): 300 ms in the manuals, a bit of slack here. */
  query: number;
  /** The vendor's worst case: no answer this long means the module is hung. */
  hungAfter: number;
}

/**
 * 27.010 CMUX parameters (AT+CMUX=<mode>,<subset>,<port_speed>,<N1>; the
 * port speed is the line's, see cmuxCommand). T1/N2/T2 are the 27.010
 * defaults Quectel also uses (T1 100 ms, N2 3, T2 300 ms).
 */
export interface CmuxProfile {
  /** N1: information octets per frame (Quectel: 127). */
  frameSize: number;
  t1Ms: number;
  n2: number;
  t2Ms: number;
  /** AT for polling and URCs, and the dial + PPP (Quectel: any DLCI 1-4 is an AT port). */
  controlDlci: number;
  dataDlci: number;
}

/** 27.007 <port_speed> codes (Quectel adds 7 = 460800, 8 = 921600); unknown rates keep 115200's code. */
const PORT_SPEED: Readonly<Record<number, number>> = { 9600: 1, 19200: 2, 38400: 3, 57600: 4, 115200: 5, 230400: 6, 460800: 7, 921600: 8 };

/** The AT+CMUX command for a profile at a line speed: Quectel at 115200 gives AT+CMUX=0,0,5,127. */
export function cmuxCommand(c: CmuxProfile, baud: number): string {
  return `AT+CMUX=0,0,${PORT_SPEED[baud] ?? 5},${c.frameSize}`;
}

const CMUX_27010: CmuxProfile = { frameSize: 127, t1Ms: 100, n2: 3, t2Ms: 300, controlDlci: 1, dataDlci: 2 };

export interface ModemProfile {
  id: ProfileId;
  name: string;
  /** Matched against ATI / AT+CGMM output when modem.profile = "auto". */
  model: RegExp | null;
  limits: CommandLimits;
  /** Signal/cell queries, in order. */
  signalCommands: string[];
  /** USB bInterfaceNumber roles (see src/serial/usb-modems.ts); empty for generic. */
  usbInterfaces: { data: number | null; control: number | null };
  /** Full-functionality reset that reboots the module. */
  resetCommand: string;
  /** Orderly power-down (the module stays off until power or PWRKEY). */
  powerDownCommand: string | null;
  /** Line the module prints when it has booted. */
  bootUrc: string | null;
  /** How long the module takes to boot after a reset (RDY), worst case. */
  bootTimeoutMs: number;
  /** AT+CFUN=0 → 1 settles in this long. */
  radioOffMs: number;
  /** Quectel: AT+QCFG="urc/port" etc. are not needed; extra init lines of the profile. */
  init: string[];
  /** CMUX parameters; null when the module has no 27.010 mux (modem.mux = "auto" then stays plain). */
  cmux: CmuxProfile | null;
  /** How radio.* maps to this module's commands (radio-policy.ts). */
  radio: RadioCapabilities;
  /** How the SIM slot is chosen on modules with two: Quectel AT+QDSIM; null when there is no known command. */
  simSlots: "qdsim" | null;
}

const QUECTEL_LIMITS: CommandLimits = {
  basic: 300,
  cpin: 5_000,
  cops: 180_000,
  cgatt: 140_000,
  dial: 60_000,
  cfun: 15_000,
  cgdcont: 300,
  query: 1_000,
  hungAfter: 60_000,
};

const QUECTEL_SIGNAL = ["AT+CSQ", "AT+QCSQ", "AT+QNWINFO", "AT+COPS?"];

function quectel(id: ProfileId, name: string, model: RegExp, extra: Partial<ModemProfile> = {}): ModemProfile {
  return {
    id,
    name,
    model,
    limits: QUECTEL_LIMITS,
    signalCommands: QUECTEL_SIGNAL,
    usbInterfaces: { data: 2, control: 3 },
    resetCommand: "AT+CFUN=1,1",
    powerDownCommand: "AT+QPOWD=1",
    bootUrc: "RDY",
    bootTimeoutMs: 30_000,
    radioOffMs: 1_000,
    init: [],
    cmux: CMUX_27010,
    radio: { dialect: "quectel-lpwa", gsm: false },
    // Whether this unit has a second slot is asked at run time (AT+QDSIM? answers ERROR without one).
    simSlots: "qdsim",
    ...extra,
  };
}

export const PROFILES: Readonly<Record<ProfileId, ModemProfile>> = {
  "quectel-bg77": quectel("quectel-bg77", "Quectel BG77", /BG77/i),
  // BG95-M3 and BG96 have GSM besides LTE-M/NB-IoT; the BG77 and BG600L have not.
  "quectel-bg95": quectel("quectel-bg95", "Quectel BG95", /BG95/i, { radio: { dialect: "quectel-lpwa", gsm: true } }),
  "quectel-bg96": quectel("quectel-bg96", "Quectel BG96", /BG96/i, { radio: { dialect: "quectel-lpwa", gsm: true } }),
  "quectel-bg600l": quectel("quectel-bg600l", "Quectel BG600L", /BG600L/i),
  "quectel-ec25": quectel("quectel-ec25", "Quectel EC25", /EC25|EG25/i, { bootTimeoutMs: 20_000, radio: { dialect: "quectel-lte", gsm: true } }),
  generic: {
    id: "generic",
    name: "generic 3GPP modem",
    model: null,
    limits: { ...QUECTEL_LIMITS, cops: 180_000, cgatt: 140_000 },
    signalCommands: ["AT+CSQ", "AT+COPS?"],
    usbInterfaces: { data: null, control: null },
    resetCommand: "AT+CFUN=1,1",
    powerDownCommand: null,
    bootUrc: null,
    bootTimeoutMs: 30_000,
    radioOffMs: 1_000,
    init: [],
    // 27.007 defines AT+CMUX for every 3GPP modem; N1 = 127 is common (the 27.010 default is 31).
    cmux: CMUX_27010,
    radio: { dialect: "3gpp", gsm: false },
    simSlots: null,
  },
};

/** Picks the profile for a model string (ATI or AT+CGMM output); generic when unknown. */
export function profileForModel(model: string | null): ModemProfile {
  if (model) {
    for (const p of Object.values(PROFILES)) if (p.model && p.model.test(model)) return p;
  }
  return PROFILES.generic;
}

/** Resolves modem.profile: a fixed id, or "auto" from the model. */
export function resolveProfile(setting: string, model: string | null): ModemProfile {
  if (setting !== "auto" && Object.hasOwn(PROFILES, setting)) return PROFILES[setting as ProfileId];
  return profileForModel(model);
}

/** The time limit for one command under a profile. */
export function limitFor(p: ModemProfile, command: string): number {
  const c = command.toUpperCase();
  const l = p.limits;
  if (c.startsWith("ATD")) return l.dial;
  if (c.startsWith("AT+CPIN")) return l.cpin;
  if (c.startsWith("AT+COPS")) return c === "AT+COPS?" ? l.query : l.cops;
  if (c.startsWith("AT+CGATT")) return c === "AT+CGATT?" ? l.query : l.cgatt;
  if (c.startsWith("AT+CFUN")) return l.cfun;
  if (c.startsWith("AT+CGDCONT")) return l.cgdcont;
  if (/^AT\+(CSQ|QCSQ|QNWINFO|CEREG|CGREG|CREG|CIMI|QCCID|CCID)/.test(c)) return l.query;
  if (c.startsWith("AT+QPOWD")) return l.hungAfter;
  return l.basic;
}

/**
 * Fixed texts of the emulated Quectel modules: identification, +CME ERROR
 * numbers and their verbose forms, result codes. Formats follow the Quectel
 * BG96 / BG77 AT Commands Manuals and 3GPP TS 27.007 §9.2.
 */

export interface ModelText {
  model: string;
  revision: string;
  /** What +QCSQ / +QNWINFO call the LTE-M radio on this model. */
  sysmode: string;
  act: string;
}

export const MODEL_TEXT: Readonly<Record<"BG96" | "BG77", ModelText>> = {
  BG96: { model: "BG96", revision: "BG96MAR02A07M1G", sysmode: "CAT-M1", act: "CAT-M1" },
  BG77: { model: "BG77", revision: "BG77LAR02A04", sysmode: "eMTC", act: "eMTC" },
};

export const MANUFACTURER = "Quectel";
export const IMEI = "866425031234567";
/** 001-01 is the 3GPP test network (TS 23.003), so the IMSI cannot collide with a real one. */
export const IMSI = "001010123456789";
export const ICCID = "89001012345678901234";
/** The card in the second slot (scenario dual-sim). */
export const IMSI2 = "001010987654321";
export const ICCID2 = "89001019876543210987";
export const PLMN = "00101";
export const OPERATOR_NAME = "TEST";
export const TAC = "1A2B";
export const CELL_ID = "01A2D001";
/** The simulated cell's signal, as +CSQ and +QCSQ report it: RSSI, RSRP (dBm), SINR (Quectel's raw value), RSRQ (dB). */
export const CELL_SIGNAL = { rssiDbm: -65, rsrpDbm: -91, sinr: 155, rsrqDb: -9 } as const;
/** 27.007 <AcT> 8 on Quectel LPWA modules: LTE Cat M1. */
export const ACT_CATM1 = 8;
/** BG96 manual: PPP CONNECT reports this rate. */
export const CONNECT_TEXT = "CONNECT 150000000";

/** 27.007 §9.2 / Quectel "Summary of CME ERROR Codes": the ones the simulator uses. */
export const CME = {
  operationNotAllowed: 3,
  operationNotSupported: 4,
  simNotInserted: 10,
  simPinRequired: 11,
  simPukRequired: 12,
  simFailure: 13,
  simBusy: 14,
  incorrectPassword: 16,
  noNetworkService: 30,
  incorrectParameters: 50,
  unknown: 100,
} as const;

const CME_TEXT: Readonly<Record<number, string>> = {
  3: "operation not allowed",
  4: "operation not supported",
  10: "SIM not inserted",
  11: "SIM PIN required",
  12: "SIM PUK required",
  13: "SIM failure",
  14: "SIM busy",
  16: "incorrect password",
  30: "no network service",
  50: "Incorrect parameters",
  100: "unknown",
};

export function cmeText(code: number): string {
  return CME_TEXT[code] ?? "unknown";
}

/** V0 (numeric) result codes, ITU-T V.250 §6.2.5. */
export const NUMERIC_RESULT: Readonly<Record<string, string>> = {
  OK: "0",
  CONNECT: "1",
  RING: "2",
  "NO CARRIER": "3",
  ERROR: "4",
  "NO DIALTONE": "6",
  BUSY: "7",
  "NO ANSWER": "8",
};

/** 27.007 <rssi> 0..31 from dBm (-113 + 2n), 99 unknown. */
export function rssiIndex(dbm: number): number {
  if (!Number.isFinite(dbm)) return 99;
  return Math.max(0, Math.min(31, Math.round((dbm + 113) / 2)));
}

/**
 * What the module says on its AT port when it has booted (BG96 Hardware
 * Design §3.7 / AT manual §1.5): RDY, the functionality level, the SIM state
 * and, with a ready SIM, SMS DONE; a BG77 adds APP RDY.
 */
export function bootUrcs(model: "BG96" | "BG77", sim: "ready" | "pin" | "puk" | "missing"): string[] {
  const urcs = ["RDY", "+CFUN: 1"];
  if (sim === "ready") urcs.push("+CPIN: READY");
  else if (sim === "pin") urcs.push("+CPIN: SIM PIN");
  if (sim === "ready") urcs.push("+QIND: SMS DONE");
  if (model === "BG77") urcs.push("APP RDY");
  return urcs;
}

/**
 * Radio policy (config [radio]) as the AT settings of one modem family: what
 * to read, what value the policy wants, and the command that writes it. Pure:
 * no I/O; the bring-up step that reads, writes and verifies is radio-step.ts.
 *
 * Each profile names its dialect (profiles.ts `radio`):
 *  - "quectel-lpwa" (BG96, BG95, BG77, BG600L; BG96/BG95 manuals, AT+QCFG):
 *    "nwscanseq" (01 GSM, 02 eMTC = LTE-M, 03 NB-IoT, in scan order),
 *    "nwscanmode" (0 automatic, 1 GSM only, 3 LTE only; modules with GSM),
 *    "iotopmode" (0 eMTC, 1 NB-IoT, 2 both), "band" (<gsm>,<catm1>,<catnb1>
 *    hex masks, bit n-1 = LTE band n), "roamservice" (1 off, 2 on);
 *  - "quectel-lte" (EC25/EG25): "nwscanseq" (01 GSM, 03 WCDMA, 04 LTE),
 *    "nwscanmode" (0 auto, 1 GSM, 2 WCDMA, 3 LTE only), "band" (<gw>,<lte>,
 *    <tds>), "roamservice";
 *  - "3gpp" (any modem): only the operator, by AT+COPS (TS 27.007 §7.3).
 * The operator (AT+COPS) applies to every dialect. A key left unset in the
 * config is never read nor written: the modem keeps its own setting.
 *
 * Values are compared in a normal form, so a setting the module already holds
 * is not written again (Quectel keeps these in NVRAM, which wears).
 */
import type { Config } from "../config/schema.ts";

export type RadioDialect = "quectel-lpwa" | "quectel-lte" | "3gpp";

/** What a profile says about its radio: its command dialect and whether it has GSM. */
export interface RadioCapabilities {
  dialect: RadioDialect;
  gsm: boolean;
}

export type RadioSettingName = "nwscanseq" | "nwscanmode" | "iotopmode" | "band" | "roamservice" | "operator";

/** One setting of the policy on this modem. */
export interface RadioSetting {
  name: RadioSettingName;
  /** The query whose answer holds the current value. */
  query: string;
  /** The current value in normal form, from the query's information lines; null when not found. */
  read(lines: readonly string[]): string | null;
  /** The wanted value in normal form (what `read` returns once the setting holds). */
  wanted: string;
  /** The command that writes the wanted value, given the current answer (band keeps the parts the policy does not set); null when it cannot be built. */
  write(lines: readonly string[]): string | null;
  /** Whether `current` (normal form) already satisfies the policy. */
  holds(current: string): boolean;
}

export interface RadioPlan {
  settings: RadioSetting[];
  /** Parts of the policy this modem cannot express, for a person (e.g. "gsm: the BG77 has no GSM"). */
  notes: string[];
}

export type RadioPolicy = Config["radio"];

/** Quectel's +QCFG: "<name>",<values>: the values after the name, unquoted; null when absent. */
function qcfgValues(lines: readonly string[], name: string): string[] | null {
  const re = new RegExp(`^\\+QCFG:\\s*"${name}"\\s*,(.*)$`, "i");
  for (const l of lines) {
    const m = re.exec(l.trim());
    if (m) return m[1]!.split(",").map((v) => v.trim().replace(/^"(.*)"$/, "$1"));
  }
  return null;
}

/** A hex mask as Quectel prints it ("0x80084", "80084", "0X80084") → lower-case digits without leading zeros. */
function hexNorm(s: string | undefined): string | null {
  if (s === undefined) return null;
  const m = /^(?:0x)?([0-9a-f]+)$/i.exec(s.trim());
  if (!m) return null;
  return BigInt(`0x${m[1]}`).toString(16);
}

/** LTE band numbers → the Quectel mask (bit n-1 = band n), hex digits. */
export function bandMask(bands: readonly number[]): string {
  let mask = 0n;
  for (const b of bands) mask |= 1n << BigInt(b - 1);
  return mask.toString(16);
}

function qcfgNumber(name: string, wanted: number): RadioSetting {
  return {
    name: name as RadioSettingName,
    query: `AT+QCFG="${name}"`,
    read: (lines) => {
      const v = qcfgValues(lines, name)?.[0];
      return v !== undefined && /^\d+$/.test(v) ? String(Number(v)) : null;
    },
    wanted: String(wanted),
    write: () => `AT+QCFG="${name}",${wanted},1`,
    holds: (current) => current === String(wanted),
  };
}

function scanSequence(codes: readonly string[]): RadioSetting {
  const wanted = codes.join("");
  return {
    name: "nwscanseq",
    query: 'AT+QCFG="nwscanseq"',
    read: (lines) => {
      const v = qcfgValues(lines, "nwscanseq")?.[0];
      if (v === undefined || !/^\d+$/.test(v)) return null;
      // Some firmwares print the leading zero of "02..." and some do not.
      return v.length % 2 === 1 ? `0${v}` : v;
    },
    wanted,
    write: () => `AT+QCFG="nwscanseq",${wanted},1`,
    // A module may append the technologies left out to its list: what we asked for must lead it.
    holds: (current) => current.startsWith(wanted),
  };
}

/** band on LPWA modules: <gsm>,<catm1>,<catnb1>; the LTE-M and NB-IoT masks are the policy's, GSM stays as read. */
function lpwaBand(mask: string): RadioSetting {
  const parts = (lines: readonly string[]) => {
    const v = qcfgValues(lines, "band");
    if (!v || v.length < 3) return null;
    const [gsm, catm1, nb] = [hexNorm(v[0]), hexNorm(v[1]), hexNorm(v[2])];
    return gsm !== null && catm1 !== null && nb !== null ? { gsm, catm1, nb } : null;
  };
  return {
    name: "band",
    query: 'AT+QCFG="band"',
    read: (lines) => {
      const p = parts(lines);
      return p ? `catm1=${p.catm1},nb=${p.nb}` : null;
    },
    wanted: `catm1=${mask},nb=${mask}`,
    write: (lines) => {
      const p = parts(lines);
      return p ? `AT+QCFG="band",${p.gsm},${mask},${mask},1` : null;
    },
    holds: (current) => current === `catm1=${mask},nb=${mask}`,
  };
}

/** band on LTE modules: <gw>,<lte>[,<tds>]; only the LTE mask is the policy's. */
function lteBand(mask: string): RadioSetting {
  const parts = (lines: readonly string[]) => {
    const v = qcfgValues(lines, "band");
    if (!v || v.length < 2) return null;
    const gw = hexNorm(v[0]);
    const lte = hexNorm(v[1]);
    const tds = v.length >= 3 ? hexNorm(v[2]) : null;
    return gw !== null && lte !== null ? { gw, lte, tds } : null;
  };
  return {
    name: "band",
    query: 'AT+QCFG="band"',
    read: (lines) => {
      const p = parts(lines);
      return p ? `lte=${p.lte}` : null;
    },
    wanted: `lte=${mask}`,
    write: (lines) => {
      const p = parts(lines);
      if (!p) return null;
      return p.tds !== null ? `AT+QCFG="band",${p.gw},${mask},${p.tds},1` : `AT+QCFG="band",${p.gw},${mask},1`;
    },
    holds: (current) => current === `lte=${mask}`,
  };
}

/** AT+COPS? → "auto" (mode 0), the MCC+MNC (mode 1, numeric format 2), "manual" (mode 1, other format), or "mode-N". */
export function readOperatorSetting(lines: readonly string[]): string | null {
  for (const l of lines) {
    const m = /^\+COPS:\s*(\d+)(?:\s*,\s*(\d+)\s*,\s*"([^"]*)")?/i.exec(l.trim());
    if (!m) continue;
    const mode = Number(m[1]);
    if (mode === 0) return "auto";
    if (mode === 1 || mode === 4) return m[2] === "2" && m[3] ? m[3] : "manual";
    return `mode-${mode}`;
  }
  return null;
}

function operator(want: string): RadioSetting {
  return {
    name: "operator",
    query: "AT+COPS?",
    read: readOperatorSetting,
    wanted: want,
    // Manual selection in numeric format: the read-back then names the network by MCC+MNC (27.007 §7.3).
    write: () => (want === "auto" ? "AT+COPS=0" : `AT+COPS=1,2,"${want}"`),
    holds: (current) => current === want,
  };
}

const LPWA_CODE: Partial<Record<string, string>> = { gsm: "01", "lte-m": "02", "nb-iot": "03" };
const LTE_CODE: Partial<Record<string, string>> = { gsm: "01", umts: "03", lte: "04" };

/**
 * The policy's settings for a modem with these capabilities, in the order
 * they are applied (scan settings, bands, roaming, then the operator, whose
 * manual selection registers at once). `modelName` words the notes.
 */
export function planRadio(policy: RadioPolicy, caps: RadioCapabilities, modelName: string): RadioPlan {
  const settings: RadioSetting[] = [];
  const notes: string[] = [];
  const techs = policy.technologies;
  if (caps.dialect === "3gpp") {
    if (techs) notes.push(`technologies: ${modelName} has no known command for the scan order; left as the modem has it`);
    if (policy.bands) notes.push(`bands: ${modelName} has no known band command; left as the modem has it`);
    if (policy.roaming) notes.push(`roaming: ${modelName} has no roaming switch; cellkeep itself does not dial while roaming when roaming = "deny"`);
  } else {
    const table = caps.dialect === "quectel-lpwa" ? LPWA_CODE : LTE_CODE;
    if (techs) {
      const usable = techs.filter((t) => table[t] !== undefined && (t !== "gsm" || caps.gsm));
      for (const t of techs) if (!usable.includes(t)) notes.push(`technologies: ${modelName} has no ${t}; left out`);
      if (usable.length === 0) {
        // Nothing of the list exists on this module: an impossible policy, refused by the step.
        settings.push(impossible("nwscanseq", `none of ${techs.join(", ")} exists on ${modelName}`));
      } else {
        settings.push(scanSequence(usable.map((t) => table[t]!)));
        const hasGsm = usable.includes("gsm");
        if (caps.dialect === "quectel-lpwa") {
          const lte = usable.filter((t) => t !== "gsm");
          if (caps.gsm) settings.push(qcfgNumber("nwscanmode", hasGsm && lte.length > 0 ? 0 : hasGsm ? 1 : 3));
          if (lte.length > 0) settings.push(qcfgNumber("iotopmode", lte.length === 2 ? 2 : lte[0] === "lte-m" ? 0 : 1));
        } else {
          const only = usable.length === 1 ? usable[0] : null;
          settings.push(qcfgNumber("nwscanmode", only === "gsm" ? 1 : only === "umts" ? 2 : only === "lte" ? 3 : 0));
        }
      }
    }
    if (policy.bands) settings.push(caps.dialect === "quectel-lpwa" ? lpwaBand(bandMask(policy.bands)) : lteBand(bandMask(policy.bands)));
    if (policy.roaming) settings.push(qcfgNumber("roamservice", policy.roaming === "deny" ? 1 : 2));
  }
  if (policy.operator) settings.push(operator(policy.operator));
  return { settings, notes };
}

/** A setting that cannot hold on this module: never written, always refused. */
function impossible(name: RadioSettingName, why: string): RadioSetting {
  return { name, query: "", read: () => null, wanted: why, write: () => null, holds: () => false };
}

/** Whether a registration may be dialled under the policy: home always, roaming (stat 5) unless roaming = "deny". */
export function registrationAllowed(stat: number, policy: RadioPolicy): boolean {
  if (stat === 5) return policy.roaming !== "deny";
  return stat === 1;
}

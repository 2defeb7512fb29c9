/**
 * Parsers for the information lines the supervisor reads (3GPP TS 27.007 and
 * Quectel extensions). Pure functions: a line in, a value or null out; they
 * never throw on odd input.
 */

/** TS 27.007 §7.2 / §10.1.22 <stat>. */
export function registrationStatus(stat: number): string {
  switch (stat) {
    case 0:
      return "not-registered";
    case 1:
    case 6: // home, SMS only
    case 9: // home, CSFB not preferred
      return "home";
    case 2:
      return "searching";
    case 3:
      return "denied";
    case 5:
    case 7:
    case 10:
      return "roaming";
    default:
      return "unknown";
  }
}

/** Registered for our purposes: home (1) or roaming (5). */
export function isRegistered(stat: number): boolean {
  return stat === 1 || stat === 5;
}

/** TS 27.007 <AcT>, with Quectel's 8 = eMTC (LTE-M) and 9 = NB-IoT. */
export function accessTechnology(act: number | null): string | null {
  switch (act) {
    case null:
      return null;
    case 0:
    case 1:
    case 3:
      return "GSM";
    case 2:
    case 4:
    case 5:
    case 6:
      return "UMTS";
    case 7:
      return "LTE";
    case 8:
      return "LTE-M";
    case 9:
      return "NB-IoT";
    default:
      return `act-${act}`;
  }
}

export interface Registration {
  /** "+CEREG" | "+CGREG" | "+CREG" */
  kind: string;
  stat: number;
  tac: string | null;
  cell: string | null;
  act: number | null;
  /** Reject cause (n=3 reports), if present. */
  rejectCause: number | null;
}

function splitArgs(text: string): string[] {
  return text.split(",").map((s) => s.trim().replace(/^"(.*)"$/, "$1"));
}

function num(s: string | undefined): number | null {
  if (s === undefined || s === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

/**
 * "+CEREG: 2,1,"1A2B","01A2B3C4",7" (query answer: <n>,<stat>,...) or
 * "+CEREG: 1,"1A2B","01A2B3C4",7" (URC: <stat>,...).
 */
export function parseRegistration(line: string, fromQuery: boolean): Registration | null {
  const m = /^(\+C(?:E|G)?REG):\s*(.*)$/.exec(line);
  if (!m) return null;
  const args = splitArgs(m[2]!);
  if (fromQuery) args.shift();
  const stat = num(args[0]);
  if (stat === null) return null;
  return {
    kind: m[1]!,
    stat,
    tac: args[1] || null,
    cell: args[2] || null,
    act: num(args[3]),
    rejectCause: num(args[5]),
  };
}

/** "+CSQ: 20,99" → RSSI in dBm (TS 27.007 §8.5: 0 → -113, 31 → -51, 99 unknown). */
export function parseCsq(line: string): number | null {
  const m = /^\+CSQ:\s*(\d+)\s*,/.exec(line);
  if (!m) return null;
  const n = Number(m[1]);
  if (n === 99 || n > 31) return null;
  return -113 + 2 * n;
}

export interface Qcsq {
  sysmode: string;
  rssi: number | null;
  rsrp: number | null;
  sinr: number | null;
  rsrq: number | null;
}

/**
 * Quectel '+QCSQ: "eMTC",<rssi>,<rsrp>,<sinr>,<rsrq>' (LTE/eMTC/NBIoT). SINR is
 * reported as 0..250 meaning -20..+30 dB in 0.2 dB steps (BG96/BG95 manuals).
 */
export function parseQcsq(line: string): Qcsq | null {
  const m = /^\+QCSQ:\s*(.*)$/.exec(line);
  if (!m) return null;
  const a = splitArgs(m[1]!);
  const sysmode = a[0] ?? "";
  if (sysmode === "NOSERVICE" || sysmode === "") return { sysmode: sysmode || "NOSERVICE", rssi: null, rsrp: null, sinr: null, rsrq: null };
  if (sysmode === "GSM") return { sysmode, rssi: num(a[1]), rsrp: null, sinr: null, rsrq: null };
  const rawSinr = num(a[3]);
  return {
    sysmode,
    rssi: num(a[1]),
    rsrp: num(a[2]),
    sinr: rawSinr === null ? null : Math.round((rawSinr / 5 - 20) * 10) / 10,
    rsrq: num(a[4]),
  };
}

export interface Qnwinfo {
  act: string;
  operator: string | null;
  band: string | null;
}

/** Quectel '+QNWINFO: "eMTC","26201","LTE BAND 20",6300'. */
export function parseQnwinfo(line: string): Qnwinfo | null {
  const m = /^\+QNWINFO:\s*(.*)$/.exec(line);
  if (!m) return null;
  const a = splitArgs(m[1]!);
  if (!a[0] || a[0] === "No Service") return { act: "none", operator: null, band: null };
  return { act: a[0], operator: a[1] || null, band: a[2] || null };
}

/** '+COPS: 0,0,"Telekom.de",8' → operator and AcT. */
export function parseCops(line: string): { operator: string | null; act: number | null } | null {
  const m = /^\+COPS:\s*(.*)$/.exec(line);
  if (!m) return null;
  const a = splitArgs(m[1]!);
  return { operator: a[2] || null, act: num(a[3]) };
}

export type PinState = "ready" | "sim-pin" | "sim-puk" | "not-inserted" | "busy" | "other";

/** "+CPIN: READY" / "+CPIN: SIM PIN" / "+CPIN: NOT INSERTED"... */
export function parseCpin(line: string): PinState | null {
  const m = /^\+CPIN:\s*(.*)$/.exec(line);
  if (!m) return null;
  const v = m[1]!.trim().toUpperCase();
  if (v === "READY") return "ready";
  if (v === "SIM PIN") return "sim-pin";
  if (v === "SIM PUK") return "sim-puk";
  if (v === "NOT INSERTED") return "not-inserted";
  return "other";
}

/** TS 27.007 §9.2.1 +CME ERROR codes and verbose texts about the SIM. */
export function cmeSimState(detail: string): PinState | null {
  const d = detail.trim().toLowerCase();
  if (d === "10" || d.includes("not inserted")) return "not-inserted";
  if (d === "11" || d === "sim pin required") return "sim-pin";
  if (d === "12" || d === "sim puk required") return "sim-puk";
  if (d === "14" || d.includes("sim busy")) return "busy";
  if (d === "13" || d === "sim failure") return "not-inserted";
  return null;
}

/** +CME ERROR 16 "incorrect password" after AT+CPIN=<pin>. */
export function isWrongPassword(detail: string): boolean {
  const d = detail.trim().toLowerCase();
  return d === "16" || d.includes("incorrect password");
}

/** T3402's default (TS 24.301 table 10.2.1): 12 min, the wait when the network names no time. */
export const T3402_DEFAULT_S = 720;

/**
 * A network back-off (3GPP TS 24.301 T3346 mobility-management congestion
 * control, TS 24.008/24.301 T3396 session-management back-off): the modem
 * reports it in an error text or URC. Returns the back-off in seconds (12 min,
 * the T3402 default, when no number is given) or null.
 */
export function parseBackoff(text: string): number | null {
  if (!/back-?off|T3346|T3396|T3402|congestion/i.test(text)) return null;
  const m = /(\d+)\s*(?:s\b|sec)/i.exec(text) ?? /(?:T3346|T3396|T3402|back-?off)\D*(\d+)/i.exec(text);
  return m ? Number(m[1]) : T3402_DEFAULT_S;
}

export interface CeerReport {
  /** The ESM (session management) cause number, when the report names one. */
  esmCause: number | null;
  text: string;
}

/**
 * AT+CEER's report (TS 27.007 §6.10: manufacturer-specific text). Seen forms:
 * `+CEER: "ESM reject",27,"Missing or unknown APN"`, `+CEER: "SM detach",0,"..."`
 * (a category naming session management, a number, a text) and plain text.
 * A known ESM cause text without a number is mapped too (TS 24.301 annex B).
 */
export function parseCeer(text: string): CeerReport | null {
  const m = /\+CEER:\s*(.*)$/i.exec(text.trim());
  if (!m) return null;
  const body = m[1]!.trim();
  const structured = /^"([^"]*)"\s*,\s*(\d+)\s*(?:,\s*"([^"]*)")?/.exec(body);
  if (structured) {
    const category = structured[1]!;
    const n = Number(structured[2]);
    const isSm = /\b(E?SM|session management|PDN|PDP)\b/i.test(category);
    return { esmCause: isSm && n > 0 ? n : null, text: structured[3] ?? category };
  }
  const plain = body.replace(/^"|"$/g, "");
  const byText = ESM_TEXTS.find(([re]) => re.test(plain));
  return { esmCause: byText ? byText[1] : null, text: plain };
}

const ESM_TEXTS: ReadonlyArray<readonly [RegExp, number]> = [
  [/unknown APN/i, 27],
  [/user authentication failed/i, 29],
  [/not subscribed/i, 33],
  [/unknown PDP address or type/i, 28],
  [/service option not supported/i, 32],
];

/**
 * ESM causes (TS 24.301 annex B) that only a person can fix: the APN (#27),
 * the subscription (#33 not subscribed, #32 not supported, #28 PDP type,
 * #50/#51 only IPv4/IPv6 allowed), the credentials (#29). Others (#26
 * insufficient resources, #31 unspecified, #38 network failure) are
 * transient and stay no-carrier.
 */
export function esmCauseCode(n: number): "apn-rejected" | "pdp-rejected" | "auth-rejected" | null {
  if (n === 27) return "apn-rejected";
  if (n === 29) return "auth-rejected";
  if (n === 28 || n === 32 || n === 33 || n === 50 || n === 51) return "pdp-rejected";
  return null;
}

/**
 * SMS text as the modem shows it (3GPP TS 27.005 text mode, AT+CMGF=1).
 * Pure functions: answers of AT+CMGL / AT+CMGR read with AT+CSCS="UCS2",
 * phone numbers, and the text of a reply cut into numbered parts.
 *
 * Why UCS2 for reading: in text mode the message text arrives as lines on
 * the AT channel, so an SMS saying "OK" or "+CMTI: ..." would be taken for
 * the modem's own result or URC (DESIGN rule 8: nothing in a payload is ever
 * taken for modem text). With the TE character set UCS2 the modem shows the
 * text (and the sender) as hex digits, which no result code or URC looks
 * like. Replies go out in the IRA set (plain ASCII), restricted to characters
 * the GSM 7-bit alphabet holds, so a part is one 160-character SMS.
 */
import { parseModemTime } from "../at/time-text.ts";
import { splitQuotedFields } from "../at/lines.ts";

export interface StoredSms {
  /** Index in the modem's message storage (for AT+CMGR / AT+CMGD). */
  index: number;
  /** "REC UNREAD", "REC READ", ... */
  stat: string;
  /** The sender as the modem shows it (normalised: see normalizeNumber). */
  from: string;
  text: string;
  /** Service-centre time stamp (UTC ms), or null when absent or unreadable. */
  sentAt: number | null;
}

/** "0041" → "A": UTF-16 code units as 4 hex digits each; text that is not such hex is returned as it is. */
export function fromUcs2Hex(s: string): string {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[0-9A-Fa-f]+$/.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i += 4) out += String.fromCharCode(parseInt(s.slice(i, i + 4), 16));
  return out;
}

/** "+49 170-123" → "+49170123"; "0049..." → "+49...". */
export function normalizeNumber(n: string): string {
  const s = n.replace(/[\s\-().]/g, "");
  return s.startsWith("00") ? `+${s.slice(2)}` : s;
}


function sentAtOf(scts: string | undefined): number | null {
  if (!scts) return null;
  return parseModemTime(scts)?.utcMs ?? null;
}

/** The text lines after a header: one hex line in UCS2; several (joined) if the modem ignored the character set. */
function bodyOf(lines: readonly string[]): string {
  return lines.length === 1 ? fromUcs2Hex(lines[0]!) : lines.join("\n");
}

/**
 * AT+CMGL answer lines → messages:
 * `+CMGL: <index>,<stat>,<oa>,[<alpha>],[<scts>]` then the text.
 * Headers that do not parse are skipped with their text.
 */
export function parseCmgl(lines: readonly string[]): StoredSms[] {
  const out: StoredSms[] = [];
  let cur: { head: string[]; body: string[] } | null = null;
  const close = () => {
    if (!cur) return;
    const [index, stat, oa, , scts] = cur.head;
    if (index !== undefined && /^\d+$/.test(index)) {
      out.push({ index: Number(index), stat: stat ?? "", from: normalizeNumber(fromUcs2Hex(oa ?? "")), text: bodyOf(cur.body), sentAt: sentAtOf(scts) });
    }
    cur = null;
  };
  for (const line of lines) {
    const m = /^\+CMGL:\s*(.*)$/.exec(line);
    if (m) {
      close();
      cur = { head: splitQuotedFields(m[1]!), body: [] };
    } else if (cur) cur.body.push(line);
  }
  close();
  return out;
}

/** AT+CMGR=<index> answer → the message: `+CMGR: <stat>,<oa>,[<alpha>],<scts>` then the text; null when there is none. */
export function parseCmgr(index: number, lines: readonly string[]): StoredSms | null {
  const i = lines.findIndex((l) => l.startsWith("+CMGR:"));
  if (i < 0) return null;
  const [stat, oa, , scts] = splitQuotedFields(lines[i]!.slice(6));
  return { index, stat: stat ?? "", from: normalizeNumber(fromUcs2Hex(oa ?? "")), text: bodyOf(lines.slice(i + 1)), sentAt: sentAtOf(scts) };
}

/** `+CMTI: "SM",3` → 3 (27.005 §3.4.1: a new message stored at <index>). */
export function parseCmti(line: string): number | null {
  const m = /^\+CMTI:\s*"?[A-Z]*"?\s*,\s*(\d+)/.exec(line);
  return m ? Number(m[1]) : null;
}

/** Characters a reply keeps: ASCII that the GSM 7-bit default alphabet has as one septet. */
const GSM_SAFE = /[A-Za-z0-9 .,:;!?()'"+\-/=%#*<>&@]/;

/** One line of GSM-safe text: line breaks become "; ", other characters outside the set "?". */
export function gsmSafe(text: string): string {
  return [...text.replace(/\r?\n/g, "; ")].map((c) => (GSM_SAFE.test(c) ? c : "?")).join("");
}

/** One SMS in the GSM 7-bit alphabet. */
export const SMS_CHARS = 160;

/**
 * A reply as numbered SMS (text mode cannot send the UDH that joins parts on
 * the phone): one part as it is; more as "1/3 ...", "2/3 ...", each at most
 * 160 characters, cut at a space where one is near. Beyond `maxParts` the
 * last part ends with "..".
 */
export function splitReply(text: string, maxParts: number): string[] {
  const t = gsmSafe(text).trim();
  if (t.length <= SMS_CHARS) return [t];
  // "n/m " takes 4 characters for up to 9 parts.
  const room = SMS_CHARS - 4;
  const chunks: string[] = [];
  let rest = t;
  while (rest.length > 0) {
    if (rest.length <= room) {
      chunks.push(rest);
      break;
    }
    let cut = rest.lastIndexOf(" ", room);
    if (cut < room - 40) cut = room;
    chunks.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (chunks.length > maxParts) {
    chunks.length = maxParts;
    const last = chunks[maxParts - 1]!;
    chunks[maxParts - 1] = (last.length > room - 2 ? last.slice(0, room - 2) : last) + "..";
  }
  const n = chunks.length;
  return n === 1 ? chunks : chunks.map((c, i) => `${i + 1}/${n} ${c}`);
}

/**
 * Time strings in AT answers (3GPP TS 27.007 +CCLK §8.15, +CTZE §8.41; TS
 * 27.005 service-centre time stamps; Quectel +QLTS): "yy/MM/dd,hh:mm:ss±zz"
 * or with a four-digit year, where ±zz is the zone in quarter hours and the
 * clock part is LOCAL time in that zone. Pure text → UTC epoch ms.
 */

export interface ModemTime {
  /** UTC, epoch ms. */
  utcMs: number;
  /** The zone the modem reported, in quarter hours (e.g. +8 = UTC+02:00). */
  zoneQuarters: number;
}

const TIME = /^(\d{2}|\d{4})\/(\d{1,2})\/(\d{1,2}),(\d{1,2}):(\d{2}):(\d{2})(?:([+-])(\d{1,2}))?$/;

/**
 * "25/05/01,14:00:00+08" → 2025-05-01T12:00:00Z. `zoneQuarters` is used when
 * the text carries no zone (+CTZE gives it as a separate field). Null for
 * anything else, and for fields out of range (no Date rollover: 13/40 is not
 * a date).
 */
export function parseModemTime(text: string, zoneQuarters?: number): ModemTime | null {
  const m = TIME.exec(text.trim().replace(/^"|"$/g, ""));
  if (!m) return null;
  const year = m[1]!.length === 2 ? 2000 + Number(m[1]) : Number(m[1]);
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const zone = m[7] !== undefined ? (m[7] === "-" ? -1 : 1) * Number(m[8]) : zoneQuarters;
  if (zone === undefined || Math.abs(zone) > 56) return null;
  const local = Date.UTC(year, mo - 1, d, h, mi, s);
  if (new Date(local).getUTCDate() !== d) return null;
  return { utcMs: local - zone * 15 * 60_000, zoneQuarters: zone };
}

/** A zone field "+08" / "-4" / 8 as quarter hours, or null. */
export function parseZone(text: string): number | null {
  const m = /^"?([+-]?)(\d{1,2})"?$/.exec(text.trim());
  if (!m) return null;
  const q = (m[1] === "-" ? -1 : 1) * Number(m[2]);
  return Math.abs(q) <= 56 ? q : null;
}

/** UTC ms as the modem writes local time in zone `zoneQuarters`: "yy/MM/dd,hh:mm:ss±zz" (four-digit year with `fullYear`). */
export function formatModemTime(utcMs: number, zoneQuarters: number, fullYear = false): string {
  const d = new Date(utcMs + zoneQuarters * 15 * 60_000);
  const p = (n: number) => String(n).padStart(2, "0");
  const y = fullYear ? String(d.getUTCFullYear()) : p(d.getUTCFullYear() % 100);
  const z = `${zoneQuarters < 0 ? "-" : "+"}${p(Math.abs(zoneQuarters))}`;
  return `${y}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())},${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}${z}`;
}

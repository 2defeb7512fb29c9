/**
 * One signal/cell reading: the profile's signal commands (+CSQ, Quectel
 * +QCSQ and +QNWINFO, +COPS?) sent on a given AT channel and folded into one
 * record for the "modem.signal" and "modem.registration" events.
 */
import type { AtChannel } from "../at/channel.ts";
import { accessTechnology, parseCops, parseCsq, parseQcsq, parseQnwinfo } from "./parse.ts";
import { limitFor, type ModemProfile } from "./profiles.ts";

export interface SignalReading {
  rssi: number | null;
  rsrp: number | null;
  rsrq: number | null;
  sinr: number | null;
  act: string | null;
  operator: string | null;
  band: string | null;
}

/** Runs the signal commands in order; a command that fails just leaves its fields null. */
export async function readSignal(ch: AtChannel, profile: ModemProfile, knownAct: string | null): Promise<SignalReading> {
  const s: SignalReading = { rssi: null, rsrp: null, rsrq: null, sinr: null, act: knownAct, operator: null, band: null };
  for (const c of profile.signalCommands) {
    const r = await ch.command(c, limitFor(profile, c));
    if (r.status !== "ok") continue;
    for (const line of r.lines) foldLine(s, line);
  }
  return s;
}

function foldLine(s: SignalReading, line: string): void {
  const csq = parseCsq(line);
  if (csq !== null) s.rssi = csq;
  const q = parseQcsq(line);
  if (q) {
    // +QCSQ is the finer reading of the same RSSI, plus RSRP/RSRQ/SINR.
    s.rssi = q.rssi ?? s.rssi;
    s.rsrp = q.rsrp;
    s.rsrq = q.rsrq;
    s.sinr = q.sinr;
  }
  const nw = parseQnwinfo(line);
  if (nw) {
    s.act = nw.act;
    s.band = nw.band;
  }
  const cops = parseCops(line);
  if (cops) {
    s.operator = cops.operator;
    if (!s.act) s.act = accessTechnology(cops.act);
  }
}

/**
 * SMS through AT commands (3GPP TS 27.005, text mode): set up, list, read,
 * delete, send. Each function takes the AT channel to use (the supervisor's
 * side channel) and never throws; a failure is `null` / `false` / a detail.
 *
 * Reading runs under AT+CSCS="UCS2" and switches back to "IRA" in the same
 * command line, so the text arrives as hex (src/sms/text.ts says why) and the
 * modem is left in the plain set replies are written in.
 */
import type { AtChannel } from "../at/channel.ts";
import { parseCmgl, parseCmgr, type StoredSms } from "./text.ts";

const SHORT_MS = 5_000;
/** A full storage listed in one answer (BG96: 50 messages in SM/ME) takes a while. */
const LIST_MS = 15_000;
/** 27.005 §3.5.1: sending waits for the network's acknowledgement; Quectel documents up to 120 s. */
const SEND_MS = 120_000;

/** Text mode, new messages stored and announced by +CMTI (27.005 +CNMI=2,1). */
export async function prepareSms(ch: AtChannel): Promise<boolean> {
  const r = await ch.command("AT+CMGF=1", SHORT_MS);
  if (r.status !== "ok") return false;
  // Without +CMTI the poll still finds new messages; a modem that refuses this mode is no failure.
  await ch.command("AT+CNMI=2,1,0,0,0", SHORT_MS);
  return true;
}

/** Every stored message (read and unread); null when the modem did not answer with a list. */
export async function listSms(ch: AtChannel): Promise<StoredSms[] | null> {
  const r = await ch.command('AT+CSCS="UCS2";+CMGL="ALL";+CSCS="IRA"', LIST_MS);
  return r.status === "ok" ? parseCmgl(r.lines) : null;
}

/** The message at `index` (announced by +CMTI); null when there is none or no answer. */
export async function readSms(ch: AtChannel, index: number): Promise<StoredSms | null> {
  const r = await ch.command(`AT+CSCS="UCS2";+CMGR=${index};+CSCS="IRA"`, SHORT_MS);
  return r.status === "ok" ? parseCmgr(index, r.lines) : null;
}

export async function deleteSms(ch: AtChannel, index: number): Promise<boolean> {
  const r = await ch.command(`AT+CMGD=${index}`, SHORT_MS);
  return r.status === "ok";
}

/**
 * One SMS in text mode: AT+CMGS="<number>", the text after the "> " prompt,
 * Ctrl-Z. `text` must be GSM-safe already (splitReply). Null on success,
 * else what went wrong.
 */
export async function sendSms(ch: AtChannel, to: string, text: string): Promise<string | null> {
  if (!/^\+?\d{3,20}$/.test(to)) return `not a number to answer: ${to}`;
  const cs = await ch.command('AT+CSCS="IRA"', SHORT_MS);
  if (cs.status !== "ok") return `AT+CSCS="IRA": ${cs.status}${cs.detail ? ` ${cs.detail}` : ""}`;
  const r = await ch.command(`AT+CMGS="${to}"`, SEND_MS, text);
  return r.status === "ok" ? null : `AT+CMGS: ${r.status}${r.detail ? ` ${r.detail}` : ""}`;
}

/**
 * How the DCE words its responses (ITU-T V.250 §5.7 / §6.2, 27.007 §9.1):
 * the per-channel settings that shape them (E, V, Q, &D, +CMEE, +IPR) and the
 * text of information responses, final result codes and unsolicited result
 * codes. Pure: settings and text in, line text out.
 *
 * With ATV1 an information response is <CR><LF>text<CR><LF> and a final
 * result is <CR><LF>OK<CR><LF>; with ATV0 the final result is a number and
 * <CR> (Quectel BG96 AT Commands Manual §1.4); ATQ1 suppresses both.
 */
import { NUMERIC_RESULT, cmeText } from "./quectel-text.ts";

/** Settings of one AT channel. `reset()` is power-on, ATZ and AT&F; the baud rate (AT+IPR) is kept, as if stored. */
export class ChannelSettings {
  /** ATE: repeat each received character as it arrives (on by default). */
  echo = true;
  /** ATV: words (1) or numbers (0) for result codes. */
  verbose = true;
  /** ATQ1: no result codes at all. */
  quiet = false;
  /** AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose +CME ERROR. */
  cmee = 1;
  /** AT&D: what a DTR drop does in data mode (0 nothing, 1 online-command mode, 2 hang up). */
  andD = 2;
  /** AT+IPR. */
  ipr = 115200;

  reset(): void {
    this.echo = true;
    this.verbose = true;
    this.quiet = false;
    this.cmee = 1;
    this.andD = 2;
  }
}

type Wording = Pick<ChannelSettings, "quiet" | "verbose">;

/** One command's information response, lines joined by CR LF (V.250 §5.7.2); null: nothing to send. */
export function infoText(lines: readonly string[], s: Wording): string | null {
  if (s.quiet || lines.length === 0) return null;
  const body = lines.join("\r\n");
  return s.verbose ? `\r\n${body}\r\n` : `${body}\r\n`;
}

/** A final result code ("OK", "NO CARRIER", "CONNECT 150000000", "+CME ERROR: 10"...); null: nothing to send. */
export function finalText(text: string, s: Wording): string | null {
  if (s.quiet || text === "") return null;
  if (s.verbose) return `\r\n${text}\r\n`;
  const head = text.startsWith("CONNECT") ? "CONNECT" : text;
  const code = NUMERIC_RESULT[head];
  return code !== undefined ? `${code}\r` : `${text}\r\n`;
}

/** An unsolicited result code: always framed by CR LF, whatever ATV says. */
export function urcText(text: string): string {
  return `\r\n${text}\r\n`;
}

/** The final result for a +CME error under AT+CMEE. */
export function cmeResult(code: number, cmee: number): string {
  if (cmee === 0) return "ERROR";
  return cmee === 1 ? `+CME ERROR: ${code}` : `+CME ERROR: ${cmeText(code)}`;
}

/**
 * The virtual modem's SMS side and network clock (issue 17), for tests of
 * SMS control and modem time: a message storage the test delivers into
 * (announced by +CMTI when AT+CNMI asks for it), the replies the agent sent,
 * the 27.005 text-mode settings (AT+CMGF, AT+CSCS, AT+CNMI), and the
 * network's time (the simulation's clock plus an offset a test may set).
 * Messages and the clock survive a module reset (they live on the SIM and in
 * the network); the settings do not.
 */

export interface SimStoredSms {
  index: number;
  stat: "REC UNREAD" | "REC READ";
  from: string;
  text: string;
  /** Service-centre time stamp (UTC ms). */
  sentAt: number;
}

export interface SimSentSms {
  to: string;
  text: string;
  at: number;
}

/** TE character sets of AT+CSCS the simulation knows. */
export type SimCharset = "GSM" | "IRA" | "UCS2";

/** BG96: 50 messages in "ME"/"SM" storage. */
export const SIM_SMS_CAPACITY = 50;

export class SimSms {
  /** AT+CMGF: 0 PDU (power-on default), 1 text. */
  textMode = false;
  charset: SimCharset = "GSM";
  /** AT+CNMI <mt>: 1 = store and announce with +CMTI. Quectel's default is 2,1. */
  cnmiMt = 1;
  /** The network's time = simulation time + this (tests move it; a "no NITZ" network is `nitz = false`). */
  clockOffsetMs = 0;
  /** The zone the network reports, quarter hours (+4 = UTC+01:00). */
  zoneQuarters = 4;
  /** Whether the network has sent NITZ (AT+QLTS answers "" until it has). */
  nitz = true;
  private readonly stored: SimStoredSms[] = [];
  readonly sent: SimSentSms[] = [];

  /** Settings back to power-on (storage and the network's clock stay). */
  reset(): void {
    this.textMode = false;
    this.charset = "GSM";
    this.cnmiMt = 1;
  }

  networkTime(now: number): number {
    return now + this.clockOffsetMs;
  }

  /** Store a received message; returns its index, or null when the storage is full (the network keeps it). */
  deliver(from: string, text: string, now: number): number | null {
    if (this.stored.length >= SIM_SMS_CAPACITY) return null;
    let index = 0;
    while (this.stored.some((m) => m.index === index)) index++;
    this.stored.push({ index, stat: "REC UNREAD", from, text, sentAt: this.networkTime(now) });
    this.stored.sort((a, b) => a.index - b.index);
    return index;
  }

  list(filter: "ALL" | "REC UNREAD" | "REC READ"): SimStoredSms[] {
    const out = this.stored.filter((m) => filter === "ALL" || m.stat === filter).map((m) => ({ ...m }));
    for (const m of this.stored) if (filter === "ALL" || m.stat === filter) m.stat = "REC READ";
    return out;
  }

  read(index: number): SimStoredSms | null {
    const m = this.stored.find((x) => x.index === index);
    if (!m) return null;
    const copy = { ...m };
    m.stat = "REC READ";
    return copy;
  }

  delete(index: number): boolean {
    const i = this.stored.findIndex((x) => x.index === index);
    if (i < 0) return false;
    this.stored.splice(i, 1);
    return true;
  }

  deleteAll(): void {
    this.stored.length = 0;
  }

  get count(): number {
    return this.stored.length;
  }

  /** Text as the TE character set shows it (UCS2: 4 hex digits per UTF-16 unit). */
  encode(text: string): string {
    if (this.charset !== "UCS2") return text;
    let hex = "";
    for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
    return hex;
  }

  /** Text the TE typed in its character set; null when UCS2 text is not hex. */
  decode(text: string): string | null {
    if (this.charset !== "UCS2") return text;
    if (text.length % 4 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) return null;
    let out = "";
    for (let i = 0; i < text.length; i += 4) out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
    return out;
  }
}

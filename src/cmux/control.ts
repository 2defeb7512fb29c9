/**
 * 27.010 control channel messages (§5.4.6), carried in UIH frames on DLCI 0:
 *
 *   type (EA, C/R, 6-bit type) | length (EA-extended) | value octets
 *
 * The ones cellkeep speaks: MSC (V.24 signals of one DLCI: a DCD drop is the
 * module saying the carrier is gone), FCon/FCoff (flow for all DLCIs), Test
 * (echo), CLD (close the whole mux), PN (parameters, answered for the peer)
 * and NSC (a command we do not support). Decoding never throws.
 */

/** Message types with EA = 1 and C/R = 0 (§5.4.6.3). */
export const MsgType = {
  PN: 0x81,
  PSC: 0x41,
  CLD: 0xc1,
  Test: 0x21,
  FCon: 0xa1,
  FCoff: 0x61,
  MSC: 0xe1,
  NSC: 0x11,
  RPN: 0x91,
  RLS: 0x51,
  SNC: 0xd1,
} as const;
export type MsgTypeName = keyof typeof MsgType;
const MSG_NAME = new Map<number, MsgTypeName>(Object.entries(MsgType).map(([k, v]) => [v, k as MsgTypeName]));

export interface ControlMessage {
  /** Known type name, or null for a type we do not know (answered with NSC). */
  type: MsgTypeName | null;
  /** The raw type octet (C/R included), for NSC replies. */
  rawType: number;
  /** True for a command, false for a response (the message's own C/R bit). */
  command: boolean;
  value: Uint8Array;
}

/** V.24 signals of one DLCI, as carried by MSC (§5.4.6.3.7). */
export interface V24Signals {
  /** FC: the sender cannot accept frames on this DLCI now. */
  fc: boolean;
  /** RTC: ready to communicate (DSR/DTR). */
  rtc: boolean;
  /** RTR: ready to receive (RTS/CTS). */
  rtr: boolean;
  /** IC: incoming call (RI). */
  ic: boolean;
  /** DV: data valid (DCD). */
  dv: boolean;
}

export const SIGNALS_READY: V24Signals = { fc: false, rtc: true, rtr: true, ic: false, dv: true };

export function encodeSignals(s: V24Signals): number {
  return 0x01 | (s.fc ? 0x02 : 0) | (s.rtc ? 0x04 : 0) | (s.rtr ? 0x08 : 0) | (s.ic ? 0x40 : 0) | (s.dv ? 0x80 : 0);
}

export function decodeSignals(b: number): V24Signals {
  return { fc: (b & 0x02) !== 0, rtc: (b & 0x04) !== 0, rtr: (b & 0x08) !== 0, ic: (b & 0x40) !== 0, dv: (b & 0x80) !== 0 };
}

/** One control message as the information field of a DLCI-0 UIH frame. */
export function encodeControl(type: MsgTypeName | number, command: boolean, value: Uint8Array = new Uint8Array(0)): Uint8Array {
  const t = (typeof type === "number" ? type : MsgType[type]) & ~0x02;
  const len = value.length <= 0x7f ? [(value.length << 1) | 1] : [(value.length & 0x7f) << 1, ((value.length >> 7) << 1) | 1];
  const out = new Uint8Array(1 + len.length + value.length);
  out[0] = t | (command ? 0x02 : 0);
  out.set(len, 1);
  out.set(value, 1 + len.length);
  return out;
}

/** MSC value: the DLCI's address octet (EA = 1, bit 2 = 1) and its signals. */
export function mscValue(dlci: number, s: V24Signals): Uint8Array {
  return Uint8Array.of(((dlci & 0x3f) << 2) | 0x03, encodeSignals(s));
}

/**
 * The control messages in one DLCI-0 information field (a frame may carry
 * several). A truncated or malformed one ends the list; `bad` counts it.
 */
export function decodeControl(info: Uint8Array): { messages: ControlMessage[]; bad: number } {
  const messages: ControlMessage[] = [];
  let i = 0;
  while (i < info.length) {
    const rawType = info[i++]!;
    // Multi-octet types (EA = 0) are not defined by 27.010 for the basic option: refuse.
    if ((rawType & 1) === 0) return { messages, bad: 1 };
    let len = 0;
    let shift = 0;
    for (;;) {
      if (i >= info.length || shift > 14) return { messages, bad: 1 };
      const b = info[i++]!;
      len |= (b >> 1) << shift;
      shift += 7;
      if (b & 1) break;
    }
    if (i + len > info.length) return { messages, bad: 1 };
    messages.push({ type: MSG_NAME.get(rawType & ~0x02) ?? null, rawType, command: (rawType & 0x02) !== 0, value: info.slice(i, i + len) });
    i += len;
  }
  return { messages, bad: 0 };
}

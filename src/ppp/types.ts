/**
 * Shared PPP types: the seam between framing (hdlc.ts, link.ts) and the
 * control protocols (fsm.ts, lcp.ts, ..., session.ts). The session works in
 * (protocol, information) pairs; framing turns them into bytes on the line.
 */

/** PPP protocol numbers (RFC 1700 / IANA "PPP DLL Protocol Numbers"). */
export const PROTO = {
  IPV4: 0x0021,
  IPV6: 0x0057,
  VJ_COMP: 0x002d,
  VJ_UNCOMP: 0x002f,
  IPCP: 0x8021,
  IPV6CP: 0x8057,
  CCP: 0x80fd,
  LCP: 0xc021,
  PAP: 0xc023,
  CHAP: 0xc223,
  LQR: 0xc025,
} as const;

/** One PPP frame after HDLC de-framing: protocol field and information field. */
export interface PppFrame {
  protocol: number;
  info: Uint8Array;
}

/**
 * How frames are put on the line in one direction, as negotiated by LCP.
 * RFC 1662 §7.1 / RFC 1661 §6.5–6.6: until LCP is Opened (and always for LCP
 * packets themselves) the defaults apply: ACCM 0xffffffff, no ACFC, no PFC.
 */
export interface Framing {
  /** Async-Control-Character-Map: bit n set => byte n (0..31) is escaped. */
  accm: number;
  /** Address-and-Control-Field-Compression in use. */
  acfc: boolean;
  /** Protocol-Field-Compression in use. */
  pfc: boolean;
  /** 32-bit FCS instead of 16-bit (RFC 1662 appendix C.3). */
  fcs32: boolean;
}

export const DEFAULT_FRAMING: Framing = { accm: 0xffffffff, acfc: false, pfc: false, fcs32: false };

/** Direction of a frame relative to this host (pcap PPP_WITH_DIR semantics). */
export type Direction = "in" | "out";

/**
 * pcap of CMUX frames, link type 236 (LINKTYPE_MUX27010, Wireshark's
 * "mux27010" dissector). Each record: one octet of extended-header size (0:
 * none), one direction octet (0 = application → module, i.e. sent by
 * cellkeep; 1 = module → application, as tshark shows them), then the
 * 27.010 frame with its flags.
 *
 * Payload: the information field of every DLCI but 0 is zeroed (same
 * length). The AT DLCIs carry AT+CPIN="<pin>" and the data DLCI the PPP
 * authentication; the mux diagnosis needs the headers, the control channel
 * and the lengths, not those. UIH frames stay valid: their FCS covers only
 * the header (27.010 §5.2.1.6).
 */
import { CaptureFile } from "../sys/capture-file.ts";

export const LINKTYPE_MUX27010 = 236;

export function muxPcapGlobalHeader(): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true);
  v.setUint32(20, LINKTYPE_MUX27010, true);
  return h;
}

/** The header length of a raw frame (flag, address, control, 1 or 2 length octets). */
function headerLength(raw: Uint8Array): number {
  return raw.length > 3 && (raw[3]! & 1) === 0 ? 5 : 4;
}

/** One record for a raw frame (flags included). */
export function muxPcapRecord(dir: "in" | "out", raw: Uint8Array, atMs: number): Uint8Array {
  const rec = new Uint8Array(16 + 2 + raw.length);
  const v = new DataView(rec.buffer);
  const ms = Math.max(0, Math.floor(atMs));
  v.setUint32(0, Math.floor(ms / 1000), true);
  v.setUint32(4, (ms % 1000) * 1000, true);
  v.setUint32(8, raw.length + 2, true);
  v.setUint32(12, raw.length + 2, true);
  rec[16] = 0;
  rec[17] = dir === "out" ? 0 : 1;
  rec.set(raw, 18);
  const dlci = raw.length > 1 ? raw[1]! >> 2 : 0;
  if (dlci !== 0 && raw.length > 6) {
    // Zero the information field: between the header and the FCS + closing flag.
    rec.fill(0, 18 + headerLength(raw), 18 + raw.length - 2);
  }
  return rec;
}

/** Appends records to a file (created 0600, never through a symlink); a write error closes it. */
export class MuxPcapFile {
  private readonly file: CaptureFile;
  records = 0;
  /** Opened with the same safety rules as ppp.pcap (src/sys/capture-file.ts). */
  constructor(readonly path: string) {
    this.file = new CaptureFile(path, muxPcapGlobalHeader(), "ppp.pcap");
  }
  get errors(): number {
    return this.file.errors;
  }
  record(dir: "in" | "out", raw: Uint8Array, atMs: number): void {
    if (!this.file.isOpen) return;
    this.file.append(muxPcapRecord(dir, raw, atMs));
    this.records++;
  }
  close(): void {
    this.file.close();
  }
}

/** Where the CMUX pcap goes next to ppp.pcap: "/var/log/ppp.pcap" → "/var/log/ppp.cmux.pcap". */
export function muxPcapPath(pppPcap: string): string {
  return /\.pcap$/i.test(pppPcap) ? pppPcap.replace(/\.pcap$/i, ".cmux.pcap") : `${pppPcap}.cmux.pcap`;
}

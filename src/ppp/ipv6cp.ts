/**
 * IPV6CP option set (RFC 5072) for the shared automaton: Interface-Identifier
 * negotiation; link-local addresses fe80::/64 + identifier (§5).
 * IPv6-Compression-Protocol is Rejected (we do no header compression).
 */
import type { OptionHandler, RequestVerdict } from "./fsm.ts";
import { LayerHandler, type LayerListener, RequestCheck } from "./option-handler.ts";
import { bytesEqual, type ConfigOption } from "./packet.ts";

export const IPV6CP_OPT = { INTERFACE_ID: 1, COMPRESSION: 2 } as const;

const ZERO8 = new Uint8Array(8);

export type Ipv6cpListener = LayerListener;

/** fe80::/64 link-local address text from an 8-byte interface identifier (RFC 5072 §5). */
export function linkLocalFromIid(iid: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((((iid[i] ?? 0) << 8) | (iid[i + 1] ?? 0)).toString(16));
  return `fe80::${groups.join(":")}`;
}

export class Ipv6cp extends LayerHandler<Ipv6cpListener> implements OptionHandler {
  private want: Uint8Array | null = null;
  private got: Uint8Array | null = null;
  private his: Uint8Array | null = null;

  constructor(
    /** Random bytes (injectable for tests). */
    private readonly random: (n: number) => Uint8Array,
    listener: Ipv6cpListener,
  ) {
    super(listener);
  }

  /** RFC 5072 §4.1: a non-zero identifier, different from the peer's. */
  private newIid(avoid: Uint8Array | null): Uint8Array {
    for (let i = 0; i < 8; i++) {
      const iid = this.random(8).slice(0, 8);
      if (iid.length === 8 && !bytesEqual(iid, ZERO8) && !(avoid && bytesEqual(iid, avoid))) return iid;
    }
    return Uint8Array.of(0x02, 0, 0, 0, 0, 0, 0, 0x01);
  }

  resetCi(): void {
    this.want = this.newIid(null);
    this.got = null;
  }

  buildRequest(): ConfigOption[] {
    return this.want ? [{ type: IPV6CP_OPT.INTERFACE_ID, data: this.want }] : [];
  }

  ackReceived(): void {
    this.got = this.want;
  }

  nakReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      if (o.type !== IPV6CP_OPT.INTERFACE_ID) continue;
      if (o.data.length !== 8) return false;
      // RFC 5072 §4.1: use the suggested identifier if acceptable (non-zero), else pick anew.
      this.want = bytesEqual(o.data, ZERO8) ? this.newIid(this.his) : o.data.slice();
    }
    return true;
  }

  rejectReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      if (o.type !== IPV6CP_OPT.INTERFACE_ID) return false;
      // The peer will not negotiate identifiers; keep our own choice locally.
      this.got = this.want;
      this.want = null;
    }
    return true;
  }

  checkRequest(opts: ConfigOption[], rejectIfDisagree: boolean): RequestVerdict {
    const check = new RequestCheck(rejectIfDisagree);
    let his: Uint8Array | null = null;
    for (const o of opts) {
      if (o.type !== IPV6CP_OPT.INTERFACE_ID || o.data.length !== 8) {
        check.reject(o);
        continue;
      }
      const ours = this.want ?? this.got;
      if (bytesEqual(o.data, ZERO8) || (ours && bytesEqual(o.data, ours))) {
        // §4.1: zero, or equal to ours: suggest a different, non-zero one.
        // Only Nak'd when needed: newIid draws random bytes.
        if (rejectIfDisagree) check.reject(o);
        else check.disagree(o, { type: o.type, data: this.newIid(ours) });
      } else {
        his = o.data.slice();
      }
    }
    return check.verdict(() => {
      this.his = his;
    });
  }

  result(): { local: string; remote: string } {
    const local = this.got ?? this.want ?? ZERO8;
    return { local: linkLocalFromIid(local), remote: this.his ? linkLocalFromIid(this.his) : "" };
  }
}

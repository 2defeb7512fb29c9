/**
 * IPCP option set (RFC 1332, DNS options RFC 1877) for the shared automaton.
 *
 * Client: ask for IP-Address 0.0.0.0 and DNS 0.0.0.0, take what the peer
 * Naks. Server: Nak the client to the configured address and DNS.
 * VJ compression (IP-Compression-Protocol) is politely Rejected (RFC 1332 §4:
 * rejecting it is always allowed).
 *
 * A peer that never states its own address is normal for cellular modems
 * (pppd logs "could not determine remote address"): we then use
 * PLACEHOLDER_REMOTE, as pppd does. A peer that asks for 0.0.0.0 for itself
 * (slirp does when its hostname resolves to loopback) is Nak'd with a non-zero
 * address: Acking 0.0.0.0 makes slirp terminate IPCP.
 */
import type { OptionHandler, RequestVerdict } from "./fsm.ts";
import { LayerHandler, type LayerListener, RequestCheck } from "./option-handler.ts";
import { bytesEqual, type ConfigOption } from "./packet.ts";
import { formatIpv4, parseIpv4 } from "../core/ipv4.ts";

export const IPCP_OPT = {
  IP_ADDRESSES: 1, // deprecated (RFC 1172)
  COMPRESSION: 2,
  IP_ADDRESS: 3,
  PRIMARY_DNS: 129,
  PRIMARY_NBNS: 130,
  SECONDARY_DNS: 131,
  SECONDARY_NBNS: 132,
} as const;

/** pppd's placeholder for a peer that does not state its address (10.64.64.64 + unit). */
export const PLACEHOLDER_REMOTE = "10.64.64.64";

const ZERO = new Uint8Array(4);

function isZero(b: Uint8Array | null): boolean {
  return b === null || bytesEqual(b, ZERO);
}

export interface IpcpConfig {
  role: "client" | "server";
  /** Client: ask for DNS servers (RFC 1877). */
  requestDns: boolean;
  /** Client: address to ask for (default 0.0.0.0 = "please assign"). */
  localAddress?: string;
  /** Remote address used when the peer states none; also what we Nak a 0.0.0.0 peer to. */
  placeholderRemote: string;
  /** Server: our own address. */
  serverLocal?: string;
  /** Server: the address assigned to the client. */
  serverPeer?: string;
  /** Server: DNS servers offered (primary, secondary). */
  serverDns?: string[];
}

export type IpcpListener = LayerListener;

export interface IpcpResult {
  local: string;
  remote: string;
  remotePlaceholder: boolean;
  dns: string[];
}

export class Ipcp extends LayerHandler<IpcpListener> implements OptionHandler {
  /** What we ask for: null = not asking. */
  private wantAddr: Uint8Array | null = null;
  private wantDns1: Uint8Array | null = null;
  private wantDns2: Uint8Array | null = null;
  private gotAddr: Uint8Array | null = null;
  private gotDns1: Uint8Array | null = null;
  private gotDns2: Uint8Array | null = null;
  private hisAddr: Uint8Array | null = null;
  private readonly placeholder: Uint8Array;

  constructor(
    private readonly cfg: IpcpConfig,
    listener: IpcpListener,
  ) {
    super(listener);
    this.placeholder = parseIpv4(cfg.placeholderRemote) ?? Uint8Array.of(10, 64, 64, 64);
  }

  resetCi(): void {
    if (this.cfg.role === "server") {
      this.wantAddr = parseIpv4(this.cfg.serverLocal ?? "") ?? null;
      this.wantDns1 = this.wantDns2 = null;
    } else {
      this.wantAddr = parseIpv4(this.cfg.localAddress ?? "0.0.0.0") ?? new Uint8Array(4);
      this.wantDns1 = this.cfg.requestDns ? new Uint8Array(4) : null;
      this.wantDns2 = this.cfg.requestDns ? new Uint8Array(4) : null;
    }
    this.gotAddr = this.gotDns1 = this.gotDns2 = null;
  }

  buildRequest(): ConfigOption[] {
    const o: ConfigOption[] = [];
    if (this.wantAddr) o.push({ type: IPCP_OPT.IP_ADDRESS, data: this.wantAddr });
    if (this.wantDns1) o.push({ type: IPCP_OPT.PRIMARY_DNS, data: this.wantDns1 });
    if (this.wantDns2) o.push({ type: IPCP_OPT.SECONDARY_DNS, data: this.wantDns2 });
    return o;
  }

  ackReceived(): void {
    this.gotAddr = this.wantAddr;
    this.gotDns1 = this.wantDns1;
    this.gotDns2 = this.wantDns2;
  }

  /** The peer answered our address request with 0.0.0.0 at least once in this session. */
  noAddressOffered = false;

  nakReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      if (o.data.length !== 4 && (o.type === IPCP_OPT.IP_ADDRESS || o.type === IPCP_OPT.PRIMARY_DNS || o.type === IPCP_OPT.SECONDARY_DNS)) {
        return false;
      }
      // RFC 1332 §3.3: the Nak carries the address the peer wants us to use.
      // A Nak back to 0.0.0.0 means the network has none to give (wrong APN,
      // no data plan): remembered so the failure is ipcp-no-address, not a timeout.
      if (o.type === IPCP_OPT.IP_ADDRESS && this.wantAddr) {
        if (o.data.every((b) => b === 0)) this.noAddressOffered = true;
        this.wantAddr = o.data.slice();
      }
      // A DNS Nak that repeats what we asked (typically 0.0.0.0: "I have none")
      // would loop forever; stop asking instead, the address matters more.
      else if (o.type === IPCP_OPT.PRIMARY_DNS && this.wantDns1) this.wantDns1 = bytesEqual(o.data, this.wantDns1) ? null : o.data.slice();
      else if (o.type === IPCP_OPT.SECONDARY_DNS && this.wantDns2) this.wantDns2 = bytesEqual(o.data, this.wantDns2) ? null : o.data.slice();
    }
    return true;
  }

  rejectReceived(opts: ConfigOption[]): boolean {
    for (const o of opts) {
      if (o.type === IPCP_OPT.IP_ADDRESS) this.wantAddr = null;
      else if (o.type === IPCP_OPT.PRIMARY_DNS) this.wantDns1 = null;
      else if (o.type === IPCP_OPT.SECONDARY_DNS) this.wantDns2 = null;
      else return false;
    }
    return true;
  }

  checkRequest(opts: ConfigOption[], rejectIfDisagree: boolean): RequestVerdict {
    const check = new RequestCheck(rejectIfDisagree);
    let his: Uint8Array | null = null;
    for (const o of opts) {
      switch (o.type) {
        case IPCP_OPT.IP_ADDRESS: {
          if (o.data.length !== 4) {
            check.reject(o);
            break;
          }
          if (this.cfg.role === "server") {
            const assign = parseIpv4(this.cfg.serverPeer ?? "");
            if (assign === null) his = o.data.slice(); // no pool: accept what the client says
            // RFC 1661 §5.4: a Reject (after Max-Failure) carries the peer's option unchanged.
            else if (!bytesEqual(o.data, assign)) check.disagree(o, { type: o.type, data: assign });
            else his = assign;
          } else if (isZero(o.data)) {
            // The peer asks us to give it an address (slirp): any non-zero will do.
            check.disagree(o, { type: o.type, data: this.placeholder });
          } else {
            his = o.data.slice();
          }
          break;
        }
        case IPCP_OPT.PRIMARY_DNS:
        case IPCP_OPT.SECONDARY_DNS: {
          const offered = this.serverDns(o.type === IPCP_OPT.PRIMARY_DNS ? 0 : 1);
          if (this.cfg.role !== "server" || offered === null || o.data.length !== 4) check.reject(o);
          else if (!bytesEqual(o.data, offered)) check.disagree(o, { type: o.type, data: offered });
          break;
        }
        default:
          // VJ (2), deprecated IP-Addresses (1), NBNS (130/132), unknown: Reject.
          check.reject(o);
      }
    }
    return check.verdict(() => {
      this.hisAddr = his;
    });
  }

  private serverDns(i: number): Uint8Array | null {
    const s = this.cfg.serverDns?.[i];
    return s === undefined ? null : parseIpv4(s);
  }

  /** Negotiated addresses (valid once Opened). Local 0.0.0.0 means "no address" (ipcp-no-address). */
  result(): IpcpResult {
    const dns: string[] = [];
    if (this.cfg.role === "server") {
      for (const d of this.cfg.serverDns ?? []) dns.push(d);
    } else {
      for (const d of [this.gotDns1, this.gotDns2]) if (d && !isZero(d)) dns.push(formatIpv4(d));
    }
    return {
      local: formatIpv4(this.gotAddr ?? ZERO),
      remote: formatIpv4(isZero(this.hisAddr) ? this.placeholder : (this.hisAddr as Uint8Array)),
      remotePlaceholder: isZero(this.hisAddr),
      dns,
    };
  }
}

/**
 * What runs behind CONNECT. The modem core hands every data-mode byte to a
 * DataSession and puts whatever it produces on the line. The PPP server
 * (ppp-server.ts) is the real one; tests may plug in their own.
 * Like every core: no I/O, no clock; `now` in, next deadline out.
 */
import type { SimEvent } from "./events.ts";

export interface DataSession {
  input(data: Uint8Array, now: number): void;
  poll(now: number): void;
  /** Bytes for the DTE produced since the last call (in order). */
  takeOutput(): Uint8Array[];
  takeEvents(): SimEvent[];
  nextDeadline(): number | null;
  /** The network side ended the call (PPP terminated): the modem drops to command mode with NO CARRIER. */
  readonly ended: boolean;
  /** IPCP is open (dead-peer counts from here). */
  readonly ipUp: boolean;
  /** The call is gone (ATH, DTR drop, drop-after, reboot): stop, produce nothing more. */
  hangUp(now: number): void;
  /** dead-peer: ignore everything from the DTE and send nothing, while the line stays up. */
  setDead(dead: boolean): void;
}

export interface DataSessionContext {
  now: number;
  /** Packet-service attached when the call was placed (dial-before-attach when false). */
  attached: boolean;
  cid: number;
  apn: string;
  /** PDP type of the dialled context (AT+CGDCONT): "IP", "IPV6", "IPV4V6"... Default "IP". */
  pdpType?: string;
}

export type DataSessionFactory = (ctx: DataSessionContext) => DataSession;

/**
 * The narrow seam that carries IP packets: a data bearer (src/bearer/, e.g.
 * PPP) offers it, the data plane (the packet pump, the in-link pinger) uses
 * it. In core because both sides name it and neither may import the other.
 * The in-memory twin for tests is `createIpLinkPair()` in src/net/ip-link.ts.
 */
export type IpVersion = 4 | 6;

export interface IpLink {
  /** Send one IP datagram on the link (PPP protocol 0x0021 for v4, 0x0057 for v6). false = not sent (link not open, or its queue is full). */
  sendIp(version: IpVersion, packet: Uint8Array): boolean;
  /** Subscribe to IP datagrams received from the link; returns an unsubscribe function. */
  onIp(cb: (version: IpVersion, packet: Uint8Array) => void): () => void;
}

/**
 * Optional extras a link may offer so a producer that can wait (the packet
 * pump) paces itself by the line under the link instead of buffering without
 * bound.
 */
export interface PacedIpLink extends IpLink {
  /** Bytes accepted by sendIp but not yet on the wire. */
  backlogBytes?(): number;
  /** Called when that backlog empties; lets the pump resume without waiting for its poll timer. */
  onDrain?(fn: () => void): () => void;
}

/**
 * The in-memory twin of a bearer's IP link (the IpLink seam is in
 * src/core/ip-link.ts): tests use `createIpLinkPair()` (two connected ends)
 * so the pump and the pinger run without a serial line.
 */
import type { IpLink, IpVersion } from "../core/ip-link.ts";

/** One end of an in-memory link; `open` can be toggled to simulate a link that is down. */
export class MemoryIpLink implements IpLink {
  peer: MemoryIpLink | null = null;
  open = true;
  /** Datagrams this end sent, for assertions. */
  readonly sent: Array<{ version: IpVersion; packet: Uint8Array }> = [];
  private listeners = new Set<(version: IpVersion, packet: Uint8Array) => void>();

  sendIp(version: IpVersion, packet: Uint8Array): boolean {
    if (!this.open) return false;
    const copy = packet.slice();
    this.sent.push({ version, packet: copy });
    const peer = this.peer;
    if (peer) queueMicrotask(() => peer.receive(version, copy));
    return true;
  }

  onIp(cb: (version: IpVersion, packet: Uint8Array) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Deliver a datagram as if it had arrived from the link. */
  receive(version: IpVersion, packet: Uint8Array): void {
    for (const cb of this.listeners) cb(version, packet);
  }

  listenerCount(): number {
    return this.listeners.size;
  }
}

/** Two connected in-memory link ends. */
export function createIpLinkPair(): [MemoryIpLink, MemoryIpLink] {
  const a = new MemoryIpLink();
  const b = new MemoryIpLink();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

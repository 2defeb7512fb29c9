/** Dotted-quad IPv4 text ↔ 4 bytes: one codec for PPP (IPCP), the data plane and the virtual modem. */

/** "10.0.2.15" → 4 bytes, or null if not a dotted quad. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** 4 bytes at `off` → "10.0.2.15". */
export function formatIpv4(bytes: Uint8Array, off = 0): string {
  return `${bytes[off] ?? 0}.${bytes[off + 1] ?? 0}.${bytes[off + 2] ?? 0}.${bytes[off + 3] ?? 0}`;
}

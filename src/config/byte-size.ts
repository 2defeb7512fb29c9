/**
 * Data amounts in the config ("500MB", "1.5GB", "100MiB" or a plain number of
 * bytes). kB/MB/GB/TB are decimal, as mobile carriers bill them; KiB/MiB/GiB/TiB
 * are binary for those who count that way.
 */
const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)?$/;

/** Whole bytes, or null when the text is not a data amount. */
export function parseByteSize(text: string): number | null {
  const m = SIZE.exec(text.trim());
  if (!m) return null;
  const unit = m[2] === undefined ? 1 : UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const n = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : null;
}

/** For messages and the status page: 1500000000 → "1.5 GB" (decimal, as the carriers bill). */
export function formatByteSize(n: number): string {
  const steps: [number, string][] = [[1e12, "TB"], [1e9, "GB"], [1e6, "MB"], [1e3, "kB"]];
  for (const [size, unit] of steps) if (n >= size) return `${Number((n / size).toFixed(2))} ${unit}`;
  return `${n} B`;
}

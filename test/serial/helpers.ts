/** Shared helpers for serial tests (not a test file). */
import type { BytePipe } from "../../src/core/pipe.ts";
import { seededRandom } from "../support/random.ts";

/** Wait (really) until `cond` holds; these waits are for I/O, never for timeouts under test. */
export async function waitFor(cond: () => boolean, what = "condition", limitMs = 5000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

/** Accumulate everything a pipe delivers. */
export function collect(pipe: BytePipe) {
  const chunks: Uint8Array[] = [];
  let total = 0;
  pipe.onData((d) => {
    chunks.push(d.slice());
    total += d.byteLength;
  });
  return {
    length: () => total,
    chunks: () => chunks.length,
    bytes(): Uint8Array {
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.byteLength;
      }
      return out;
    },
    text(): string {
      return new TextDecoder().decode(this.bytes());
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift), so content checks catch reordering. */
export function patternBytes(n: number, seed = 12345): Uint8Array {
  return seededRandom(seed)(n);
}

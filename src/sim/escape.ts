/**
 * The "+++" escape from data mode (ITU-T V.250 §6.2.x, S2 = '+', S12 guard
 * time): at least one guard time of silence, exactly three escape
 * characters, then another guard time of silence. Anything else is data.
 *
 * The detector holds the '+' bytes back from the data stream until it knows
 * what they were; `input` returns the bytes that are data. Pure: time in,
 * decisions out.
 */
const PLUS = 0x2b;

export class EscapeDetector {
  private lastRxAt = Number.NEGATIVE_INFINITY;
  private plusCount = 0;
  private completeAt: number | null = null;

  constructor(private readonly guardMs: number) {}

  /** Start of a call (or return to data mode): the line counts as busy from `now`. */
  reset(now: number): void {
    this.lastRxAt = now;
    this.plusCount = 0;
    this.completeAt = null;
  }

  /** Bytes from the DTE in data mode; returns what must go on to the data session, in order. */
  input(data: Uint8Array, now: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      const quietBefore = i === 0 && now - this.lastRxAt >= this.guardMs;
      if (b === PLUS && this.plusCount < 3 && (this.plusCount > 0 || quietBefore)) {
        if (i > start) out.push(data.subarray(start, i));
        this.plusCount++;
        start = i + 1;
        continue;
      }
      if (this.plusCount > 0) {
        // Not an escape after all: the held '+' were data.
        out.push(new Uint8Array(this.plusCount).fill(PLUS));
        this.plusCount = 0;
        this.completeAt = null;
        start = i;
      }
    }
    if (start < data.length) out.push(data.subarray(start));
    this.completeAt = this.plusCount === 3 ? now + this.guardMs : null;
    this.lastRxAt = now;
    return out;
  }

  /** When the escape completes if the line stays quiet, or null. */
  get deadline(): number | null {
    return this.completeAt;
  }

  /** True once: the guard time after "+++" has passed in silence. */
  poll(now: number): boolean {
    if (this.completeAt === null || now < this.completeAt) return false;
    this.plusCount = 0;
    this.completeAt = null;
    return true;
  }
}

/**
 * What the DTE types while nobody listens (the module hung, booting or off):
 * the AT command lines in it, for sim.unheard events, so a test can count
 * e.g. the resets an agent sent into silence. PPP bytes and line noise are
 * not command lines. Pure: bytes in, masked lines out.
 */
import { MAX_LINE, maskSecrets } from "./at-syntax.ts";

const CR = 0x0d;

export class UnheardLines {
  private line: number[] = [];

  /** The module listens again (boot finished) or starts afresh (boot started). */
  reset(): void {
    this.line = [];
  }

  /** Bytes nobody hears; returns the command lines they complete, secrets masked. */
  input(data: Uint8Array): string[] {
    const lines: string[] = [];
    for (const b of data) {
      if (b !== CR) {
        if (this.line.length < MAX_LINE) this.line.push(b);
        continue;
      }
      const text = String.fromCharCode(...this.line).trim();
      this.line = [];
      // The printable run at the end of the line, from its first "AT" (PPP bytes before it are not a command).
      const run = /[\x20-\x7e]*$/.exec(text)?.[0] ?? "";
      const at = run.search(/at/i);
      if (at >= 0) lines.push(maskSecrets(run.slice(at)));
    }
    return lines;
  }
}

/**
 * Line noise for the "garbage" scenario: a burst of random bytes or a storm of
 * unsolicited result codes, as seen on real modem ports (boot noise, URCs the
 * host never asked for). Pure: a seeded random source in, bytes out.
 */
import { CELL_SIGNAL, rssiIndex } from "./quectel-text.ts";

const CR = 0x0d;
const LF = 0x0a;
const PUNCT = "#$%&*~^|";

/** 32-bit PRNG (mulberry32) so a scenario seed reproduces the same noise. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GarbageBurst {
  kind: "bytes" | "urc-storm";
  data: Uint8Array;
}

/**
 * One burst. Random bytes are high bytes and punctuation framed by CR LF, so
 * they can never spell OK/ERROR/CONNECT/NO CARRIER; URCs state true facts
 * (the current registration `stat`) so the host cannot be misled, only
 * distracted.
 */
export function garbageBurst(random: () => number, stat: number): GarbageBurst {
  if (random() < 0.5) {
    const n = 4 + Math.floor(random() * 28);
    const bytes: number[] = [CR, LF];
    for (let i = 0; i < n; i++) {
      bytes.push(random() < 0.7 ? 0x80 + Math.floor(random() * 0x7f) : PUNCT.charCodeAt(Math.floor(random() * PUNCT.length)));
    }
    bytes.push(CR, LF);
    return { kind: "bytes", data: Uint8Array.from(bytes) };
  }
  const urcs = [`+QIND: "csq",${rssiIndex(CELL_SIGNAL.rssiDbm)},99`, `+CEREG: ${stat}`, '+QIND: "act","eMTC"', '+QIND: "FOTA","HTTPSTART"'];
  const count = 5 + Math.floor(random() * 10);
  let text = "";
  for (let i = 0; i < count; i++) text += `\r\n${urcs[Math.floor(random() * urcs.length)]}\r\n`;
  return { kind: "urc-storm", data: new TextEncoder().encode(text) };
}

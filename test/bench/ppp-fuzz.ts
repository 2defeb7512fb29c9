/**
 * Long PPP fuzz run: `bun test/bench/ppp-fuzz.ts [frames] [seed]`
 * (default 10,000,000 frames, random seed). Prints the report; exits 1 if a
 * session became inconsistent or caught an internal error.
 */
import { runFuzz } from "../support/ppp-fuzz.ts";

const frames = Number(process.argv[2] ?? 10_000_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 0xffffffff));
console.log(`PPP fuzz: ${frames.toLocaleString()} frames, seed ${seed}`);
const t0 = performance.now();
const r = runFuzz({ seed, frames });
const s = (performance.now() - t0) / 1000;
console.log(`${r.frames.toLocaleString()} frames (${r.wireFrames.toLocaleString()} through the de-framer) in ${s.toFixed(1)} s: ${Math.round(r.frames / s).toLocaleString()} frames/s`);
console.log("decoder:", r.decoder);
console.log(`sessions: frames out ${r.framesOut}, discarded ${r.discarded}, Protocol-Rejects sent ${r.protocolRejectsSent}, reopened ${r.reopens}`);
console.log(`phases seen: ${[...r.phasesSeen].join(", ")}; LCP states seen: ${[...r.lcpStatesSeen].join(", ")}`);
if (r.internalErrors.length) console.log("INTERNAL ERRORS:", r.internalErrors);
if (r.inconsistencies.length) console.log("INCONSISTENCIES:", r.inconsistencies);
process.exit(r.internalErrors.length || r.inconsistencies.length ? 1 : 0);

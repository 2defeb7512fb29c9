/**
 * Fuzz with a fixed seed: 1,000,000 random and mutated frames into
 * HdlcDecoder + PppSession (client and server roles, PAP/CHAP/auto). No
 * exception may escape, counters must move, every session must stay in a
 * consistent state throughout. Longer runs: `bun test/bench/ppp-fuzz.ts`.
 */
import { describe, expect, test } from "bun:test";
import { runFuzz, seedFrames } from "../support/ppp-fuzz.ts";

describe("PPP fuzz (seed 0xc311, 1,000,000 frames)", () => {
  test("seed corpus covers a full negotiation in both roles", () => {
    const protos = new Set(seedFrames().map((f) => f.protocol));
    for (const p of [0xc021, 0xc023, 0xc223, 0x8021, 0x8057, 0x0021]) expect(protos.has(p)).toBe(true);
  });

  test(
    "no exception escapes, counters move, sessions stay consistent",
    () => {
      let report: ReturnType<typeof runFuzz> | undefined;
      expect(() => {
        report = runFuzz({ seed: 0xc311, frames: 1_000_000 });
      }).not.toThrow();
      const r = report!;
      expect(r.frames).toBe(1_000_000);
      expect(r.wireFrames).toBeGreaterThan(50_000);
      expect(r.inconsistencies).toEqual([]);
      expect(r.internalErrors).toEqual([]);
      // The de-framer saw good and bad frames of every kind.
      expect(r.decoder.frames).toBeGreaterThan(10_000);
      expect(r.decoder.badFcs).toBeGreaterThan(1_000);
      expect(r.decoder.aborted).toBeGreaterThan(100);
      // The AT channel left data mode for every NO CARRIER after a frame and for nothing else
      // (mutated frames, injected flags, noise, RING).
      expect(r.noCarrierTexts).toBeGreaterThan(100);
      expect(r.dataModeEnds).toBe(r.noCarrierTexts);
      expect(r.decoder.discardedBytes).toBeGreaterThan(10_000);
      // The sessions answered, rejected and discarded; they moved through states.
      expect(r.framesOut).toBeGreaterThan(10_000);
      expect(r.protocolRejectsSent).toBeGreaterThan(100);
      expect(r.discarded).toBeGreaterThan(1_000);
      expect(r.lcpStatesSeen.size).toBeGreaterThan(2);
    },
    60_000,
  );
});

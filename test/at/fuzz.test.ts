/**
 * Fuzz with a fixed seed: 1,000,000 random and mutated modem lines through
 * the AT line parsers (src/at/lines.ts) and, as one byte stream with
 * commands in flight, through an AtChannelCore (see test/support/at-fuzz.ts
 * for the line mutations and the invariants). No exception may escape, every
 * submitted command gets exactly one response, and the run is bounded by
 * construction: a fixed number of lines of bounded length on a fake clock.
 */
import { describe, expect, test } from "bun:test";
import { AtChannelCore } from "../../src/at/core.ts";
import { COMMANDS, REAL_LINES, runAtFuzz } from "../support/at-fuzz.ts";

const SEED = 0xa7_11e5;
const LINES = 1_000_000;

describe(`AT line fuzz (seed ${SEED.toString(16)}, ${LINES.toLocaleString("en")} lines)`, () => {
  test("the seed corpus is what the channel knows: finals, URCs, information text, echoes", () => {
    const urcs: string[] = [];
    const answers: string[] = [];
    const core = new AtChannelCore({
      write: () => {},
      response: (_id, r) => answers.push(r.status),
      urc: (u) => urcs.push(u.name ?? "?"),
      data: () => {},
      dataStarted: () => {},
      dataEnded: () => {},
    });
    core.receive(new TextEncoder().encode(REAL_LINES.filter((l) => !l.startsWith("CONNECT")).map((l) => `\r\n${l}\r\n`).join("")), 0);
    expect(urcs).toContain("+CEREG");
    expect(urcs).toContain("RDY");
    expect(urcs).toContain("NO CARRIER");
    expect(urcs).toContain("+CME ERROR");
    expect(answers).toEqual([]);
    expect(COMMANDS).toContain("ATD*99#");
  });

  test(
    "no exception escapes, every command is answered exactly once, in order, within its limit",
    () => {
      const r = runAtFuzz({ seed: SEED, lines: LINES });
      expect(r.errors).toEqual([]);
      expect(r.violations).toEqual([]);
      expect(r.violationCount).toBe(0);
      expect(r.lines).toBe(LINES);
      // Every kind of line was made, and the parsers saw every shape.
      for (const k of ["real", "mutated", "printable", "random"] as const) expect(r.kinds[k]).toBeGreaterThan(50_000);
      expect(r.parser.finals).toBeGreaterThan(100_000);
      expect(r.parser.urcs).toBeGreaterThan(100_000);
      expect(r.parser.prefixes).toBeGreaterThan(100_000);
      expect(r.parser.commandPrefixes).toBeGreaterThan(10_000);
      expect(r.parser.overlong).toBeGreaterThan(1_000);
      // The channel answered with every status, and got in and out of data mode all three ways.
      expect(r.core.submitted).toBeGreaterThan(50_000);
      expect(r.core.responses).toBe(r.core.submitted);
      expect(r.core.writes).toBeLessThanOrEqual(r.core.submitted);
      for (const s of ["ok", "error", "cme-error", "cms-error", "no-carrier", "busy", "no-answer", "no-dialtone", "connect", "timeout", "aborted"])
        expect(r.core.byStatus[s] ?? 0).toBeGreaterThan(0);
      expect(r.core.maxOutstanding).toBe(3);
      expect(r.core.cleanOkChecks).toBeGreaterThan(1_000);
      expect(r.core.dataStarts).toBeGreaterThan(1_000);
      expect(r.core.dataEnds["no-carrier"] + r.core.dataEnds.rebooted + r.core.dataEnds.resumed).toBe(r.core.dataStarts);
      for (const why of ["no-carrier", "rebooted", "resumed"] as const) expect(r.core.dataEnds[why]).toBeGreaterThan(100);
      expect(r.core.namedUrcs).toBeGreaterThan(10_000);
    },
    120_000,
  );
});

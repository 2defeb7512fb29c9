import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import { formatByteSize, parseByteSize } from "../../src/config/byte-size.ts";

const base = '[network]\napn = "internet"\n';

describe("[usage] config", () => {
  test("defaults: cycle day 1, host zone, usage.json beside the ladder's state, 5 min saves, no caps, quiet liveness off", () => {
    const r = loadConfigText(base);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.usage).toEqual({ cycle_day: 1, save_every: 300_000, quiet_liveness: false });
  });

  test("amounts in decimal and binary units or bytes", () => {
    const r = loadConfigText(`${base}[usage]\ncycle_day = 31\ntimezone = "Europe/Berlin"\nwarn_at = "1.5GB"\nquiet_at = "1600MiB"\nstop_at = 2000000000\nsave_every = "30s"\nquiet_liveness = true\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.usage).toMatchObject({ cycle_day: 31, timezone: "Europe/Berlin", warn_at: 1_500_000_000, quiet_at: 1600 * 2 ** 20, stop_at: 2_000_000_000, save_every: 30_000, quiet_liveness: true });
    expect([parseByteSize("10 kB"), parseByteSize("1KiB"), parseByteSize("7"), parseByteSize("1 gigabyte"), parseByteSize("-5MB")]).toEqual([10_000, 1024, 7, null, null]);
    expect(formatByteSize(1_234_567_890)).toBe("1.23 GB");
  });

  test("every mistake is named by key and line", () => {
    const text = `${base}[usage]\ncycle_day = 32\ntimezone = "Mars/Olympus"\nwarn_at = "2GB"\nstop_at = "1GB"\nquiet_at = "lots"\nsave_every = "1s"\ncap = 5\n`;
    const r = loadConfigText(text, "c.toml");
    if (r.ok) throw new Error("accepted a bad [usage]");
    expect(r.issues.map((i) => [i.line, i.path])).toEqual([
      [4, "usage.cycle_day"],
      [5, "usage.timezone"],
      [6, "usage.warn_at"],
      [8, "usage.quiet_at"],
      [9, "usage.save_every"],
      [10, "usage.cap"],
    ]);
    const msg = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
    expect(msg["usage.cycle_day"]).toBe("expected an integer from 1 to 31");
    expect(msg["usage.timezone"]).toContain("IANA time zone");
    expect(msg["usage.warn_at"]).toContain("below usage.stop_at");
    expect(msg["usage.quiet_at"]).toContain('got "lots"');
    expect(msg["usage.save_every"]).toContain("at least 10000 ms");
    expect(msg["usage.cap"]).toContain("unknown key in [usage]");
  });
});

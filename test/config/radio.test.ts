/** [radio], [sim] and network.apns: accepted forms, and errors by key and line. */
import { describe, expect, test } from "bun:test";
import { formatIssue, loadConfigText, renderEffectiveConfig } from "../../src/config/load.ts";

const MIN = `[network]\napn = "internet"\n`;

const BAD: { name: string; toml: string; path: string; line: number; message: string }[] = [
  { name: "unknown technology", toml: `${MIN}[radio]\ntechnologies = ["lte-m", "5g"]\n`, path: "radio.technologies.1", line: 4, message: 'expected one of: "lte-m", "nb-iot", "gsm", "lte", "umts"' },
  { name: "technology twice", toml: `${MIN}[radio]\ntechnologies = ["gsm", "gsm"]\n`, path: "radio.technologies", line: 4, message: "expected each technology once" },
  { name: "empty technologies", toml: `${MIN}[radio]\ntechnologies = []\n`, path: "radio.technologies", line: 4, message: "expected at least one technology" },
  { name: "band out of range", toml: `${MIN}[radio]\nbands = [3, 0]\n`, path: "radio.bands.1", line: 4, message: "expected an integer from 1 to 128" },
  { name: "band not a number", toml: `${MIN}[radio]\n\nbands = "20"\n`, path: "radio.bands", line: 5, message: "expected a list of LTE band numbers" },
  { name: "roaming", toml: `${MIN}[radio]\nroaming = "never"\n`, path: "radio.roaming", line: 4, message: 'expected one of: "allow", "deny"' },
  { name: "operator", toml: `${MIN}[radio]\noperator = "Telekom"\n`, path: "radio.operator", line: 4, message: 'expected "auto" or an MCC+MNC' },
  { name: "unknown radio key", toml: `${MIN}[radio]\nband = [20]\n`, path: "radio.band", line: 4, message: 'did you mean "bands"?' },
  { name: "failover_after too short", toml: `${MIN}[sim]\nfailover_after = "30s"\n`, path: "sim.failover_after", line: 4, message: "at least 60000 ms" },
  { name: "failover_after not a duration", toml: `${MIN}[sim]\nfailover_after = 10\n`, path: "sim.failover_after", line: 4, message: "expected a duration" },
  { name: "apn and apns", toml: `[network]\napn = "a"\napns = ["b"]\n`, path: "network.apns", line: 3, message: "set either network.apn or network.apns, not both" },
  { name: "neither apn nor apns", toml: `[network]\ncid = 1\n`, path: "network.apn", line: 1, message: "expected a non-empty string" },
  { name: "empty apns", toml: `[network]\napns = []\n`, path: "network.apns", line: 2, message: "expected at least one APN" },
  { name: "blank apn in apns", toml: `[network]\napns = ["x", " "]\n`, path: "network.apns.1", line: 2, message: "expected a non-empty string" },
];

describe("radio, sim and APN list config", () => {
  for (const c of BAD) {
    test(`error: ${c.name}`, () => {
      const r = loadConfigText(c.toml);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const hit = r.issues.find((i) => i.path === c.path);
      expect(hit, `issues were: ${JSON.stringify(r.issues)}`).toBeDefined();
      expect(hit!.line).toBe(c.line);
      expect(hit!.message).toContain(c.message);
      expect(formatIssue("cellkeep.toml", hit!)).toBe(`cellkeep.toml:${c.line}: ${c.path}: ${hit!.message}`);
    });
  }

  test("defaults: nothing set, nothing touched", () => {
    const r = loadConfigText(MIN);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.radio).toEqual({});
    expect(r.config.sim).toEqual({});
    expect(r.config.network.apns).toEqual(["internet"]);
  });

  test("a full policy, an APN list (network.apn is its first), failover in ms", () => {
    const r = loadConfigText(
      `[network]\napns = ["iot.first", "internet"]\n[radio]\ntechnologies = ["lte-m", "nb-iot", "gsm"]\nbands = [3, 8, 20]\nroaming = "deny"\noperator = "26201"\n[sim]\nfailover_after = "15m"\n`,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.radio).toEqual({ technologies: ["lte-m", "nb-iot", "gsm"], bands: [3, 8, 20], roaming: "deny", operator: "26201" });
    expect(r.config.network.apn).toBe("iot.first");
    expect(r.config.network.apns).toEqual(["iot.first", "internet"]);
    expect(r.config.sim.failover_after).toBe(15 * 60_000);
  });

  test("the effective config prints one APN form and loads again", () => {
    for (const net of [`apn = "internet"`, `apns = ["a", "b"]`]) {
      const r = loadConfigText(`[network]\n${net}\n[radio]\nroaming = "deny"\n[sim]\nfailover_after = "10m"\n`);
      if (!r.ok) throw new Error(JSON.stringify(r.issues));
      const text = renderEffectiveConfig(r.config);
      expect(text).toContain('failover_after = "10m"');
      const again = loadConfigText(text);
      if (!again.ok) throw new Error(JSON.stringify(again.issues));
      expect(again.config.network.apns).toEqual(r.config.network.apns);
      expect(again.config.radio).toEqual(r.config.radio);
    }
  });
});

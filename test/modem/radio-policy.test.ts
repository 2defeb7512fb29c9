/**
 * radio.* → each modem family's commands (src/modem/radio-policy.ts): pure
 * mapping, parsing of the modems' answers, and the roaming rule.
 */
import { describe, expect, test } from "bun:test";
import { PROFILES } from "../../src/modem/profiles.ts";
import { bandMask, planRadio, readOperatorSetting, registrationAllowed, type RadioPolicy } from "../../src/modem/radio-policy.ts";
import { testConfig } from "./harness.ts";

function policy(toml: string): RadioPolicy {
  return testConfig(`[radio]\n${toml}\n`).radio;
}

/** The write command of every setting, given the answer lines a modem would give to its query. */
function writes(p: RadioPolicy, profile: keyof typeof PROFILES, answers: Record<string, string[]> = {}): string[] {
  const prof = PROFILES[profile];
  return planRadio(p, prof.radio, prof.name).settings.map((s) => s.write(answers[s.name] ?? []) ?? `(no write for ${s.name})`);
}

const ALL = `technologies = ["lte-m", "nb-iot", "gsm"]\nbands = [3, 8, 20]\nroaming = "deny"\noperator = "26201"`;

describe("radio policy mapping per profile", () => {
  test("LTE band numbers become Quectel's mask: bit n-1 for band n", () => {
    expect(bandMask([3, 8, 20])).toBe("80084");
    expect(bandMask([1])).toBe("1");
    expect(bandMask([66])).toBe((1n << 65n).toString(16));
  });

  test("BG96 (LTE-M, NB-IoT and GSM): scan order, scan mode, IoT mode, bands with GSM kept as read, roaming, operator", () => {
    const band = ['+QCFG: "band",0xf,0x400a0e189f,0xa0e189f'];
    expect(writes(policy(ALL), "quectel-bg96", { band })).toEqual([
      'AT+QCFG="nwscanseq",020301,1',
      'AT+QCFG="nwscanmode",0,1',
      'AT+QCFG="iotopmode",2,1',
      'AT+QCFG="band",f,80084,80084,1',
      'AT+QCFG="roamservice",1,1',
      'AT+COPS=1,2,"26201"',
    ]);
  });

  test("BG77 has no GSM: gsm is left out with a note, no nwscanmode", () => {
    const prof = PROFILES["quectel-bg77"];
    const plan = planRadio(policy(`technologies = ["nb-iot", "gsm", "lte-m"]`), prof.radio, prof.name);
    expect(plan.settings.map((s) => s.write([]))).toEqual(['AT+QCFG="nwscanseq",0302,1', 'AT+QCFG="iotopmode",2,1']);
    expect(plan.notes).toEqual(["technologies: Quectel BG77 has no gsm; left out"]);
  });

  test("one LPWA technology: iotopmode names it; GSM only on a BG95 is nwscanmode 1 and no iotopmode", () => {
    expect(writes(policy(`technologies = ["nb-iot"]`), "quectel-bg95")).toEqual(['AT+QCFG="nwscanseq",03,1', 'AT+QCFG="nwscanmode",3,1', 'AT+QCFG="iotopmode",1,1']);
    expect(writes(policy(`technologies = ["gsm"]`), "quectel-bg95")).toEqual(['AT+QCFG="nwscanseq",01,1', 'AT+QCFG="nwscanmode",1,1']);
  });

  test("EC25 (LTE, UMTS, GSM): its own scan codes; the band write keeps GW and TD-SCDMA masks", () => {
    const band = ['+QCFG: "band",0x93,0x1a0080800c5,0x0'];
    expect(writes(policy(`technologies = ["lte", "umts"]\nbands = [3, 20]\nroaming = "allow"`), "quectel-ec25", { band })).toEqual([
      'AT+QCFG="nwscanseq",0403,1',
      'AT+QCFG="nwscanmode",0,1',
      'AT+QCFG="band",93,80004,0,1',
      'AT+QCFG="roamservice",2,1',
    ]);
  });

  test("a list with nothing this module has is an impossible setting (refused), not silently ignored", () => {
    const prof = PROFILES["quectel-bg77"];
    const plan = planRadio(policy(`technologies = ["gsm", "umts"]`), prof.radio, prof.name);
    expect(plan.settings).toHaveLength(1);
    expect(plan.settings[0]!.holds("02")).toBe(false);
    expect(plan.settings[0]!.write([])).toBeNull();
  });

  test("generic 3GPP modem: only the operator (AT+COPS); the rest is named as left alone", () => {
    const prof = PROFILES.generic;
    const plan = planRadio(policy(ALL), prof.radio, prof.name);
    expect(plan.settings.map((s) => s.write([]))).toEqual(['AT+COPS=1,2,"26201"']);
    expect(plan.notes).toHaveLength(3);
    expect(writes(policy(`operator = "auto"`), "generic")).toEqual(["AT+COPS=0"]);
  });

  test("keys left unset are neither read nor written", () => {
    const prof = PROFILES["quectel-bg96"];
    expect(planRadio(policy(""), prof.radio, prof.name)).toEqual({ settings: [], notes: [] });
  });

  test("answers are compared in normal form: prefixes, case, leading zeros", () => {
    const prof = PROFILES["quectel-bg96"];
    const [seq, , , band, roam] = planRadio(policy(ALL), prof.radio, prof.name).settings;
    expect(seq!.read(['+QCFG: "nwscanseq",20301'])).toBe("020301");
    expect(seq!.holds("020301")).toBe(true);
    expect(seq!.holds("030201")).toBe(false);
    expect(band!.read(['+QCFG: "band",0xF,0X80084,80084'])).toBe("catm1=80084,nb=80084");
    expect(band!.holds(band!.read(['+QCFG: "band",0xf,0x80084,0x80084'])!)).toBe(true);
    expect(band!.holds(band!.read(['+QCFG: "band",0xf,0x80084,0x80085'])!)).toBe(false);
    expect(roam!.read(['+QCFG: "roamservice",255'])).toBe("255");
    expect(roam!.read(["garbage"])).toBeNull();
  });

  test("AT+COPS? in normal form", () => {
    expect(readOperatorSetting(['+COPS: 0,0,"Telekom.de",8'])).toBe("auto");
    expect(readOperatorSetting(["+COPS: 0"])).toBe("auto");
    expect(readOperatorSetting(['+COPS: 1,2,"26201",8'])).toBe("26201");
    expect(readOperatorSetting(['+COPS: 1,0,"Telekom.de",8'])).toBe("manual");
    expect(readOperatorSetting(["+COPS: 2"])).toBe("mode-2");
    expect(readOperatorSetting(["OK"])).toBeNull();
  });

  test("roaming = deny makes stat 5 unusable; home is always usable", () => {
    expect(registrationAllowed(5, policy(`roaming = "deny"`))).toBe(false);
    expect(registrationAllowed(5, policy(`roaming = "allow"`))).toBe(true);
    expect(registrationAllowed(5, policy(""))).toBe(true);
    expect(registrationAllowed(1, policy(`roaming = "deny"`))).toBe(true);
    expect(registrationAllowed(2, policy(""))).toBe(false);
  });
});

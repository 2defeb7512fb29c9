/** [time] and [sms]: `check` errors by key and line; the secret from a file, masked everywhere. */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText, renderEffectiveConfig } from "../../src/config/load.ts";
import { redact } from "../../src/core/log.ts";

const dir = mkdtempSync(join(tmpdir(), "cellkeep-smskeys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = `[network]\napn = "internet"\n`;

describe("[time] and [sms] keys", () => {
  test("defaults: SMS control off, clock not set", () => {
    const r = loadConfigText(base);
    if (!r.ok) throw new Error("invalid");
    expect(r.config.time).toEqual({ set_system_clock: false, max_offset: 120_000, poll_interval: 21_600_000 });
    expect(r.config.sms.allow_from).toEqual([]);
  });

  test("bad values name the key and the line", () => {
    const r = loadConfigText(`${base}[time]\nmax_offset = "1s"\npoll_interval = "10s"\n[sms]\nallow_from = ["0170123"]\nsecret = "short"\n`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const by = Object.fromEntries(r.issues.map((i) => [i.path, i.line]));
    expect(by).toMatchObject({ "time.max_offset": 4, "time.poll_interval": 5, "sms.allow_from.0": 7, "sms.secret": 8 });
  });

  test("allow_from without a secret is refused; secret and secret_file together too", () => {
    const a = loadConfigText(`${base}[sms]\nallow_from = ["+491701234567"]\n`);
    expect(a.ok ? [] : a.issues.map((i) => [i.path, i.line])).toEqual([["sms.allow_from", 4]]);
    const b = loadConfigText(`${base}[sms]\nsecret = "abcdefgh1"\nsecret_file = "/nonexistent"\n`);
    expect(b.ok ? [] : b.issues.map((i) => i.path)).toEqual(["sms.secret_file"]);
  });

  test("the secret from a file is used, masked in logs (also as UCS2 hex) and in the effective config", () => {
    const f = join(dir, "sms-secret");
    writeFileSync(f, "Fil3Secret99\n");
    chmodSync(f, 0o600);
    const r = loadConfigText(`${base}[sms]\nallow_from = ["+491701234567"]\nsecret_file = "${f}"\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.sms.secret).toBe("Fil3Secret99");
    expect(redact("got Fil3Secret99 status")).not.toContain("Fil3Secret99");
    expect(redact("00460069006C0033005300650063007200650074003900390020")).not.toContain("00460069006C00330053006500630072006500740039003900");
    const inline = loadConfigText(`${base}[sms]\nallow_from = ["+491701234567"]\nsecret = "Inl1neSecret"\n`);
    if (!inline.ok) throw new Error("invalid");
    expect(renderEffectiveConfig(inline.config)).not.toContain("Inl1neSecret");
  });
});

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { UsageStateFileEvent } from "../../src/core/agent-events.ts";
import { UsageLedger } from "../../src/usage/ledger.ts";
import { UsageFile, usageFilePath } from "../../src/usage/store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cellkeep-usage-"));
  dirs.push(d);
  return d;
}
const SIM = "89001012345678901234";
const t0 = Date.parse("2025-02-10T12:00:00Z");
const opts = { cycleDay: 1, timeZone: "UTC", caps: { stop: 1000 } };

describe("usage file", () => {
  test("counts, reached caps and resumes survive a restart (a new ledger on the same file)", () => {
    const path = join(tmp(), "state", "usage.json");
    const first = new UsageLedger(opts, new UsageFile(path, { now: () => t0 }).load());
    first.setSim(SIM, t0);
    first.count(900, 150, t0);
    expect(new UsageFile(path, { now: () => t0 }).save(first.state())).toBe(true);

    const file = new UsageFile(path, { now: () => t0 });
    const second = new UsageLedger(opts, file.load());
    second.setSim(SIM, t0 + 1000);
    expect(second.currentRecord(t0 + 1000)).toMatchObject({ bytesIn: 900, bytesOut: 150, reached: ["stop"] });
    // The stop cap still holds after the restart.
    expect(second.holdUntil(t0 + 1000)).toBe(Date.parse("2025-03-01T00:00:00Z"));
    // Only the file remains in the directory (no temp files), readable by the agent alone (ICCIDs).
    expect(readdirSync(join(path, ".."))).toEqual(["usage.json"]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8")).toContain(SIM);
  });

  test("a temp file left by a writer killed mid-save does not matter: the last complete file is read", () => {
    const dir = tmp();
    const path = join(dir, "usage.json");
    const l = new UsageLedger(opts, null);
    l.setSim(SIM, t0);
    l.count(10, 20, t0);
    new UsageFile(path, { now: () => t0 }).save(l.state());
    // What kill -9 between write and rename leaves: a torn temp file beside the good one.
    writeFileSync(join(dir, "usage.json.12345.tmp"), '{"version":1,"sims":{"8900');
    const again = new UsageLedger(opts, new UsageFile(path, { now: () => t0 }).load());
    again.setSim(SIM, t0);
    expect(again.currentRecord(t0)).toMatchObject({ bytesIn: 10, bytesOut: 20 });
  });

  test("a corrupt file is reported, kept as .corrupt, and counting starts from zero", () => {
    const dir = tmp();
    const path = join(dir, "usage.json");
    writeFileSync(path, "{ not json");
    const events: UsageStateFileEvent[] = [];
    const file = new UsageFile(path, { now: () => t0, onEvent: (e) => events.push(e) });
    expect(file.load()).toBeNull();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "usage.state-file", problem: "corrupt", path, keptAs: `${path}.corrupt` });
    expect(events[0]!.message).toContain("not valid JSON");
    expect(existsSync(`${path}.corrupt`)).toBe(true);
    expect(existsSync(path)).toBe(false);
    // A well-formed file with wrong content is corrupt too, with the reason named.
    writeFileSync(path, JSON.stringify({ version: 1, sims: { x: { cycleStart: 9, cycleEnd: 1, bytesIn: 0, bytesOut: 0 } } }));
    expect(file.load()).toBeNull();
    expect(events[1]!.message).toContain("sims.x: bad cycle or byte counts");
  });

  test("a failed write is reported once per distinct error, and the old file stays", () => {
    const dir = tmp();
    // The parent "directory" is a file: mkdir and open fail with ENOTDIR.
    writeFileSync(join(dir, "blocker"), "");
    const events: UsageStateFileEvent[] = [];
    const file = new UsageFile(join(dir, "blocker", "usage.json"), { now: () => t0, onEvent: (e) => events.push(e) });
    const l = new UsageLedger(opts, null);
    expect(file.save(l.state())).toBe(false);
    expect(file.save(l.state())).toBe(false);
    expect(events.map((e) => e.problem)).toEqual(["write-failed"]);
  });

  test("the default path is usage.json beside recovery.state_file (the state directory)", () => {
    expect(usageFilePath({ usage: {}, recovery: { state_file: "/var/lib/cellkeep/recovery.json" } })).toBe("/var/lib/cellkeep/usage.json");
    expect(usageFilePath({ usage: { state_file: "/data/u.json" }, recovery: { state_file: "/var/lib/cellkeep/recovery.json" } })).toBe("/data/u.json");
  });
});

/** A reload that changes [radio] or [sim] is applied by redialling: the policy runs in every bring-up. */
import { describe, expect, test } from "bun:test";
import { planReload } from "../../src/agent/reload.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

function config(tail: string): Config {
  const r = loadConfigText(`[network]\napn = "internet"\n${tail}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

describe("reload of the radio policy and SIM failover", () => {
  test("a changed [radio] or [sim] redials now; an unchanged one does nothing", () => {
    const before = config(`[radio]\nbands = [20]\n`);
    expect(planReload(before, config(`[radio]\nbands = [8, 20]\n`), null)).toMatchObject({ changed: ["radio"], linkChanged: true, redialNow: true });
    expect(planReload(before, config(`[radio]\nbands = [20]\n[sim]\nfailover_after = "10m"\n`), null)).toMatchObject({ changed: ["sim"], redialNow: true });
    expect(planReload(before, config(`[radio]\nbands = [20]\n`), null)).toMatchObject({ changed: [], redialNow: false });
    // A network back-off is still waited out.
    expect(planReload(before, config(`[radio]\nroaming = "deny"\n`), 5_000).redialNow).toBe(false);
  });
});

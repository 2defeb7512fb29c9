/** recovery.command_timeout: the limit for recovery.power_cycle / reboot_command (src/sys/command.ts). */
import { expect, test } from "bun:test";
import { loadConfigText, renderEffectiveConfig } from "../../src/config/load.ts";

const MIN = `[network]\napn = "internet"\n`;

test("recovery.command_timeout defaults to 60 s, takes a duration, and names the key when it is bad", () => {
  const def = loadConfigText(MIN, "c.toml");
  expect(def.ok && def.config.recovery.command_timeout).toBe(60_000);
  const set = loadConfigText(`${MIN}[recovery]\ncommand_timeout = "2m"\n`, "c.toml");
  expect(set.ok && set.config.recovery.command_timeout).toBe(120_000);
  // Printed back as a duration by `cellkeep check`.
  if (set.ok) expect(renderEffectiveConfig(set.config)).toMatch(/command_timeout = "2m"/);
  const bad = loadConfigText(`${MIN}[recovery]\ncommand_timeout = "10ms"\n`, "c.toml");
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.issues[0]).toMatchObject({ path: "recovery.command_timeout", line: 4 });
});

/**
 * `cellkeep ports [--config FILE]`: the serial ports that look like modems and
 * which one "auto" picks; with a config, also what the agent will do with them
 * (the configured data and control ports, and with CMUX what each DLCI carries).
 */
import type { Config } from "../config/schema.ts";
import { loadConfigFile } from "../config/load.ts";
import { portsCommand } from "../serial/discovery.ts";
import { reportConfigIssues, type Output } from "./check.ts";
import { EXIT } from "./exit-codes.ts";

/** The lines about the configured ports (the mux included), after the discovery report. */
export function configuredPortsText(config: Config): string {
  const m = config.modem;
  const lines = [`configured: modem.port = "${m.port}", modem.control_port = "${m.control_port}", modem.mux = "${m.mux}"`];
  if (m.mux === "cmux") {
    lines.push("  CMUX (27.010) on the data port: DLCI 1 carries AT polling and URCs, DLCI 2 the dial and PPP (docs/cmux.md)");
  } else if (m.mux === "auto") {
    lines.push("  CMUX when no control port is found and the modem accepts AT+CMUX: DLCI 1 then carries AT polling and URCs, DLCI 2 the dial and PPP (docs/cmux.md)");
  }
  return lines.join("\n");
}

export function portsVerb(configFile: string | undefined, io: Output): number {
  const report = portsCommand({});
  if (configFile === undefined) {
    io.out(report);
    return EXIT.OK;
  }
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) return reportConfigIssues(configFile, loaded.issues, io);
  io.out(report);
  io.out(configuredPortsText(loaded.config));
  return EXIT.OK;
}

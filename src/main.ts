#!/usr/bin/env bun
import { main } from "./cli/main.ts";
import { EXIT } from "./cli/exit-codes.ts";
import { installFaultHandlers } from "./cli/fault.ts";
import { redact } from "./core/log.ts";

/** Last resort: an unexpected error still exits non-zero with a readable line, never a secret. */
function internalError(err: unknown, origin: string): never {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  process.stderr.write(`cellkeep: internal error (${origin}): ${redact(text)}\n`);
  process.exit(EXIT.CRASH);
}

// An uncaught exception or unhandled rejection: `run` takes it over while its agent runs (log with
// a cause, clean stop, exit 70); anywhere else the process ends at once with exit 70.
installFaultHandlers(internalError);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => internalError(err, "unexpected error"),
);

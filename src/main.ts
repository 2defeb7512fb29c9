#!/usr/bin/env bun
import { main } from "./cli/main.ts";
import { redact } from "./core/log.ts";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Last resort: an unexpected error still exits non-zero with a readable line, never a secret.
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    process.stderr.write(`cellkeep: internal error: ${redact(text)}\n`);
    process.exit(1);
  },
);

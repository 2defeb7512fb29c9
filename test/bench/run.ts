#!/usr/bin/env bun
/**
 * Runs the benchmarks one after another and prints their figures:
 * `npx bun run bench` (all) or `npx bun run bench hdlc serial` (some).
 * Benchmarks print numbers; nothing here asserts speed.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const all = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts")
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; known: ${all.join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.log(`\n=== ${name} ===`);
  const p = Bun.spawn([process.execPath, join(dir, `${name}.ts`)], { stdout: "inherit", stderr: "inherit", stdin: "ignore" });
  const code = await p.exited;
  if (code !== 0) {
    failed++;
    console.log(`(${name} exited with ${code})`);
  }
}
process.exit(failed ? 1 : 0);

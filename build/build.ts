#!/usr/bin/env bun
/**
 * Builds the single-file binaries and the Debian packages:
 * `bun build/build.ts [--out DIR] [--no-deb] [target...]` (`npm run build`:
 * linux-x64 and linux-arm64, each with its .deb, amd64 and arm64; build/deb.ts).
 * Targets: linux-x64, linux-arm64 (glibc) and their -musl variants (no .deb:
 * Debian is glibc). The runtime for a foreign target comes from the npm
 * registry on first use and is cached by Bun.
 */
import { mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildDeb, DEB_ARCH, type DebTarget } from "./deb.ts";

export const TARGETS = ["linux-x64", "linux-arm64", "linux-x64-musl", "linux-arm64-musl"] as const;
export type Target = (typeof TARGETS)[number];

const ROOT = resolve(import.meta.dir, "..");

export async function buildBinary(target: Target, outDir: string): Promise<{ path: string; bytes: number }> {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `cellkeep-${target}`);
  // --bytecode needs ESM output to allow top-level await (bun-facts §8);
  // --minify trims startup slightly. `strip` must never run on the result.
  const proc = Bun.spawn(
    [process.execPath, "build", "--compile", `--target=bun-${target}`, "--minify", "--sourcemap=none", join(ROOT, "src/main.ts"), "--outfile", path],
    { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
  );
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`bun build for ${target} failed (exit ${code}):\n${out}\n${err}`);
  return { path, bytes: statSync(path).size };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf("--out");
  const outDir = outIdx >= 0 ? resolve(args[outIdx + 1] ?? "dist") : join(ROOT, "dist");
  const wanted = args.filter((a, i) => !a.startsWith("--") && (outIdx < 0 || i !== outIdx + 1));
  const targets = (wanted.length ? wanted : ["linux-x64", "linux-arm64"]) as Target[];
  for (const t of targets) {
    if (!TARGETS.includes(t)) {
      console.error(`unknown target ${t}; known: ${TARGETS.join(", ")}`);
      process.exit(2);
    }
    const { path, bytes } = await buildBinary(t, outDir);
    console.log(`${t}: ${path} (${(bytes / 1e6).toFixed(1)} MB)`);
    if (args.includes("--no-deb") || !(t in DEB_ARCH)) continue;
    const deb = await buildDeb({ binary: path, target: t as DebTarget, outDir });
    console.log(`${t}: ${deb.path} (${(deb.bytes / 1e6).toFixed(1)} MB)`);
  }
}

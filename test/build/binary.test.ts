/**
 * The single-file binaries build and run: x64 natively, arm64 under qemu
 * user-mode emulation (Debian qemu-user-static with the libc6-arm64-cross
 * sysroot), each printing its version and validating the example config.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, readFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { buildBinary } from "../../build/build.ts";
import { VERSION } from "../../src/version.ts";

const ROOT = resolve(import.meta.dir, "../..");
const EXAMPLE = join(ROOT, "config.example.toml");
const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";
let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ck-build-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(cmd: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out, err };
}

describe("single-file binary", () => {
  test("linux-x64 builds, prints its version and checks the example config", async () => {
    const { path, bytes } = await buildBinary("linux-x64", dir);
    expect(bytes).toBeGreaterThan(1_000_000);
    const version = await run([path, "version"]);
    expect(version.code).toBe(0);
    expect(version.out.trim()).toBe(`cellkeep ${VERSION}`);
    const check = await run([path, "check", "--config", EXAMPLE]);
    expect(check.code).toBe(0);
    expect(check.out).toContain('apn = "internet"');
    // The native serialport binding aborts under Bun; it must not even be in the dependency tree,
    // and no native addon (.node) may be embedded in the binary's file system.
    const lock = readFileSync(join(ROOT, "package-lock.json"), "utf8");
    expect(lock).not.toContain("node_modules/@serialport/bindings-cpp");
    expect(/\$bunfs\/root\/[^\0]*\.node\0/.test(readFileSync(path).toString("latin1"))).toBe(false);
  }, 120_000);

  test("linux-arm64 builds and runs under qemu", async () => {
    expect(existsSync(QEMU)).toBe(true);
    const { path } = await buildBinary("linux-arm64", dir);
    const version = await run([QEMU, "-L", SYSROOT, path, "version"]);
    expect(version.err).toBe("");
    expect(version.out.trim()).toBe(`cellkeep ${VERSION}`);
    const check = await run([QEMU, "-L", SYSROOT, path, "check", "--config", EXAMPLE]);
    expect(check.code).toBe(0);
    expect(check.out).toContain('apn = "internet"');
    const bad = await run([QEMU, "-L", SYSROOT, path, "check", "--config", join(ROOT, "package.json")]);
    expect(bad.code).toBe(2);
  }, 180_000);
});

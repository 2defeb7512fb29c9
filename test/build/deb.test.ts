/**
 * The Debian package: built from the real amd64 binary with dpkg-deb, its
 * files, modes and control fields are what the README promises, its
 * maintainer scripts parse, and lintian reports nothing beyond the overrides
 * it ships (each explained in build/debian/lintian-overrides). Installing,
 * upgrading and purging it is the system test's job (test/system/run.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary } from "../../build/build.ts";
import { buildDeb, glibcFloor, manPage, type BuiltDeb } from "../../build/deb.ts";
import { VERSION } from "../../src/version.ts";

let dir = "";
let deb: BuiltDeb;

function run(cmd: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ck-deb-"));
  const bin = await buildBinary("linux-x64", dir);
  deb = await buildDeb({ binary: bin.path, target: "linux-x64", outDir: dir, compression: "gzip" });
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("cellkeep .deb", () => {
  test("files, owners and modes", () => {
    const listing = run(["dpkg-deb", "--contents", deb.path]).out;
    const entry = (path: string) => listing.split("\n").find((l) => l.endsWith(` ./${path}`)) ?? "";
    expect(entry("usr/bin/cellkeep")).toMatch(/^-rwxr-xr-x root\/root/);
    expect(entry("etc/cellkeep/cellkeep.toml")).toMatch(/^-rw-r--r-- root\/root/);
    for (const unit of ["cellkeep.service", "cellkeep-reboot.path", "cellkeep-reboot.service"]) expect(entry(`lib/systemd/system/${unit}`)).toMatch(/^-rw-r--r-- root\/root/);
    for (const doc of ["copyright", "changelog.gz", "README.md"]) expect(entry(`usr/share/doc/cellkeep/${doc}`)).not.toBe("");
    expect(entry("usr/share/man/man1/cellkeep.1.gz")).not.toBe("");
    expect(entry("usr/share/lintian/overrides/cellkeep")).not.toBe("");
  });

  test("control: version, architecture, dependencies; the config is a conffile", () => {
    expect(deb.control).toContain(`Version: ${VERSION}\n`);
    expect(deb.control).toContain("Architecture: amd64\n");
    expect(deb.control).toMatch(/^Depends: libc6 \(>= 2\.\d+\), adduser, iproute2$/m);
    expect(run(["dpkg-deb", "--field", deb.path, "Package"]).out.trim()).toBe("cellkeep");
    const tmp = join(dir, "control");
    expect(run(["dpkg-deb", "--control", deb.path, tmp]).code).toBe(0);
    expect(run(["cat", join(tmp, "conffiles")]).out).toBe("/etc/cellkeep/cellkeep.toml\n");
    for (const script of ["postinst", "prerm", "postrm"]) expect(run(["sh", "-n", join(tmp, script)]).code).toBe(0);
    // The postinst makes the config root:cellkeep 0640 through a stat override dpkg keeps across upgrades.
    expect(run(["cat", join(tmp, "postinst")]).out).toContain("dpkg-statoverride --update --add root cellkeep 0640");
  });

  test("lintian: nothing beyond the explained overrides", () => {
    const r = run(["lintian", "--pedantic", "--fail-on", "error,warning,info,pedantic", deb.path]);
    expect(r.out.split("\n").filter((l) => /^[EWIPX]: /.test(l))).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);

  test("glibcFloor picks the highest GLIBC_ version need", () => {
    expect(glibcFloor("  0x0010: Name: GLIBC_2.2.5  Flags: none\n  0x0020: Name: GLIBC_2.17\n  Name: GLIBC_2.3.4")).toBe("2.17");
    expect(glibcFloor("no versions")).toBeNull();
  });

  test("the man page is the help text, with roff-sensitive lines escaped", () => {
    const page = manPage("9.9.9");
    expect(page).toStartWith('.TH CELLKEEP 1 "" "cellkeep 9.9.9"');
    expect(page).toContain("cellkeep doctor [--config FILE] [--user NAME]");
    expect(page.split("\n").filter((l) => /^[.']/.test(l) && !/^\.(TH|SH|nf|fi|TP|BR)\b/.test(l))).toEqual([]);
  });
});

/**
 * The Debian package: a staging tree and `dpkg-deb --build` (no debhelper,
 * no other tooling). What goes where, and why:
 *
 *   /usr/bin/cellkeep                      the single-file binary (never stripped: strip destroys the app)
 *   /lib/systemd/system/cellkeep.service   the hardened unit (build/cellkeep.service)
 *   /lib/systemd/system/cellkeep-reboot.{path,service}  the last rung's host reboot, done by systemd
 *   /etc/cellkeep/cellkeep.toml            config.example.toml, a conffile; root:cellkeep 0640 by a stat
 *                                          override the postinst adds (dpkg keeps it across upgrades)
 *   /usr/share/doc/cellkeep/               copyright, changelog.gz, README.md, docs/*.md
 *   /usr/share/man/man1/cellkeep.1.gz      from `cellkeep help`
 *   /usr/share/lintian/overrides/cellkeep  the tags lintian gives the Bun runtime, each explained
 *   DEBIAN/{postinst,prerm,postrm}         build/debian/: the cellkeep system user (groups dialout,
 *                                          gpio where it exists), /var/lib/cellkeep, purge
 *
 * Depends: the glibc version the binary's symbol versions need (read with
 * readelf), adduser (postinst), iproute2 (`ip` sets addresses and routes).
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { dirname, join, relative, resolve } from "node:path";
import { HELP } from "../src/cli/help.ts";
import { VERSION } from "../src/version.ts";

const ROOT = resolve(import.meta.dir, "..");

/** Bun's target names → Debian's architecture names. */
export const DEB_ARCH = { "linux-x64": "amd64", "linux-arm64": "arm64" } as const;
export type DebTarget = keyof typeof DEB_ARCH;

export const CONFFILE = "/etc/cellkeep/cellkeep.toml";
export const UNIT_FILES = ["cellkeep.service", "cellkeep-reboot.path", "cellkeep-reboot.service"] as const;
export const SYSTEMD_DIR = "/lib/systemd/system";

export interface DebOptions {
  /** The built binary for `target`. */
  binary: string;
  target: DebTarget;
  outDir: string;
  /** Default: package.json's version. The system test builds a second, higher one to test upgrades. */
  version?: string;
  /** dpkg-deb compression: "xz" (default, ~40 MB) or "gzip" (faster to build, bigger). */
  compression?: "xz" | "gzip";
}

export interface BuiltDeb {
  path: string;
  bytes: number;
  control: string;
}

/** The lowest glibc the binary links against: the highest GLIBC_x.y in its version needs. */
export function glibcFloor(readelfVersionInfo: string): string | null {
  const versions = [...readelfVersionInfo.matchAll(/\bGLIBC_(\d+)\.(\d+)(?:\.(\d+))?\b/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] as const);
  if (versions.length === 0) return null;
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const [maj, min, patch] = versions[versions.length - 1]!;
  return patch ? `${maj}.${min}.${patch}` : `${maj}.${min}`;
}

function readelfVersions(binary: string): string {
  const p = Bun.spawnSync(["readelf", "--version-info", "--wide", binary], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`readelf failed on ${binary} (binutils installed?): ${p.stderr.toString()}`);
  return p.stdout.toString();
}

export function controlText(o: { arch: string; version: string; installedKiB: number; glibc: string }): string {
  return `Package: cellkeep
Version: ${o.version}
Architecture: ${o.arch}
Maintainer: The cellkeep authors <cellkeep@example.org>
Installed-Size: ${o.installedKiB}
Depends: libc6 (>= ${o.glibc}), adduser, iproute2
Suggests: gpiod
Section: net
Priority: optional
Description: keeps a cellular data link alive on a Linux gateway
 cellkeep drives a Quectel LPWA/LTE modem (or any 3GPP modem) over its serial
 port, runs its own PPP stack in user space, hands IP packets to the kernel
 through a TUN device, checks the link on a schedule, escalates resets along
 the module vendor's back-off, and reports it all over a local HTTP endpoint.
 .
 This package runs it as a hardened systemd service under its own system
 user. Edit /etc/cellkeep/cellkeep.toml, run "cellkeep doctor", then
 "systemctl enable --now cellkeep".
`;
}

/** A man page made from `cellkeep help`: the same text, so the two never disagree. */
export function manPage(version: string): string {
  const esc = (line: string) => line.replace(/\\/g, "\\e").replace(/^([.'])/, "\\&$1");
  const body = HELP.split("\n").slice(1).map(esc).join("\n");
  return `.TH CELLKEEP 1 "" "cellkeep ${version}" "User Commands"
.SH NAME
cellkeep \\- keeps a cellular data link alive
.SH DESCRIPTION
.nf
${body}
.fi
.SH FILES
.TP
/etc/cellkeep/cellkeep.toml
the configuration (root:cellkeep 0640)
.TP
/var/lib/cellkeep/recovery.json
the recovery ladder's state, kept across restarts and reboots
.SH SEE ALSO
.BR systemctl (1),
/usr/share/doc/cellkeep/README.md
`;
}

function changelog(version: string): string {
  // A native package: one entry per version, dated at build time as dpkg-deb needs no more.
  const date = new Date().toUTCString().replace(/GMT$/, "+0000");
  return `cellkeep (${version}) unstable; urgency=medium

  * Release ${version}. See /usr/share/doc/cellkeep/README.md.

 -- The cellkeep authors <cellkeep@example.org>  ${date}
`;
}

function copyright(): string {
  const license = readFileSync(join(ROOT, "LICENSE"), "utf8");
  const holder = /^Copyright (?:\(c\) )?(.+)$/m.exec(license)?.[1] ?? "The cellkeep authors";
  const text = license
    .split("\n")
    .slice(license.split("\n").findIndex((l) => l.startsWith("Permission")))
    .map((l) => (l.trim() === "" ? " ." : ` ${l}`))
    .join("\n")
    .replace(/(\n \.)+$/, "");
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cellkeep

Files: *
Copyright: ${holder}
License: Expat

License: Expat
${text}
`;
}

function put(root: string, path: string, data: string | Uint8Array, mode: number): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
  writeFileSync(full, data);
  chmodSync(full, mode);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export function debFileName(version: string, arch: string): string {
  return `cellkeep_${version}_${arch}.deb`;
}

export async function buildDeb(o: DebOptions): Promise<BuiltDeb> {
  const arch = DEB_ARCH[o.target];
  const version = o.version ?? VERSION;
  const stage = join(o.outDir, `.deb-${arch}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true, mode: 0o755 });

  const binary = readFileSync(o.binary);
  put(stage, "usr/bin/cellkeep", binary, 0o755);
  for (const unit of UNIT_FILES) put(stage, `${SYSTEMD_DIR}/${unit}`.slice(1), readFileSync(join(ROOT, "build", unit)), 0o644);
  // 0644 in the archive; the postinst's stat override makes it root:cellkeep 0640 (the cellkeep group
  // does not exist when the archive is unpacked on a first install).
  put(stage, CONFFILE.slice(1), readFileSync(join(ROOT, "config.example.toml")), 0o644);
  put(stage, "usr/share/doc/cellkeep/copyright", copyright(), 0o644);
  put(stage, "usr/share/doc/cellkeep/changelog.gz", gzipSync(changelog(version), { level: 9 }), 0o644);
  // The README's links point into docs/: ship both, side by side as in the repository.
  put(stage, "usr/share/doc/cellkeep/README.md", readFileSync(join(ROOT, "README.md")), 0o644);
  for (const doc of readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md"))) put(stage, `usr/share/doc/cellkeep/docs/${doc}`, readFileSync(join(ROOT, "docs", doc)), 0o644);
  put(stage, "usr/share/man/man1/cellkeep.1.gz", gzipSync(manPage(version), { level: 9 }), 0o644);
  // Each override says why (build/debian/lintian-overrides); `lintian` on the .deb is then clean.
  put(stage, "usr/share/lintian/overrides/cellkeep", readFileSync(join(ROOT, "build/debian/lintian-overrides")), 0o644);

  const files = walk(stage).map((f) => "/" + relative(stage, f));
  const installedKiB = Math.ceil(files.reduce((n, f) => n + statSync(join(stage, f)).size, 0) / 1024);
  const control = controlText({ arch, version, installedKiB, glibc: glibcFloor(readelfVersions(o.binary)) ?? "2.17" });

  put(stage, "DEBIAN/control", control, 0o644);
  put(stage, "DEBIAN/conffiles", `${CONFFILE}\n`, 0o644);
  for (const script of ["postinst", "prerm", "postrm"]) put(stage, `DEBIAN/${script}`, readFileSync(join(ROOT, "build/debian", script)), 0o755);
  const md5 = files
    .filter((f) => f !== CONFFILE)
    .sort()
    .map((f) => `${createHash("md5").update(readFileSync(join(stage, f))).digest("hex")}  ${f.slice(1)}`)
    .join("\n");
  put(stage, "DEBIAN/md5sums", md5 + "\n", 0o644);
  // Directories 0755 whatever the umask was.
  for (const d of new Set(files.flatMap((f) => ancestors(dirname(f))))) chmodSync(join(stage, d), 0o755);

  const path = join(o.outDir, debFileName(version, arch));
  const compression = o.compression ?? "xz";
  const proc = Bun.spawn(["dpkg-deb", "--root-owner-group", `-Z${compression}`, "--build", stage, path], { stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  rmSync(stage, { recursive: true, force: true });
  if (code !== 0) throw new Error(`dpkg-deb failed (exit ${code}): ${err}`);
  return { path, bytes: statSync(path).size, control };
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== "/" && d !== "."; d = dirname(d)) out.push(d);
  return out;
}

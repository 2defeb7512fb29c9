/**
 * The layering in docs/architecture.md, checked: every import of every file under src/ against the
 * `layers` table written there (read from the doc, so the rule is written once), every file in a
 * declared layer, and no import cycle between files. The checker itself lives in
 * test/support/import-graph.ts and is tested below on small made-up graphs, so this cannot pass
 * by finding nothing.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  applyKnownViolations,
  checkLayers,
  findCycles,
  layerOf,
  LayerTableError,
  listSourceFiles,
  parseLayerTable,
  readImportEdges,
  resolveImport,
  scanImports,
  type ImportEdge,
  type KnownViolation,
} from "./support/import-graph.ts";

const ROOT = join(import.meta.dir, "..");
const DOC = "docs/architecture.md";


describe(`src/ against the layers table in ${DOC}`, () => {
  const table = parseLayerTable(readFileSync(join(ROOT, DOC), "utf8"));
  const files = listSourceFiles(ROOT, "src");
  const edges = readImportEdges(ROOT, files);
  const violations = checkLayers(files, edges, table);

  test("the scan sees the tree (files, static, dynamic and type-only imports)", () => {
    expect(files).toContain("src/main.ts");
    expect(files).toContain("src/core/cause.ts");
    const inSrc = edges.filter((e) => e.to?.startsWith("src/"));
    expect(inSrc.length).toBeGreaterThan(files.length);
    // cli/main.ts loads its subcommands with import(); agent.ts takes Config as a type.
    expect(edges).toContainEqual(expect.objectContaining({ from: "src/cli/main.ts", to: "src/sim/simulate.ts", typeOnly: false }));
    expect(edges).toContainEqual(expect.objectContaining({ from: "src/agent.ts", to: "src/config/schema.ts", typeOnly: true }));
  });

  test("every file is in a layer the table declares", () => {
    expect(violations.filter((v) => v.kind === "unknown-layer").map((v) => v.message)).toEqual([]);
  });

  test("every import follows the allowed directions ", () => {
    expect(violations.filter((v) => v.kind !== "unknown-layer").map((v) => v.message)).toEqual([]);
  });

  test("no import cycle between files", () => {
    expect(findCycles(edges).map((c) => `import cycle: ${c.join(" → ")}`)).toEqual([]);
  });
});

describe("the checker on made-up graphs", () => {
  const TABLE = [
    "Some prose; only the fenced block counts.",
    "```layers",
    "# comment line",
    "low  →",
    "mid  → low            # trailing comment",
    "top  -> mid, low (types only)",
    "wire → all except top",
    "ver  → ../package.json",
    "```",
  ].join("\n");
  const table = parseLayerTable(TABLE);
  const edge = (from: string, to: string | null, typeOnly = false, specifier = to ?? "pkg"): ImportEdge => ({ from, to, specifier, line: 1, typeOnly });

  test("the table: plain lists, types-only entries, all except, outside files", () => {
    expect([...table.keys()]).toEqual(["low", "mid", "top", "wire", "ver"]);
    expect([...table.get("low")!.allowed]).toEqual([]);
    expect([...table.get("mid")!.allowed]).toEqual(["low"]);
    expect([...table.get("top")!.allowed]).toEqual(["mid"]);
    expect([...table.get("top")!.typesOnly]).toEqual(["low"]);
    expect([...table.get("wire")!.allowed].sort()).toEqual(["low", "mid", "ver"]);
    expect([...table.get("ver")!.allowed]).toEqual(["../package.json"]);
  });

  test("a table that names an undeclared layer, declares one twice or is missing is refused", () => {
    const block = (body: string) => "```layers\n" + body + "\n```\n";
    expect(() => parseLayerTable(block("a → b"))).toThrow(LayerTableError);
    expect(() => parseLayerTable(block("a → b"))).toThrow(/"b" is not a declared layer/);
    expect(() => parseLayerTable(block("a →\na → "))).toThrow(/declared twice/);
    expect(() => parseLayerTable(block("a → all except nope"))).toThrow(/"nope"/);
    expect(() => parseLayerTable(block("a imports b"))).toThrow(/expected "name → layers"/);
    expect(() => parseLayerTable("no block here")).toThrow(/found 0/);
  });

  test("files map to layers by first folder under src/, or by name directly in src/", () => {
    expect(layerOf("src/at/core.ts")).toBe("at");
    expect(layerOf("src/at/deep/er.ts")).toBe("at");
    expect(layerOf("src/agent.ts")).toBe("agent");
    expect(layerOf("src/agent/ports.ts")).toBe("agent");
    expect(layerOf("package.json")).toBe("../package.json");
    expect(layerOf("test/support/ip.ts")).toBe("../test/support/ip.ts");
  });

  test("a forbidden edge is reported with the file, the import and the rule; allowed edges are not", () => {
    const files = ["src/low/x.ts", "src/mid/y.ts"];
    const v = checkLayers(files, [edge("src/mid/y.ts", "src/low/x.ts"), edge("src/low/x.ts", "src/mid/y.ts", false, "../mid/y.ts"), edge("src/low/x.ts", null)], table);
    expect(v).toEqual([
      {
        kind: "forbidden", file: "src/low/x.ts", specifier: "../mid/y.ts", line: 1,
        message: 'src/low/x.ts:1 imports "../mid/y.ts" (low → mid): low may import nothing outside its folder',
      },
    ]);
  });

  test("a types-only layer takes `import type` but not a value import", () => {
    const files = ["src/top/t.ts", "src/low/x.ts"];
    expect(checkLayers(files, [edge("src/top/t.ts", "src/low/x.ts", true)], table)).toEqual([]);
    const v = checkLayers(files, [edge("src/top/t.ts", "src/low/x.ts", false)], table);
    expect(v.map((x) => x.kind)).toEqual(["types-only"]);
    expect(v[0]!.message).toContain("top may import low for types only");
  });

  test("a file in an undeclared folder fails, and so does an import into one", () => {
    const v = checkLayers(["src/low/x.ts", "src/newthing/n.ts"], [edge("src/low/x.ts", "src/newthing/n.ts", false, "../newthing/n.ts")], table);
    expect(v.map((x) => [x.kind, x.file])).toEqual([
      ["unknown-layer", "src/newthing/n.ts"],
      ["forbidden", "src/low/x.ts"],
    ]);
    expect(v[0]!.message).toContain('layer "newthing" is not in the layers table');
    expect(v[1]!.message).toContain('("newthing" is not a declared layer)');
  });

  test("a file outside src/ is allowed only where the table names it", () => {
    const files = ["src/ver.ts", "src/low/x.ts"];
    expect(checkLayers(files, [edge("src/ver.ts", "package.json")], table)).toEqual([]);
    expect(checkLayers(files, [edge("src/low/x.ts", "package.json")], table).map((x) => x.kind)).toEqual(["forbidden"]);
  });

  test("a computed dynamic import is reported: nothing can check where it goes", () => {
    const v = checkLayers(["src/low/x.ts"], [{ ...edge("src/low/x.ts", null, false, "name"), computed: true }], table);
    expect(v.map((x) => x.kind)).toEqual(["computed"]);
  });

  test("cycles: each one reported as a path; a diamond is not a cycle", () => {
    const cycle = [edge("src/a.ts", "src/b.ts"), edge("src/b.ts", "src/c.ts"), edge("src/c.ts", "src/a.ts")];
    expect(findCycles(cycle)).toEqual([["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"]]);
    const diamond = [edge("src/a.ts", "src/b.ts"), edge("src/a.ts", "src/c.ts"), edge("src/b.ts", "src/d.ts"), edge("src/c.ts", "src/d.ts"), edge("src/d.ts", null)];
    expect(findCycles(diamond)).toEqual([]);
    expect(findCycles([edge("src/s.ts", "src/s.ts")])).toEqual([["src/s.ts", "src/s.ts"]]);
    // Two separate cycles, one reached only through a type import, and a tail that is in neither.
    const two = [...cycle, edge("src/a.ts", "src/x.ts"), edge("src/x.ts", "src/y.ts", true), edge("src/y.ts", "src/x.ts"), edge("src/y.ts", "src/z.ts")];
    expect(findCycles(two)).toEqual([
      ["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"],
      ["src/x.ts", "src/y.ts", "src/x.ts"],
    ]);
  });

  test("a known violation excuses only its own import, and one that no longer occurs is stale", () => {
    const v = checkLayers(["src/low/x.ts", "src/mid/y.ts"], [edge("src/low/x.ts", "src/mid/y.ts", false, "../mid/y.ts")], table);
    const excuse = { file: "src/low/x.ts", import: "../mid/y.ts", removedBy: "some branch" };
    const gone = { file: "src/low/x.ts", import: "../mid/other.ts", removedBy: "merged branch" };
    expect(applyKnownViolations(v, [excuse])).toEqual({ unexcused: [], stale: [] });
    expect(applyKnownViolations(v, [gone])).toEqual({ unexcused: v, stale: [gone] });
  });

  test("imports are read from the syntax tree: every form, type-only told apart, none from comments or strings", () => {
    const text = [
      'import { a } from "./a.ts";', // 1
      'import type { B } from "../core/b.ts";', // 2
      'import { type C } from "./c.ts";', // 3: kept at run time under verbatimModuleSyntax
      'import "./side-effect.ts";', // 4
      'export { d } from "./d.ts";', // 5
      'export type { E } from "./e.ts";', // 6
      'export * from "./f.ts";', // 7
      'const g = await import("./g.ts");', // 8
      'type H = import("./h.ts").H;', // 9
      'let i: typeof import("./i.ts");', // 10
      '// import { no } from "./comment.ts";', // 11
      "const s = \"import('./string.ts')\";", // 12
      'const t = `export * from "./template.ts"`;', // 13
      "const j = await import(`./j.ts`);", // 14
      "const k = await import(name);", // 15
      'import v from "valibot";', // 16
      'const r = require("./r.ts");', // 17
      "import {", // 18
      "  m,", // 19
      '} from "./multi-line.ts";', // 20
    ].join("\n");
    expect(scanImports("sample.ts", text)).toEqual([
      { specifier: "./a.ts", line: 1, typeOnly: false },
      { specifier: "../core/b.ts", line: 2, typeOnly: true },
      { specifier: "./c.ts", line: 3, typeOnly: false },
      { specifier: "./side-effect.ts", line: 4, typeOnly: false },
      { specifier: "./d.ts", line: 5, typeOnly: false },
      { specifier: "./e.ts", line: 6, typeOnly: true },
      { specifier: "./f.ts", line: 7, typeOnly: false },
      { specifier: "./g.ts", line: 8, typeOnly: false },
      { specifier: "./h.ts", line: 9, typeOnly: true },
      { specifier: "./i.ts", line: 10, typeOnly: true },
      { specifier: "./j.ts", line: 14, typeOnly: false },
      { specifier: "name", line: 15, typeOnly: false, computed: true },
      { specifier: "valibot", line: 16, typeOnly: false },
      { specifier: "./r.ts", line: 17, typeOnly: false },
      { specifier: "./multi-line.ts", line: 18, typeOnly: false },
    ]);
  });

  test("specifiers resolve to files; packages to nothing", () => {
    const exists = new Set(["src/at/core.ts", "src/net/index.ts", "src/x/y.ts"]);
    const isFile = (p: string) => exists.has(p);
    expect(resolveImport("src/modem/a.ts", "../at/core.ts", isFile)).toBe("src/at/core.ts");
    expect(resolveImport("src/modem/a.ts", "../at/core", isFile)).toBe("src/at/core.ts");
    expect(resolveImport("src/modem/a.ts", "../net", isFile)).toBe("src/net/index.ts");
    expect(resolveImport("src/x/a.ts", "./y.js", isFile)).toBe("src/x/y.ts");
    expect(resolveImport("src/version.ts", "../package.json", isFile)).toBe("package.json");
    expect(resolveImport("src/modem/a.ts", "hono", isFile)).toBeNull();
    expect(resolveImport("src/modem/a.ts", "node:fs", isFile)).toBeNull();
  });
});

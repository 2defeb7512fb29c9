/**
 * The layer checker behind test/architecture.test.ts: reads every import of every source file,
 * maps files to layers (the folder under src/), and checks the imports against the table of
 * allowed directions written in docs/architecture.md, and the file graph for cycles.
 *
 * Imports are read from the TypeScript syntax tree, not with a regex, so an import inside a
 * comment or a string is not one, and type-only imports (`import type`, `import("x").T`) are seen
 * and told apart (the table can allow a layer "for types only").
 */
import ts from "typescript";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

/** One import as written in a file. */
export interface ImportSite {
  specifier: string;
  line: number;
  /** Erased before run time: `import type`, `export type … from`, `import("x").T`, `typeof import("x")`. */
  typeOnly: boolean;
  /** Set for a dynamic import or require() whose argument is not a string literal: no checker can follow it. */
  computed?: boolean;
}

/** One import resolved to the file it loads; paths are repo-relative with "/" (e.g. "src/at/core.ts"). */
export interface ImportEdge extends ImportSite {
  from: string;
  /** The imported file; null for a package (bare specifier) or a computed import. */
  to: string | null;
}

export function scanImports(fileName: string, text: string): ImportSite[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const sites: ImportSite[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined, typeOnly: boolean): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    if (spec && (ts.isStringLiteral(spec) || ts.isNoSubstitutionTemplateLiteral(spec))) {
      sites.push({ specifier: spec.text, line, typeOnly });
    } else {
      sites.push({ specifier: spec ? spec.getText(sf) : "", line, typeOnly, computed: true });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      // `import { type A } from "x"` is kept as `import {} from "x"` under verbatimModuleSyntax, so
      // only `import type` counts as erased.
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      add(node, ts.isLiteralTypeNode(arg) ? arg.literal : arg, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if (isDynamicImport || isRequire) add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return sites;
}

const SOURCE_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs"];

/**
 * The repo-relative file a specifier loads, or null for a package. `isFile` answers for
 * repo-relative paths. An unresolvable relative import resolves to the path as written, so it is
 * still checked by layer (and tsc reports the missing file).
 */
export function resolveImport(from: string, specifier: string, isFile: (path: string) => boolean): string | null {
  if (!specifier.startsWith(".") && !specifier.startsWith("/")) return null;
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [base, ...SOURCE_EXTENSIONS.map((ext) => base + ext), ...SOURCE_EXTENSIONS.map((ext) => `${base}/index${ext}`)];
  if (base.endsWith(".js")) candidates.push(base.slice(0, -3) + ".ts");
  return candidates.find(isFile) ?? base;
}

/**
 * The layer a repo-relative path belongs to: the first folder under src/ (`src/at/core.ts` → "at"),
 * or for a file directly in src/ its name (`src/agent.ts` → "agent", so agent.ts and agent/ are
 * one layer). A path outside src/ is its own pseudo-layer named from src/ (`package.json` →
 * "../package.json"), so the table must name each outside file src/ may load.
 */
export function layerOf(path: string): string {
  if (!path.startsWith("src/")) return posix.relative("src", path);
  const rest = path.slice("src/".length);
  const slash = rest.indexOf("/");
  if (slash >= 0) return rest.slice(0, slash);
  const dot = rest.indexOf(".");
  return dot > 0 ? rest.slice(0, dot) : rest;
}

export interface LayerRule {
  /** Layers this layer may import (its own is always allowed). */
  allowed: ReadonlySet<string>;
  /** Layers this layer may import with erased (type-only) imports only. */
  typesOnly: ReadonlySet<string>;
}

export type LayerTable = ReadonlyMap<string, LayerRule>;

export class LayerTableError extends Error {
  override readonly name = "LayerTableError";
}

/**
 * Parses the fenced ```layers block of a markdown text. One line per layer:
 *
 *   name  → a, b, c (types only)      may import a and b, and c only with `import type`
 *   name  →                           imports nothing
 *   name  → all except x, y           every declared src/ layer but x and y
 *
 * "#" starts a comment. Every name on the right must be declared on the left (or be a path
 * outside src/ starting with "../"), so a typo cannot widen or silently narrow a rule.
 */
export function parseLayerTable(markdown: string): LayerTable {
  const blocks = [...markdown.matchAll(/^```layers[ \t]*\n([\s\S]*?)^```/gm)];
  if (blocks.length !== 1) throw new LayerTableError(`expected exactly one \`\`\`layers block, found ${blocks.length}`);
  const raw: { name: string; rhs: string; lineNo: number }[] = [];
  blocks[0]![1]!.split("\n").forEach((text, i) => {
    const line = text.replace(/#.*/, "").trim();
    if (!line) return;
    const m = /^([A-Za-z][\w-]*)\s*(?:→|->)\s*(.*)$/.exec(line);
    if (!m) throw new LayerTableError(`layers block line ${i + 1}: expected "name → layers", got "${text}"`);
    raw.push({ name: m[1]!, rhs: m[2]!.trim(), lineNo: i + 1 });
  });
  const declared = new Set<string>();
  for (const r of raw) {
    if (declared.has(r.name)) throw new LayerTableError(`layers block line ${r.lineNo}: "${r.name}" declared twice`);
    declared.add(r.name);
  }
  const known = (name: string, lineNo: number): string => {
    if (!declared.has(name) && !name.startsWith("../")) {
      throw new LayerTableError(`layers block line ${lineNo}: "${name}" is not a declared layer`);
    }
    return name;
  };
  const table = new Map<string, LayerRule>();
  for (const { name, rhs, lineNo } of raw) {
    const allowed = new Set<string>();
    const typesOnly = new Set<string>();
    const allExcept = /^all except\s+(.*)$/.exec(rhs);
    if (rhs === "all" || allExcept) {
      const excluded = new Set((allExcept?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map((s) => known(s, lineNo)));
      for (const d of declared) if (d !== name && !excluded.has(d)) allowed.add(d);
    } else if (rhs) {
      for (const item of rhs.split(",").map((s) => s.trim())) {
        const m = /^(\S+)(\s+\(types only\))?$/.exec(item);
        if (!m) throw new LayerTableError(`layers block line ${lineNo}: cannot read "${item}"`);
        (m[2] ? typesOnly : allowed).add(known(m[1]!, lineNo));
      }
    }
    table.set(name, { allowed, typesOnly });
  }
  return table;
}

export type ViolationKind = "unknown-layer" | "forbidden" | "types-only" | "computed";

export interface Violation {
  kind: ViolationKind;
  file: string;
  /** The specifier as written; "" for a violation of the file itself (an undeclared layer). */
  specifier: string;
  line: number;
  /** One line a person can act on. */
  message: string;
}

export function checkLayers(files: readonly string[], edges: readonly ImportEdge[], table: LayerTable): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const layer = layerOf(file);
    if (!table.has(layer)) {
      out.push({
        kind: "unknown-layer", file, specifier: "", line: 0,
        message: `${file}: layer "${layer}" is not in the layers table of docs/architecture.md; declare it and what it may import`,
      });
    }
  }
  for (const e of edges) {
    const at = `${e.from}:${e.line} imports "${e.specifier}"`;
    if (e.computed) {
      out.push({ kind: "computed", file: e.from, specifier: e.specifier, line: e.line, message: `${at}: the argument is not a string literal, so no layer check can follow it` });
      continue;
    }
    if (e.to === null) continue;
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    const rule = table.get(from);
    if (!rule || from === to) continue; // an undeclared layer is reported once, above
    if (rule.allowed.has(to)) continue;
    if (rule.typesOnly.has(to)) {
      if (e.typeOnly) continue;
      out.push({ kind: "types-only", file: e.from, specifier: e.specifier, line: e.line, message: `${at} (${from} → ${to}): ${from} may import ${to} for types only; use \`import type\`` });
      continue;
    }
    const may = [...rule.allowed].concat([...rule.typesOnly].map((t) => `${t} (types only)`));
    const unknown = table.has(to) || to.startsWith("../") ? "" : ` ("${to}" is not a declared layer)`;
    out.push({
      kind: "forbidden", file: e.from, specifier: e.specifier, line: e.line,
      message: `${at} (${from} → ${to})${unknown}: ${from} may import ${may.length ? `only ${may.join(", ")}` : "nothing outside its folder"}`,
    });
  }
  return out;
}

/**
 * One cycle per strongly connected component of the file graph (Tarjan), each as a path that
 * starts and ends at the same file, e.g. ["src/a.ts", "src/b.ts", "src/a.ts"]. A file that
 * imports itself is a cycle of one edge. Components and their start files come out sorted, so
 * the report is stable.
 */
export function findCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.to === null) continue;
    if (!next.has(e.from)) next.set(e.from, new Set());
    next.get(e.from)!.add(e.to);
  }
  const nodes = [...new Set([...next.keys(), ...[...next.values()].flatMap((s) => [...s])])].sort();
  const succ = (n: string): string[] => [...(next.get(n) ?? [])].sort();

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  // Iterative Tarjan: the graph is a few hundred files, but recursion depth should not depend on it.
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; rest: string[] }[] = [];
    const enter = (n: string): void => {
      index.set(n, counter);
      low.set(n, counter);
      counter++;
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, rest: succ(n) });
    };
    enter(root);
    while (work.length) {
      const top = work[work.length - 1]!;
      const w = top.rest.shift();
      if (w !== undefined) {
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const comp: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          comp.push(n);
        } while (n !== top.node);
        components.push(comp.sort());
      }
    }
  }

  const cycles: string[][] = [];
  for (const comp of components) {
    const start = comp[0]!;
    if (comp.length === 1 && !next.get(start)?.has(start)) continue;
    // Shortest way back to `start` inside the component (breadth-first).
    const inComp = new Set(comp);
    const prev = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length && !found) {
      const n = queue.shift()!;
      for (const w of succ(n)) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          prev.set(start, n);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, n);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let n = prev.get(start)!; n !== start; n = prev.get(n)!) path.push(n);
    path.push(start);
    cycles.push([path[0]!, ...path.slice(1, -1).reverse(), start]);
  }
  return cycles.sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

/** Every source file under `dir` (repo-relative, "/"-separated, sorted). */
export function listSourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const name of readdirSync(abs)) {
      const p = join(abs, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (SOURCE_EXTENSIONS.some((ext) => name.endsWith(ext)) && !name.endsWith(".d.ts")) {
        out.push(relative(root, p).split(sep).join("/"));
      }
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** The import edges of the given repo-relative files, read from disk under `root`. */
export function readImportEdges(root: string, files: readonly string[]): ImportEdge[] {
  const isFile = (p: string): boolean => {
    const abs = join(root, p);
    return existsSync(abs) && statSync(abs).isFile();
  };
  return files.flatMap((from) =>
    scanImports(from, readFileSync(join(root, from), "utf8")).map((site) => ({
      ...site,
      from,
      to: site.computed ? null : resolveImport(from, site.specifier, isFile),
    })),
  );
}

/** A violation the team knows of and has scheduled away: which file, which import, who removes it. */
export interface KnownViolation {
  file: string;
  import: string;
  /** The branch whose merge removes it. */
  removedBy: string;
}

/**
 * Splits violations into those not excused and the excuses that no longer match anything
 * (stale: the import is gone, so the entry must go too, or it would excuse a later regression).
 */
export function applyKnownViolations(
  violations: readonly Violation[],
  known: readonly KnownViolation[],
): { unexcused: Violation[]; stale: KnownViolation[] } {
  const matches = (k: KnownViolation, v: Violation): boolean => k.file === v.file && k.import === v.specifier;
  return {
    unexcused: violations.filter((v) => !known.some((k) => matches(k, v))),
    stale: known.filter((k) => !violations.some((v) => matches(k, v))),
  };
}

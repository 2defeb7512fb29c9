/**
 * Where each key sits in the TOML text, so every config error can name a line
 * (smol-toml gives positions only for syntax errors). A line scanner is enough:
 * TOML puts one key per line and tables on their own header lines.
 */
export class KeyLines {
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    let table = "";
    const rows = source.split(/\r?\n/);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(row);
      if (header) {
        table = normalisePath(header[1]!);
        if (!this.lines.has(table)) this.lines.set(table, i + 1);
        continue;
      }
      const key = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=/.exec(row);
      if (key) {
        const full = table ? `${table}.${normalisePath(key[1]!)}` : normalisePath(key[1]!);
        if (!this.lines.has(full)) this.lines.set(full, i + 1);
      }
    }
  }

  /**
   * The line of `path` ("network.apn"); for a key that is absent, the line of
   * the nearest enclosing table that is present; 1 when nothing matches.
   */
  lineOf(path: string): number {
    let p = path;
    for (;;) {
      const hit = this.lines.get(p);
      if (hit !== undefined) return hit;
      const dot = p.lastIndexOf(".");
      if (dot < 0) return 1;
      p = p.slice(0, dot);
    }
  }

  has(path: string): boolean {
    return this.lines.has(path);
  }
}

function normalisePath(raw: string): string {
  return raw
    .split(".")
    .map((part) => part.trim().replace(/^["'](.*)["']$/, "$1"))
    .join(".");
}

/**
 * Where each key sits in the TOML text, so every config error can name a line
 * (smol-toml gives positions only for syntax errors).
 *
 * A hand-written single pass over the text, not regular expressions: every
 * character is looked at a bounded number of times, so a hostile line (a "["
 * and a million spaces, 10,000 nested brackets, a megabyte key) costs linear
 * time. The old table-header regex backtracked in cubic time and hung `check`,
 * `run` and SIGHUP reload (issue 18).
 *
 * It understands just enough TOML to find keys: table headers, dotted keys with
 * bare or quoted parts, and values — skipped over, including strings, multi-line
 * strings and arrays that span lines, so text inside them is never taken for a
 * key. Keys inside inline tables are not recorded (their line is the line of the
 * key that holds the table). It never throws; text that is not TOML yields
 * whatever keys it can find.
 */
export class KeyLines {
  private readonly lines = new Map<string, number>();

  constructor(source: string) {
    new Scanner(source, (path, line) => {
      if (!this.lines.has(path)) this.lines.set(path, line);
    }).run();
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

const NL = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const EQ = 0x3d;
const DOT = 0x2e;
const DQ = 0x22;
const SQ = 0x27;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

function isBareKeyChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === 0x0b || c === 0x0c;
}

/**
 * The scan. `pos` only moves forward, and each step of every loop advances it,
 * so the whole scan is O(text length).
 */
class Scanner {
  private pos = 0;
  private line = 1;
  private table = "";

  constructor(
    private readonly s: string,
    private readonly record: (path: string, line: number) => void,
  ) {}

  run(): void {
    const s = this.s;
    while (this.pos < s.length) {
      // At the start of a line (outside any value).
      this.skipBlanks();
      if (this.pos >= s.length) break;
      const c = s.charCodeAt(this.pos);
      const line = this.line;
      if (c === LBRACKET) {
        this.header(line);
      } else if (isBareKeyChar(c) || c === DQ || c === SQ) {
        const key = this.dottedKey();
        this.skipBlanks();
        if (key !== null && s.charCodeAt(this.pos) === EQ) {
          this.pos++;
          this.record(this.table ? `${this.table}.${key}` : key, line);
        }
      }
      // The rest of the line: a value (which may span lines), a comment, or junk.
      this.restOfLine();
    }
  }

  /** `[a.b]` or `[[a.b]]`; on anything else the line is left to restOfLine. */
  private header(line: number): void {
    const s = this.s;
    this.pos++; // [
    const double = s.charCodeAt(this.pos) === LBRACKET;
    if (double) this.pos++;
    this.skipBlanks();
    const key = this.dottedKey();
    if (key === null) return;
    this.skipBlanks();
    if (s.charCodeAt(this.pos) !== RBRACKET) return;
    this.pos++;
    if (double) {
      if (s.charCodeAt(this.pos) !== RBRACKET) return;
      this.pos++;
    }
    this.table = key;
    this.record(key, line);
  }

  /** `a . "b.c" . 'd'` → `a.b.c.d`, or null when there is no key here. Stops before what follows. */
  private dottedKey(): string | null {
    const s = this.s;
    const parts: string[] = [];
    for (;;) {
      const part = this.simpleKey();
      if (part === null) return null;
      parts.push(part);
      // Look past blanks for a dot; if there is none, leave pos right after the key part's blanks.
      this.skipBlanks();
      if (s.charCodeAt(this.pos) !== DOT) return parts.join(".");
      this.pos++;
      this.skipBlanks();
    }
  }

  private simpleKey(): string | null {
    const s = this.s;
    const start = this.pos;
    const c = s.charCodeAt(start);
    if (c === DQ || c === SQ) {
      // A one-line quoted key; a backslash escapes the next character in "...".
      let i = start + 1;
      while (i < s.length) {
        const d = s.charCodeAt(i);
        if (d === c) {
          this.pos = i + 1;
          return s.slice(start + 1, i);
        }
        if (d === NL) break;
        i += c === DQ && d === BACKSLASH && s.charCodeAt(i + 1) !== NL ? 2 : 1;
      }
      this.pos = Math.min(i, s.length);
      return null;
    }
    let i = start;
    while (i < s.length && isBareKeyChar(s.charCodeAt(i))) i++;
    this.pos = i;
    return i > start ? s.slice(start, i) : null;
  }

  /**
   * Skip to the start of the next line that is outside any value: over strings
   * (one-line and multi-line), comments, and arrays or inline tables that span
   * lines. Stray closing brackets never make the depth negative.
   */
  private restOfLine(): void {
    const s = this.s;
    let depth = 0;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === NL) {
        this.pos++;
        this.line++;
        if (depth === 0) return;
      } else if (c === HASH) {
        while (this.pos < s.length && s.charCodeAt(this.pos) !== NL) this.pos++;
      } else if (c === DQ || c === SQ) {
        this.string(c);
      } else if (c === LBRACKET || c === LBRACE) {
        depth++;
        this.pos++;
      } else if (c === RBRACKET || c === RBRACE) {
        if (depth > 0) depth--;
        this.pos++;
      } else {
        this.pos++;
      }
    }
  }

  /** A basic or literal string, one-line or multi-line, starting at pos; ends after its closing quote(s). */
  private string(quote: number): void {
    const s = this.s;
    const multi = s.charCodeAt(this.pos + 1) === quote && s.charCodeAt(this.pos + 2) === quote;
    this.pos += multi ? 3 : 1;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === BACKSLASH && quote === DQ) {
        // Skip the escaped character. A line-ending backslash continues a multi-line string
        // (its newline still counts); in a one-line string it is an error and the string ends.
        this.pos++;
        if (s.charCodeAt(this.pos) === NL) {
          if (!multi) return;
          this.line++;
        }
        this.pos++;
        continue;
      }
      if (c === NL) {
        if (!multi) return; // an unterminated one-line string ends with its line (restOfLine sees the newline)
        this.line++;
        this.pos++;
        continue;
      }
      this.pos++;
      if (c === quote) {
        if (!multi) return;
        // Three to five quotes close a multi-line string (up to two belong to its content).
        if (s.charCodeAt(this.pos) === quote && s.charCodeAt(this.pos + 1) === quote) {
          this.pos += 2;
          let extra = 0;
          while (extra < 2 && s.charCodeAt(this.pos) === quote) {
            this.pos++;
            extra++;
          }
          return;
        }
      }
    }
  }

  /** Spaces and tabs (and CR, VT, FF: a stray CR before LF is not part of a key). */
  private skipBlanks(): void {
    const s = this.s;
    while (this.pos < s.length && isBlank(s.charCodeAt(this.pos))) this.pos++;
  }
}

/** KeyLines: which line each key and table sits on (for "file:line: key: message"). */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KeyLines } from "../../src/config/lines.ts";

describe("KeyLines", () => {
  test("tables, keys, dotted and quoted keys, comments", () => {
    const l = new KeyLines(
      [
        "# a comment [not.a.table]", // 1
        "top = 1", // 2
        "  [ modem ]  # the modem", // 3
        "port = \"auto\" # comment with = sign", // 4
        "  baud=9600", // 5
        "[recovery . \"maintenance\"]", // 6
        "schedule = '0 3 * * *'", // 7
        "[[ health.extra ]]", // 8
        "a . 'b' . \"c\" = 1", // 9
        "[[health.extra]]", // 10
        "a.b.c = 2", // 11
      ].join("\n"),
    );
    expect(l.lineOf("top")).toBe(2);
    expect(l.lineOf("modem")).toBe(3);
    expect(l.lineOf("modem.port")).toBe(4);
    expect(l.lineOf("modem.baud")).toBe(5);
    expect(l.lineOf("recovery.maintenance")).toBe(6);
    expect(l.lineOf("recovery.maintenance.schedule")).toBe(7);
    expect(l.lineOf("health.extra")).toBe(8); // the first of an array of tables
    expect(l.lineOf("health.extra.a.b.c")).toBe(9);
    expect(l.has("not.a.table")).toBe(false);
  });

  test("an absent key falls back to its nearest table, then to line 1", () => {
    const l = new KeyLines("\n\n[network]\napn = \"x\"\n");
    expect(l.lineOf("network.cid")).toBe(3);
    expect(l.lineOf("network.apn")).toBe(4);
    expect(l.lineOf("modem.port")).toBe(1);
  });

  test("text inside multi-line strings and multi-line arrays is not taken for keys or tables", () => {
    const l = new KeyLines(
      [
        "[modem]", // 1
        'init = ["""', // 2
        "[auth]", // 3
        'password = "x"', // 4
        '""", \'\'\'', // 5
        "[link]", // 6
        "''',", // 7
        '  "AT+X=1", # [ppp]', // 8
        "]", // 9
        'port = "auto"', // 10
        'pin = """a\\"""', // 11: an escaped quote does not end the string
        '[x]"""', // 12
        "baud = 1", // 13
      ].join("\n"),
    );
    expect(l.has("auth")).toBe(false);
    expect(l.has("auth.password")).toBe(false);
    expect(l.has("link")).toBe(false);
    expect(l.has("ppp")).toBe(false);
    expect(l.has("x")).toBe(false);
    expect(l.lineOf("modem.init")).toBe(2);
    expect(l.lineOf("modem.port")).toBe(10);
    expect(l.lineOf("modem.pin")).toBe(11);
    expect(l.lineOf("modem.baud")).toBe(13);
  });

  test("multi-line strings may end with extra quotes; line continuations count their newline", () => {
    const l = new KeyLines(['a = """x""""', 'b = """x\\', "  y\"\"\"", "c = 1", "d = '''q'''''", "e = 2"].join("\n"));
    expect(l.lineOf("a")).toBe(1);
    expect(l.lineOf("b")).toBe(2);
    expect(l.lineOf("c")).toBe(4);
    expect(l.lineOf("d")).toBe(5);
    expect(l.lineOf("e")).toBe(6);
  });

  test("CRLF line ends and a quoted key with an escaped quote", () => {
    const l = new KeyLines('[network]\r\napn = "x"\r\n"we\\"ird" = 1\r\ncid = 2\r\n');
    expect(l.lineOf("network.apn")).toBe(2);
    expect(l.lineOf('network.we\\"ird')).toBe(3);
    expect(l.lineOf("network.cid")).toBe(4);
  });

  test("junk lines never throw and do not hide the keys after them", () => {
    const l = new KeyLines(['"unterminated = 1', "= 2", "[[[", "]]]]", "'x", "[a", "k = 'open", "[ok]", "v = 1"].join("\n"));
    expect(l.lineOf("ok")).toBe(8);
    expect(l.lineOf("ok.v")).toBe(9);
  });

  test("every key of config.example.toml is found on the line that sets it", () => {
    const text = readFileSync(join(import.meta.dir, "../../config.example.toml"), "utf8");
    const l = new KeyLines(text);
    let table = "";
    let checked = 0;
    text.split("\n").forEach((row, i) => {
      const header = row.startsWith("[") ? row.slice(1, row.indexOf("]")) : null;
      if (header !== null) {
        table = header;
        expect(l.lineOf(table)).toBe(i + 1);
      } else if (/^[a-z_]+ =/.test(row)) {
        expect(l.lineOf(`${table}.${row.slice(0, row.indexOf(" "))}`)).toBe(i + 1);
        checked++;
      }
    });
    expect(checked).toBeGreaterThan(30);
  });
});

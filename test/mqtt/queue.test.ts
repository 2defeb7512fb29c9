/** The on-disk store-and-forward queue: order, once each, bound, torn writes, rewrite, reopen. */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventQueue } from "../../src/mqtt/queue.ts";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
function path(): string {
  dir = mkdtempSync(join(tmpdir(), "ck-queue-"));
  return join(dir, "state", "mqtt-queue.jsonl");
}
const bodies = (q: EventQueue) => q.peek().map((r) => r.body);

describe("EventQueue", () => {
  test("records leave in order; acknowledged ones never come back, also after a reopen", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 100, newEpoch: () => "e1" });
    expect([q.push('{"n":1}', 1), q.push('{"n":2}', 2), q.push('{"n":3}', 3)]).toEqual([1, 2, 3]);
    expect(q.after(1, 10).map((r) => r.seq)).toEqual([2, 3]);
    q.ackThrough(2);
    expect(bodies(q)).toEqual(['{"n":3}']);
    q.ackThrough(1); // an older ack changes nothing
    expect(q.stats()).toMatchObject({ epoch: "e1", pending: 1, lastSeq: 3, dropped: 0 });
    q.close();
    const again = new EventQueue({ path: p, max: 100, newEpoch: () => "other" });
    expect(again.stats()).toMatchObject({ epoch: "e1", pending: 1, lastSeq: 3 });
    expect(bodies(again)).toEqual(['{"n":3}']);
    expect(again.push('{"n":4}', 4)).toBe(4); // seqs go on: receivers never see an old id again
    again.close();
  });

  test("past the bound the oldest are dropped and counted, and the count survives a reopen", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 3 });
    for (let i = 1; i <= 8; i++) q.push(`{"n":${i}}`, i);
    expect(bodies(q)).toEqual(['{"n":6}', '{"n":7}', '{"n":8}']);
    expect(q.stats()).toMatchObject({ pending: 3, dropped: 5 });
    q.close();
    const again = new EventQueue({ path: p, max: 3 });
    expect(again.stats()).toMatchObject({ pending: 3, dropped: 5, lastSeq: 8 });
    again.close();
    // A smaller bound in the config: the oldest go at open.
    const smaller = new EventQueue({ path: p, max: 1 });
    expect(bodies(smaller)).toEqual(['{"n":8}']);
    expect(smaller.stats().dropped).toBe(7);
    smaller.close();
  });

  test("a torn last line (a write cut short) is skipped and cut off; the next append starts a line of its own", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 10 });
    q.push('{"n":1}', 1);
    q.close();
    appendFileSync(p, '{"seq":2,"at":2,"body":"{\\"n\\":');
    const again = new EventQueue({ path: p, max: 10 });
    expect(again.stats()).toMatchObject({ pending: 1, lastSeq: 1, skippedLines: 1 });
    expect(again.push('{"n":2}', 2)).toBe(2);
    again.close();
    const third = new EventQueue({ path: p, max: 10 });
    expect(bodies(third)).toEqual(['{"n":1}', '{"n":2}']);
    expect(third.stats().skippedLines).toBe(0);
    third.close();
  });

  test("a damaged line in the middle is skipped, the records around it kept", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 10 });
    q.push('{"n":1}', 1);
    q.close();
    appendFileSync(p, "\u0000\u0000garbage\n");
    const q2 = new EventQueue({ path: p, max: 10 });
    q2.push('{"n":2}', 2);
    q2.close();
    const q3 = new EventQueue({ path: p, max: 10 });
    expect(bodies(q3)).toEqual(['{"n":1}', '{"n":2}']);
    expect(q3.stats().skippedLines).toBe(1);
    q3.close();
  });

  test("the file is rewritten once acknowledged records make up most of it, and stays small", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 10_000 });
    for (let i = 1; i <= 3000; i++) {
      q.push(`{"n":${i},"pad":"${"x".repeat(100)}"}`, i);
      if (i % 10 === 0) q.ackThrough(i - 2);
    }
    expect(statSync(p).size).toBeLessThan(200_000);
    expect(q.stats().pending).toBe(2);
    q.close();
    const again = new EventQueue({ path: p, max: 10_000 });
    expect(again.peek().map((r) => r.seq)).toEqual([2999, 3000]);
    expect(again.stats().epoch).toBe(q.stats().epoch);
    again.close();
  });

  test("a file without a mark line (from an older or damaged write) gets an epoch and keeps its records", () => {
    const p = path();
    const q = new EventQueue({ path: p, max: 10 });
    q.close();
    writeFileSync(p, '{"seq":5,"at":1,"body":"{}"}\n');
    const again = new EventQueue({ path: p, max: 10, newEpoch: () => "fresh" });
    expect(again.stats()).toMatchObject({ epoch: "fresh", pending: 1, lastSeq: 5 });
    again.close();
    expect(readFileSync(p, "utf8")).toContain('"q":"fresh"');
  });

  test("a kill -9 right after push loses nothing: each push is in the file when it returns", async () => {
    const p = path();
    const script = join(dir, "pusher.ts");
    writeFileSync(
      script,
      `import { EventQueue } from ${JSON.stringify(join(import.meta.dir, "../../src/mqtt/queue.ts"))};
const q = new EventQueue({ path: ${JSON.stringify(p)}, max: 100000 });
let i = 0;
for (;;) { i++; q.push(JSON.stringify({ n: i }), i); if (i % 500 === 0) { process.stdout.write(i + "\\n"); await Bun.sleep(1); } }`,
    );
    const child = Bun.spawn([process.execPath, script], { stdout: "pipe" });
    const reader = child.stdout.getReader();
    let seen = 0;
    while (seen < 5000) {
      const { value, done } = await reader.read();
      if (done) break;
      const last = new TextDecoder().decode(value).trim().split("\n").at(-1);
      seen = Number(last);
    }
    child.kill("SIGKILL");
    await child.exited;
    const q = new EventQueue({ path: p, max: 100000 });
    const seqs = q.peek().map((r) => r.seq);
    // Everything the child had reported as pushed is there, gap-free, with bodies intact.
    expect(seqs.length).toBeGreaterThanOrEqual(seen);
    expect(seqs.every((s, i) => s === i + 1)).toBe(true);
    expect(q.peek().every((r) => JSON.parse(r.body).n === r.seq)).toBe(true);
    q.close();
  }, 30_000);
});

/**
 * The store-and-forward queue: events wait here, on disk in the state
 * directory, until the broker acknowledged them. One append-only file of JSON
 * lines:
 *
 *   {"q":"<epoch>","floor":0,"dropped":0}     a mark: the queue's epoch, every seq ≤ floor is done
 *   {"seq":1,"at":…,"body":"<json text>"}     a record
 *   {"floor":1,"dropped":0}                   a later mark after an acknowledgement or a drop
 *
 * Each append is one write(2) of whole lines, so a kill -9 of the agent loses
 * nothing already queued (the page cache outlives the process); a write cut
 * short (power loss, full disk) leaves at most a torn last line, which is
 * ignored and cut off on the next open. The file is rewritten (temp file,
 * fsync, rename) only when done records make up most of it.
 *
 * Records leave in seq order. A record is done when the broker acknowledged it
 * (QoS 1) or when it was dropped: past `max` pending records the oldest go,
 * and `dropped` counts them for the life of the queue. A crash between a
 * PUBACK and its mark re-sends that record; receivers drop it by (epoch, seq),
 * so each event reaches them once. The epoch is a random id made with the
 * file: a new state directory starts a new seq range that receivers do not
 * mistake for repeats.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { replaceFileDurably } from "../sys/durable-file.ts";
import { dirname } from "node:path";

export interface QueuedRecord {
  seq: number;
  /** ms since the epoch when the event was queued. */
  at: number;
  /** The payload text as it will be published. */
  body: string;
}

export interface QueueStats {
  epoch: string;
  pending: number;
  /** Records dropped past the bound since the queue file was created. */
  dropped: number;
  /** The last seq handed out (0: none yet). */
  lastSeq: number;
  /** Lines skipped at open (a torn last write, or damage). */
  skippedLines: number;
}

export interface QueueOptions {
  /** The queue file, e.g. /var/lib/cellkeep/mqtt-queue.jsonl. */
  path: string;
  /** Pending records kept; past it the oldest are dropped and counted. */
  max: number;
  /** Epoch for a new file (tests); default: random. */
  newEpoch?: () => string;
}

/** A record's body is bounded: one event is a few hundred bytes; this keeps a runaway field from filling the disk. */
export const MAX_BODY_BYTES = 16 * 1024;

export class EventQueue {
  private fd: number;
  private readonly path: string;
  private readonly max: number;
  private records: QueuedRecord[] = [];
  private floor = 0;
  private dropped = 0;
  private nextSeq = 1;
  private epoch: string;
  private skipped = 0;
  /** Lines in the file that are done (acknowledged, dropped) or marks: the rewrite threshold. */
  private deadLines = 0;
  private closed = false;

  constructor(opts: QueueOptions) {
    this.path = opts.path;
    this.max = Math.max(1, opts.max);
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o750 });
    const loaded = existsSync(this.path) ? this.load() : null;
    this.epoch = loaded?.epoch ?? (opts.newEpoch ?? randomEpoch)();
    this.fd = openSync(this.path, "a", 0o640);
    // A torn last line: cut it so the next append starts on a line of its own.
    if (loaded !== null && loaded.validBytes < loaded.fileBytes) ftruncateSync(this.fd, loaded.validBytes);
    if (loaded?.epoch == null) this.appendLines([markLine(this.epoch, this.floor, this.dropped)]);
    this.dropOverflow();
  }

  /** Queue one payload; returns its seq. Written to the file before this returns. */
  push(body: string, at: number): number {
    this.assertOpen();
    const text = Buffer.byteLength(body) > MAX_BODY_BYTES ? JSON.stringify({ truncated: true, bytes: Buffer.byteLength(body) }) : body;
    const rec: QueuedRecord = { seq: this.nextSeq++, at, body: text };
    this.records.push(rec);
    const lines = [JSON.stringify(rec)];
    if (this.records.length > this.max) {
      const gone = this.records.length - this.max;
      this.records.splice(0, gone);
      this.dropped += gone;
      this.floor = this.records[0]!.seq - 1;
      this.deadLines += gone + 1;
      lines.push(markLine(null, this.floor, this.dropped));
    }
    this.appendLines(lines);
    this.maybeRewrite();
    return rec.seq;
  }

  /** Pending records in seq order, the first `limit` of them. */
  peek(limit = Infinity): readonly QueuedRecord[] {
    return limit >= this.records.length ? this.records.slice() : this.records.slice(0, limit);
  }

  /** Pending records with a seq above `seq`, in order, at most `limit`. */
  after(seq: number, limit: number): readonly QueuedRecord[] {
    const head = this.records[0];
    if (head === undefined) return [];
    // Seqs are consecutive from the head (records leave only from the front).
    const start = Math.max(0, seq - head.seq + 1);
    return this.records.slice(start, start + limit);
  }

  /**
   * Every record up to and including `seq` is done (the broker acknowledged it).
   * Acknowledgements arrive in order (MQTT 3.1.1 §4.6); an older seq is a no-op.
   */
  ackThrough(seq: number): void {
    this.assertOpen();
    if (seq <= this.floor) return;
    let n = 0;
    while (n < this.records.length && this.records[n]!.seq <= seq) n++;
    if (n === 0) return;
    this.records.splice(0, n);
    this.floor = seq;
    this.deadLines += n + 1;
    this.appendLines([markLine(null, this.floor, this.dropped)]);
    this.maybeRewrite();
  }

  stats(): QueueStats {
    return { epoch: this.epoch, pending: this.records.length, dropped: this.dropped, lastSeq: this.nextSeq - 1, skippedLines: this.skipped };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the MQTT event queue is closed");
  }

  private appendLines(lines: string[]): void {
    // One write(2) per call: the lines land whole or (cut short by a power loss) torn at the end only.
    const data = Buffer.from(lines.map((l) => `${l}\n`).join(""));
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
  }

  /** Rewrite the file with only the pending records once done lines outnumber them (and are many). */
  private maybeRewrite(): void {
    if (this.deadLines < 1000 || this.deadLines < this.records.length) return;
    const text = [markLine(this.epoch, this.floor, this.dropped), ...this.records.map((r) => JSON.stringify(r))].map((l) => `${l}\n`).join("");
    replaceFileDurably(this.path, text, 0o640);
    closeSync(this.fd);
    this.fd = openSync(this.path, "a", 0o640);
    this.deadLines = 0;
  }

  private dropOverflow(): void {
    if (this.records.length <= this.max) return;
    // The bound may have been lowered in the config since the file was written.
    const gone = this.records.length - this.max;
    this.records.splice(0, gone);
    this.dropped += gone;
    this.floor = this.records[0]!.seq - 1;
    this.deadLines += gone + 1;
    this.appendLines([markLine(null, this.floor, this.dropped)]);
  }

  private load(): { epoch: string | null; validBytes: number; fileBytes: number } {
    const bytes = readFileSync(this.path);
    const fileBytes = bytes.length;
    let epoch: string | null = null;
    let maxSeq = 0;
    const bySeq = new Map<number, QueuedRecord>();
    // Only whole lines count: a last line without its newline is a write cut short.
    const validBytes = bytes.lastIndexOf(0x0a) + 1;
    if (validBytes < fileBytes) this.skipped++;
    for (const line of bytes.subarray(0, validBytes).toString("utf8").split("\n")) {
      if (line === "") continue;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.skipped++;
        continue;
      }
      if (typeof obj.seq === "number" && typeof obj.body === "string") {
        const rec = { seq: obj.seq, at: typeof obj.at === "number" ? obj.at : 0, body: obj.body };
        bySeq.set(rec.seq, rec);
        maxSeq = Math.max(maxSeq, rec.seq);
      } else if (typeof obj.floor === "number") {
        if (typeof obj.q === "string" && epoch === null) epoch = obj.q;
        this.floor = Math.max(this.floor, obj.floor);
        if (typeof obj.dropped === "number") this.dropped = Math.max(this.dropped, obj.dropped);
        this.deadLines++;
      } else {
        this.skipped++;
      }
    }
    this.records = [...bySeq.values()].filter((r) => r.seq > this.floor).sort((a, b) => a.seq - b.seq);
    this.deadLines += bySeq.size - this.records.length;
    this.nextSeq = Math.max(maxSeq, this.floor) + 1;
    return { epoch, validBytes, fileBytes };
  }
}

function markLine(epoch: string | null, floor: number, dropped: number): string {
  return JSON.stringify(epoch === null ? { floor, dropped } : { q: epoch, floor, dropped });
}

function randomEpoch(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex");
}

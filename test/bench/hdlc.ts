/**
 * HDLC framing throughput: `bun test/bench/hdlc.ts [seconds-per-case]`.
 * Encode and decode MB/s (of payload) for 1500-byte random payloads and for
 * worst-case all-escape payloads, under the default ACCM and under ACCM 0
 * with ACFC+PFC.
 *
 * Reference: the same algorithm in C (HDLC_REF_C at the end of this file).
 * The bench writes it to a temp dir, compiles it with `cc -O2`, runs it on
 * the same payloads and the same wire bytes in this run (checking that it
 * produces the same bytes), and prints both rates and the ratio TypeScript /
 * C for each case (goal: >= 0.5). Without a C compiler it says so and prints
 * the TypeScript figures alone. Prints, never asserts.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HdlcDecoder, encodeFrame } from "../../src/ppp/hdlc.ts";
import { DEFAULT_FRAMING, PROTO, type Framing } from "../../src/ppp/types.ts";

const seconds = Number(process.argv[2] ?? 0.6);
const N = 64;
const SIZE = 1500;
/** Goal from issue 13: each case at least half the C reference's rate. */
const GOAL_RATIO = 0.5;

function payloads(kind: "random" | "all-escape"): Uint8Array[] {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  return Array.from({ length: N }, () => {
    const p = new Uint8Array(SIZE);
    for (let i = 0; i < p.length; i++) p[i] = kind === "random" ? rnd() : [0x7e, 0x7d, 0x00, 0x11][rnd() & 3]!;
    return p;
  });
}

interface Rate {
  best: number;
  median: number;
}

/**
 * Runs `fn` in short rounds and reports the median and the best round. The
 * machine is shared, so the best round is the fairest figure for what the
 * code can do; the median shows what it did under the current load. The C
 * reference measures the same way (150 ms warm-up, 8 rounds).
 */
function measure(payloadBytes: number, fn: () => void): Rate {
  // warm-up so the JIT settles
  const warmEnd = performance.now() + 150;
  while (performance.now() < warmEnd) fn();
  const rounds: number[] = [];
  const roundMs = (seconds * 1000) / 8;
  for (let r = 0; r < 8; r++) {
    let iters = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < roundMs) {
      fn();
      iters++;
      t1 = performance.now();
    }
    rounds.push((iters * payloadBytes) / 1e6 / ((t1 - t0) / 1000));
  }
  rounds.sort((x, y) => x - y);
  return { median: rounds[rounds.length >> 1]!, best: rounds[rounds.length - 1]! };
}

const framings: [string, Framing][] = [
  ["default ACCM", DEFAULT_FRAMING],
  ["ACCM 0, ACFC+PFC", { accm: 0, acfc: true, pfc: true, fcs32: false }],
];

/** Compile the C reference; null (with the reason printed) when there is no compiler or it fails. */
function buildReference(dir: string): string | null {
  const cc = Bun.which("cc");
  if (cc === null) {
    console.log("C reference: no `cc` on PATH, so no C figures and no ratios in this run");
    return null;
  }
  const src = path.join(dir, "hdlc-ref.c");
  const bin = path.join(dir, "hdlc-ref");
  fs.writeFileSync(src, HDLC_REF_C);
  const r = Bun.spawnSync([cc, "-O2", "-o", bin, src], { stderr: "pipe" });
  if (r.exitCode !== 0) {
    console.log(`C reference: cc -O2 failed (exit ${r.exitCode}), so no ratios in this run: ${r.stderr.toString().trim()}`);
    return null;
  }
  return bin;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Run the C reference on one case: its encode and decode rates, and whether its bytes matched ours. */
function runReference(bin: string, dir: string, ps: Uint8Array[], wire: Uint8Array, framing: Framing): { encode: Rate; decode: Rate; ok: boolean } | null {
  const pf = path.join(dir, "payloads.bin");
  const wf = path.join(dir, "wire.bin");
  fs.writeFileSync(pf, concatAll(ps));
  fs.writeFileSync(wf, wire);
  const args = [pf, String(N), String(SIZE), wf, (framing.accm >>> 0).toString(16), framing.acfc ? "1" : "0", framing.pfc ? "1" : "0", String(seconds)];
  const r = Bun.spawnSync([bin, ...args], { stderr: "pipe" });
  const f = r.stdout.toString().trim().split(/\s+/);
  if (r.exitCode !== 0 || f.length !== 5) {
    console.log(`C reference failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`);
    return null;
  }
  return { encode: { best: Number(f[0]), median: Number(f[1]) }, decode: { best: Number(f[2]), median: Number(f[3]) }, ok: f[4] === "ok" };
}

/** The C reference (see the top of this file), written out and compiled by the bench. */
const HDLC_REF_C = String.raw`/*
 * C reference for test/bench/hdlc.ts: the same HDLC-like framing (RFC 1662)
 * as src/ppp/hdlc.ts, written the way a C implementation would be, compiled
 * with "cc -O2" by the bench and run on the same input.
 *
 * Same algorithm as the TypeScript:
 * - FCS-16 with the two-octet table (fcs.ts fcs16Table2) plus the byte table
 *   for an odd last octet;
 * - encode: header and FCS assembled unescaped, then every octet between the
 *   flags escaped through a 256-entry table built from the ACCM;
 * - decode: flag / escape / ACCM-dropped control character per octet into a
 *   frame buffer, FCS check, address/control and protocol parsed, the
 *   information field copied out (the TypeScript hands each frame its own
 *   copy).
 *
 * Usage: hdlc-ref <payloads file> <count> <size> <wire file> <accm hex> <acfc 0|1> <pfc 0|1> <seconds>
 * Prints one line: encode_best encode_median decode_best decode_median
 * (MB/s of payload) and "ok" when its encoding equals the wire file byte for
 * byte and its decoding returns every payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLAG 0x7e
#define ESC 0x7d

static uint16_t t1[256];
static uint16_t t2[65536];
static uint8_t esc[256];

static void init_tables(uint32_t accm) {
  for (int b = 0; b < 256; b++) {
    uint16_t v = (uint16_t)b;
    for (int i = 0; i < 8; i++) v = (v & 1) ? (uint16_t)((v >> 1) ^ 0x8408) : (uint16_t)(v >> 1);
    t1[b] = v;
  }
  for (uint32_t x = 0; x < 65536; x++) {
    uint16_t f = (uint16_t)x;
    f = (uint16_t)((f >> 8) ^ t1[f & 0xff]);
    f = (uint16_t)((f >> 8) ^ t1[f & 0xff]);
    t2[x] = f;
  }
  memset(esc, 0, sizeof esc);
  for (int c = 0; c < 32; c++)
    if ((accm >> c) & 1) esc[c] = 1;
  esc[FLAG] = 1;
  esc[ESC] = 1;
}

static inline uint16_t fcs16(uint16_t f, const uint8_t *p, size_t n) {
  size_t i = 0;
  for (; i + 1 < n; i += 2) f = t2[f ^ (uint16_t)(p[i] | (p[i + 1] << 8))];
  if (i < n) f = (uint16_t)((f >> 8) ^ t1[(f ^ p[i]) & 0xff]);
  return f;
}

static inline size_t escape_into(uint8_t *out, size_t o, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t b = src[i];
    if (esc[b]) {
      out[o++] = ESC;
      out[o++] = b ^ 0x20;
    } else
      out[o++] = b;
  }
  return o;
}

static size_t encode(uint16_t protocol, const uint8_t *info, size_t n, int acfc, int pfc, uint8_t *out) {
  uint8_t edge[8];
  size_t h = 0;
  if (!acfc) {
    edge[h++] = 0xff;
    edge[h++] = 0x03;
  }
  if (!(pfc && protocol < 0x100 && (protocol & 1))) edge[h++] = (uint8_t)(protocol >> 8);
  edge[h++] = (uint8_t)protocol;
  uint16_t f = fcs16(fcs16(0xffff, edge, h), info, n) ^ 0xffff;
  edge[h] = (uint8_t)f;
  edge[h + 1] = (uint8_t)(f >> 8);
  size_t o = 0;
  out[o++] = FLAG;
  o = escape_into(out, o, edge, h);
  o = escape_into(out, o, info, n);
  o = escape_into(out, o, edge + h, 2);
  out[o++] = FLAG;
  return o;
}

/* Decoder state (kept across calls, like HdlcDecoder). */
static uint8_t frame[1500 + 8];
static size_t flen;
static int escaped;
static size_t frames_found;
static uint8_t *info_out; /* where each frame's information field is copied */
static size_t info_out_len;

static void finish(void) {
  if (flen < 4 || fcs16(0xffff, frame, flen) != 0xf0b8) return;
  size_t end = flen - 2, p = 0;
  if (frame[0] == 0xff) {
    if (end < 2 || frame[1] != 0x03) return;
    p = 2;
  }
  if (p >= end) return;
  if (!(frame[p] & 1)) {
    if (p + 1 >= end || !(frame[p + 1] & 1)) return;
    p += 2;
  } else
    p += 1;
  memcpy(info_out + info_out_len, frame + p, end - p);
  info_out_len += end - p;
  frames_found++;
}

static void decode(const uint8_t *in, size_t n, uint32_t accm) {
  for (size_t i = 0; i < n; i++) {
    uint8_t b = in[i];
    if (b == FLAG) {
      if (flen > 0 && !escaped) finish();
      flen = 0;
      escaped = 0;
      continue;
    }
    if (b == ESC) {
      escaped = 1;
      continue;
    }
    if (b < 0x20 && ((accm >> b) & 1)) continue;
    if (escaped) {
      b ^= 0x20;
      escaped = 0;
    }
    if (flen == sizeof frame) {
      flen = 0; /* oversize: dropped (not reached by the bench input) */
      continue;
    }
    frame[flen++] = b;
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len ? *len : 1);
  if (fread(b, 1, *len, f) != *len) {
    perror(path);
    exit(2);
  }
  fclose(f);
  return b;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static volatile size_t sink_total;

/* 150 ms warm-up, then 8 rounds of seconds/8 each; best and median MB/s of payload. */
static void measure(int which, const uint8_t *payloads, size_t count, size_t size, const uint8_t *wire, size_t wire_len,
                    uint32_t accm, int acfc, int pfc, double seconds, uint8_t *out, double *best, double *median) {
  double rounds[8];
  double warm_end = now_ms() + 150;
  for (int r = -1; r < 8; r++) {
    double round_ms = seconds * 1000 / 8;
    long iters = 0;
    double t0 = now_ms(), t1 = t0;
    while (r < 0 ? t1 < warm_end : t1 - t0 < round_ms) {
      if (which == 0) {
        size_t total = 0;
        for (size_t k = 0; k < count; k++) total += encode(0x0021, payloads + k * size, size, acfc, pfc, out);
        sink_total += total;
      } else {
        info_out_len = 0;
        decode(wire, wire_len, accm);
        sink_total += frames_found;
      }
      iters++;
      t1 = now_ms();
    }
    if (r >= 0) rounds[r] = (double)iters * count * size / 1e6 / ((t1 - t0) / 1000);
  }
  qsort(rounds, 8, sizeof rounds[0], cmp);
  *best = rounds[7];
  *median = rounds[4];
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s payloads count size wire accm acfc pfc seconds\n", argv[0]);
    return 2;
  }
  size_t plen, wire_len;
  uint8_t *payloads = read_file(argv[1], &plen);
  size_t count = strtoul(argv[2], 0, 10), size = strtoul(argv[3], 0, 10);
  uint8_t *wire = read_file(argv[4], &wire_len);
  uint32_t accm = (uint32_t)strtoul(argv[5], 0, 16);
  int acfc = atoi(argv[6]), pfc = atoi(argv[7]);
  double seconds = atof(argv[8]);
  init_tables(accm);
  uint8_t *out = malloc(2 * (size + 8) + 2);
  info_out = malloc(count * size);

  /* Check: the same bytes as the TypeScript encoder, and every payload back from the decoder. */
  int ok = 1;
  size_t at = 0;
  for (size_t k = 0; k < count && ok; k++) {
    size_t n = encode(0x0021, payloads + k * size, size, acfc, pfc, out);
    if (at + n > wire_len || memcmp(out, wire + at, n) != 0) ok = 0;
    at += n;
  }
  if (at != wire_len) ok = 0;
  flen = 0;
  escaped = 0;
  frames_found = 0;
  info_out_len = 0;
  decode(wire, wire_len, accm);
  if (frames_found != count || info_out_len != count * size || memcmp(info_out, payloads, count * size) != 0) ok = 0;

  double eb, em, db, dm;
  measure(0, payloads, count, size, wire, wire_len, accm, acfc, pfc, seconds, out, &eb, &em);
  measure(1, payloads, count, size, wire, wire_len, accm, acfc, pfc, seconds, out, &db, &dm);
  printf("%.1f %.1f %.1f %.1f %s\n", eb, em, db, dm, ok ? "ok" : "MISMATCH");
  return 0;
}
`;

const fmt = (x: number) => x.toFixed(0).padStart(5);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ck-hdlc-bench-"));
try {
  const bin = buildReference(tmp);
  console.log(`HDLC bench: ${N} x ${SIZE}-byte payloads per round, ${seconds}s per case; MB/s of payload, best round (median)`);
  if (bin) console.log("C = the same algorithm in C (cc -O2), same input, same run");
  const ratios: number[] = [];
  const results: number[] = [];
  for (const kind of ["random", "all-escape"] as const) {
    const ps = payloads(kind);
    for (const [fname, framing] of framings) {
      const wire = concatAll(ps.map((p) => encodeFrame(PROTO.IPV4, p, framing)));
      const enc = measure(N * SIZE, () => {
        for (const p of ps) encodeFrame(PROTO.IPV4, p, framing);
      });
      const dec = new HdlcDecoder({ accm: framing.accm });
      const decRate = measure(N * SIZE, () => {
        const evs = dec.push(wire);
        if (evs.length !== N) throw new Error("decode lost frames");
      });
      const ref = bin ? runReference(bin, tmp, ps, wire, framing) : null;
      for (const [op, ts, c] of [
        ["encode", enc, ref?.encode],
        ["decode", decRate, ref?.decode],
      ] as const) {
        results.push(ts.best);
        let line = `${`${op} ${kind} (${fname})`.padEnd(38)} TS ${fmt(ts.best)} (${fmt(ts.median)})`;
        if (c) {
          const ratio = ts.best / c.best;
          ratios.push(ratio);
          line += `   C ${fmt(c.best)} (${fmt(c.median)})   TS/C ${ratio.toFixed(2)}`;
        }
        console.log(line);
      }
      if (ref && !ref.ok) console.log("  C reference: its bytes DIFFER from the TypeScript encoder's or its decode lost payloads; the ratios above compare unlike work");
    }
  }
  console.log(`slowest TypeScript case (best round): ${Math.min(...results).toFixed(0)} MB/s`);
  if (ratios.length > 0) {
    const worst = Math.min(...ratios);
    console.log(`lowest TS/C ratio: ${worst.toFixed(2)} (goal >= ${GOAL_RATIO}: ${worst >= GOAL_RATIO ? "met" : "NOT met"})`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

/**
 * PPP fuzzing engine shared by test/ppp/fuzz.test.ts (fixed seed, CI-sized)
 * and test/bench/ppp-fuzz.ts (long runs).
 *
 * Seeds: every frame two real sessions (client and server, PAP and CHAP)
 * exchange while negotiating, plus hand-made LCP extras (echo, terminate,
 * code/protocol reject, CCP). Mutations: bit flips, octet overwrites,
 * truncation, extension, length-field and option-type corruption, protocol
 * swaps and pure random frames. Most frames go straight into
 * PppSession.input (fast); a share goes through encodeFrame → wire
 * corruption → the AT channel core in data mode → HdlcDecoder → session, to
 * fuzz the de-framer and the channel's modem-text matcher too.
 */
import { AtChannelCore } from "../../src/at/core.ts";
import { HdlcDecoder, encodeFrame } from "../../src/ppp/hdlc.ts";
import { PppSession, type PppSessionOptions } from "../../src/ppp/session.ts";
import { DEFAULT_FRAMING, PROTO, type PppFrame } from "../../src/ppp/types.ts";
import { USERS, clientOptions, serverOptions } from "./ppp-pair.ts";

/** xorshift32: fast, deterministic, good enough for fuzzing. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  byte(): number {
    return this.next() & 0xff;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

const PHASES = new Set(["dead", "establish", "authenticate", "network", "open", "terminate"]);
const FSM_STATES = new Set(["initial", "starting", "closed", "stopped", "closing", "stopping", "req-sent", "ack-rcvd", "ack-sent", "opened"]);

/** Run two sessions against each other at the frame level and return every frame exchanged. */
export function seedFrames(): PppFrame[] {
  const out: PppFrame[] = [];
  for (const auth of ["pap", "chap", "none"] as const) {
    const c = new PppSession({ ...clientOptions(auth), ncps: { ipv4: true, ipv6: true } });
    const s = new PppSession({ ...serverOptions(auth), ncps: { ipv4: true, ipv6: true } });
    let now = 1_000_000;
    c.open(now);
    s.open(now);
    for (let round = 0; round < 50; round++) {
      const fc = c.drain().frames;
      const fs = s.drain().frames;
      if (fc.length === 0 && fs.length === 0) {
        now += 3000;
        c.poll(now);
        s.poll(now);
        if (round > 30) break;
        continue;
      }
      for (const f of fc) {
        out.push(f);
        s.input(f, now);
      }
      for (const f of fs) {
        out.push(f);
        c.input(f, now);
      }
    }
    c.sendIp(4, new Uint8Array([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1]), now);
    out.push(...c.drain().frames);
  }
  const lcp = (code: number, id: number, data: number[]) => ({
    protocol: PROTO.LCP,
    info: new Uint8Array([code, id, 0, 4 + data.length, ...data]),
  });
  out.push(
    lcp(9, 1, [0, 0, 0, 0]), // Echo-Request, magic 0
    lcp(10, 1, [1, 2, 3, 4]), // Echo-Reply
    lcp(11, 1, [0, 0, 0, 0, 1, 2]), // Discard-Request
    lcp(12, 1, [1, 2, 3, 4, 0x68, 0x69]), // Identification
    lcp(13, 1, [1, 2, 3, 4, 0, 0, 0, 60]), // Time-Remaining
    lcp(5, 7, [0x62, 0x79, 0x65]), // Terminate-Request "bye"
    lcp(6, 7, []), // Terminate-Ack
    lcp(7, 1, [1, 1, 0, 4]), // Code-Reject
    lcp(8, 1, [0x80, 0x21, 1, 1, 0, 4]), // Protocol-Reject of IPCP
    lcp(1, 3, [1, 4, 5, 220, 3, 4, 0xc0, 0x23, 5, 6, 1, 2, 3, 4, 7, 2, 8, 2, 13, 3, 6]), // ConfReq MRU/PAP/magic/PFC/ACFC/callback
    lcp(1, 4, [3, 5, 0xc2, 0x23, 5]), // ConfReq CHAP-MD5
    lcp(1, 5, [2, 6, 0, 0, 0, 0]), // ConfReq ACCM 0
    { protocol: PROTO.CCP, info: new Uint8Array([1, 1, 0, 4]) },
    { protocol: PROTO.IPCP, info: new Uint8Array([1, 1, 0, 16, 2, 6, 0, 0x2d, 0x0f, 1, 3, 6, 0, 0, 0, 0]) },
    { protocol: PROTO.LQR, info: new Uint8Array(48) },
  );
  return out;
}

export interface FuzzReport {
  frames: number;
  wireFrames: number;
  decoder: HdlcDecoder["counters"];
  /** Wire frames followed by the modem's NO CARRIER. */
  noCarrierTexts: number;
  /** Times the AT channel core left data mode (must equal noCarrierTexts: nothing else ends it). */
  dataModeEnds: number;
  /** Notices the sessions emitted for internal errors they caught (bugs, should stay 0). */
  internalErrors: string[];
  reopens: number;
  phasesSeen: Set<string>;
  lcpStatesSeen: Set<string>;
  discarded: number;
  protocolRejectsSent: number;
  framesOut: number;
  inconsistencies: string[];
}

export interface FuzzOptions {
  seed: number;
  frames: number;
  /** Share of frames that go through HDLC encode → corrupt → decode (default 0.1). */
  wireShare?: number;
}

function mutate(rng: Rng, seeds: PppFrame[], protocols: number[]): PppFrame {
  const kind = rng.int(12);
  if (kind === 0) {
    // pure random frame of a known control protocol
    return { protocol: protocols[rng.int(protocols.length)]!, info: rng.bytes(rng.int(64)) };
  }
  const base = seeds[rng.int(seeds.length)]!;
  let info = base.info.slice();
  let protocol = base.protocol;
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits; e++) {
    switch (rng.int(9)) {
      case 0: // bit flip
        if (info.length) info[rng.int(info.length)]! ^= 1 << rng.int(8);
        break;
      case 1: // octet overwrite
        if (info.length) info[rng.int(info.length)] = rng.byte();
        break;
      case 2: // truncate
        info = info.slice(0, rng.int(info.length + 1));
        break;
      case 3: {
        // extend with random octets
        const ext = new Uint8Array(info.length + 1 + rng.int(16));
        ext.set(info);
        ext.set(rng.bytes(ext.length - info.length), info.length);
        info = ext;
        break;
      }
      case 4: // corrupt the length field (octets 2-3)
        if (info.length >= 4) {
          const v = rng.int(3) === 0 ? rng.int(0x10000) : info.length + rng.int(9) - 4;
          info[2] = (v >>> 8) & 0xff;
          info[3] = v & 0xff;
        }
        break;
      case 5: // corrupt an option's type or length (options start at 4)
        if (info.length > 5) info[4 + rng.int(info.length - 4)] = rng.int(3) === 0 ? 0 : rng.int(40);
        break;
      case 6: // another control protocol, same body
        protocol = protocols[rng.int(protocols.length)]!;
        break;
      case 7: // code field
        if (info.length) info[0] = rng.int(16);
        break;
      default: // identifier
        if (info.length > 1) info[1] = rng.byte();
    }
  }
  return { protocol, info };
}

/**
 * Modem result text after a frame's closing flag: the AT channel core ends
 * data mode on "NO CARRIER" (src/at/core.ts), never on anything else.
 */
type ModemText = "NO CARRIER" | "RING";

function corruptWire(rng: Rng, wire: Uint8Array): { wire: Uint8Array; text: ModemText | null } {
  const w = corruptFrame(rng, wire);
  if (w !== null) return { wire: w, text: null };
  const text: ModemText = rng.int(2) ? "NO CARRIER" : "RING";
  return { wire: new Uint8Array([...wire, ...new TextEncoder().encode(`\r\n${text}\r\n`)]), text };
}

/** A corrupted (or intact) copy of the wire frame; null for "append modem text". */
function corruptFrame(rng: Rng, wire: Uint8Array): Uint8Array | null {
  const w = wire.slice();
  switch (rng.int(6)) {
    case 0:
      if (w.length > 2) w[1 + rng.int(w.length - 2)]! ^= 1 << rng.int(8);
      return w;
    case 1: // drop an octet
      if (w.length > 2) {
        const i = 1 + rng.int(w.length - 2);
        return new Uint8Array([...w.subarray(0, i), ...w.subarray(i + 1)]);
      }
      return w;
    case 2: // insert a flag, an escape or an abort
      {
        const i = 1 + rng.int(Math.max(1, w.length - 2));
        const ins = [[0x7e], [0x7d], [0x7d, 0x7e], [0x11], [0x13]][rng.int(5)]!;
        return new Uint8Array([...w.subarray(0, i), ...ins, ...w.subarray(i)]);
      }
    case 3: // line noise before the frame
      return new Uint8Array([...rng.bytes(rng.int(8)), ...w]);
    case 4: // modem text after the closing flag
      return null;
    default:
      return w; // intact
  }
}

/** One side's serial line in data mode: AT channel core → HDLC decoder → session. */
class DataModeLine {
  private readonly core: AtChannelCore;
  ended = false;

  constructor(decoder: HdlcDecoder, session: PppSession, now: () => number) {
    this.core = new AtChannelCore({
      write: () => {},
      response: () => {},
      urc: () => {},
      data: (bytes) => decoder.decode(bytes, (ev) => session.input({ protocol: ev.protocol, info: ev.info }, now())),
      dataStarted: () => {},
      dataEnded: () => {
        this.ended = true;
      },
    });
    this.redial();
  }

  receive(bytes: Uint8Array): void {
    this.core.receive(bytes, 0);
  }

  /** ATD → CONNECT: data mode again. */
  redial(): void {
    this.ended = false;
    this.core.submit({ command: "ATD*99#", timeoutMs: 60_000 }, 0);
    this.core.receive(CONNECT, 0);
    if (this.core.mode !== "data") throw new Error("fuzz line: CONNECT did not enter data mode");
  }
}

const CONNECT = new TextEncoder().encode("\r\nCONNECT\r\n");

/** Pairs that can complete a negotiation; each side is fuzzed in turn. */
const PAIR_KINDS: [() => PppSessionOptions, () => PppSessionOptions][] = [
  [() => ({ ...clientOptions("pap"), ncps: { ipv4: true, ipv6: true } }), () => ({ ...serverOptions("pap"), ncps: { ipv4: true, ipv6: true } })],
  [() => clientOptions("chap"), () => serverOptions("chap")],
  [() => ({ role: "client", auth: { method: "auto", username: "alice", password: USERS.alice! } }), () => serverOptions("chap")],
  [() => clientOptions("none"), () => serverOptions("none")],
];

interface Pair {
  a: PppSession;
  b: PppSession;
  decA: HdlcDecoder;
  decB: HdlcDecoder;
  lineA: DataModeLine;
  lineB: DataModeLine;
}

function checkConsistent(s: PppSession, where: string, out: string[]): { phase: string; lcp: string } {
  const st = s.status();
  const bad = (m: string) => out.length < 20 && out.push(`${where}: ${m} (${JSON.stringify({ phase: st.phase, lcp: st.lcp, ipcp: st.ipcp, ipv6cp: st.ipv6cp })})`);
  if (!PHASES.has(st.phase)) bad(`unknown phase ${st.phase}`);
  for (const k of ["lcp", "ipcp", "ipv6cp"] as const) if (!FSM_STATES.has(st[k])) bad(`unknown ${k} state ${st[k]}`);
  if ((st.phase === "authenticate" || st.phase === "network" || st.phase === "open") && st.lcp !== "opened") bad("phase past establish without LCP opened");
  if (st.phase === "open" && st.ipcp !== "opened" && st.ipv6cp !== "opened") bad("phase open with no NCP opened");
  if (st.lcp !== "opened" && (st.ipcp === "opened" || st.ipv6cp === "opened")) bad("an NCP opened while LCP is not");
  if (st.ipv4 && st.ipcp !== "opened") bad("IPv4 addresses reported while IPCP is not opened");
  const d = s.nextDeadline();
  if (d !== null && !Number.isFinite(d)) bad(`deadline ${d}`);
  return { phase: st.phase, lcp: st.lcp };
}

export function runFuzz(opts: FuzzOptions): FuzzReport {
  const rng = new Rng(opts.seed);
  const seeds = seedFrames();
  const protocols = [PROTO.LCP, PROTO.PAP, PROTO.CHAP, PROTO.IPCP, PROTO.IPV6CP, PROTO.CCP, PROTO.IPV4, PROTO.IPV6, 0x8001, 0x0031];
  const wireShare = opts.wireShare ?? 0.1;
  const report: FuzzReport = {
    frames: 0,
    wireFrames: 0,
    decoder: new HdlcDecoder().counters,
    noCarrierTexts: 0,
    dataModeEnds: 0,
    internalErrors: [],
    reopens: 0,
    phasesSeen: new Set(),
    lcpStatesSeen: new Set(),
    discarded: 0,
    protocolRejectsSent: 0,
    framesOut: 0,
    inconsistencies: [],
  };
  let now = 1_700_000_000_000;
  const collect = (x: PppSession) => {
    const out = x.drain();
    report.framesOut += out.frames.length;
    for (const e of out.events) {
      if (e.type === "ppp.notice" && e.detail.startsWith("internal error") && report.internalErrors.length < 20) report.internalErrors.push(e.detail);
    }
    return out.frames;
  };
  const retired: PppSession[] = [];
  const retiredDecoders: HdlcDecoder[] = [];
  const newPair = (k: number): Pair => {
    const [ka, kb] = PAIR_KINDS[k % PAIR_KINDS.length]!;
    const a = new PppSession({ ...ka(), random: (n) => rng.bytes(n) });
    const b = new PppSession({ ...kb(), random: (n) => rng.bytes(n) });
    const decA = new HdlcDecoder();
    const decB = new HdlcDecoder();
    const pair: Pair = { a, b, decA, decB, lineA: new DataModeLine(decA, a, () => now), lineB: new DataModeLine(decB, b, () => now) };
    pair.a.open(now);
    pair.b.open(now);
    return pair;
  };
  /** Let the pair talk (real negotiation), with fuzz frames mixed in now and then. */
  const converse = (p: Pair, rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      const fa = collect(p.a);
      const fb = collect(p.b);
      if (fa.length === 0 && fb.length === 0) {
        now += 1000;
        p.a.poll(now);
        p.b.poll(now);
      }
      for (const f of fa) p.b.input(f, now);
      for (const f of fb) p.a.input(f, now);
      if (rng.int(4) === 0) (rng.int(2) ? p.a : p.b).input(mutate(rng, seeds, protocols), now);
    }
  };
  const pairs = PAIR_KINDS.map((_, k) => newPair(k));
  for (const p of pairs) converse(p, 30);

  for (let i = 0; i < opts.frames; i++) {
    const k = i % pairs.length;
    const p = pairs[k]!;
    const toA = (i & 4) === 0;
    const s = toA ? p.a : p.b;
    const frame = mutate(rng, seeds, protocols);
    if (rng.next() / 0x100000000 < wireShare) {
      // Through the de-framer: encode (sometimes with negotiated-style framing), corrupt, decode.
      const framing = rng.int(3) === 0 ? { accm: rng.next(), acfc: true, pfc: true, fcs32: false } : DEFAULT_FRAMING;
      const { wire, text } = corruptWire(rng, encodeFrame(frame.protocol, frame.info, framing));
      const dec = toA ? p.decA : p.decB;
      const line = toA ? p.lineA : p.lineB;
      dec.setAccm(rng.int(4) === 0 ? framing.accm : 0xffffffff);
      // Split the wire at a random point, like a serial read would.
      const cut = rng.int(wire.length + 1);
      line.receive(wire.subarray(0, cut));
      line.receive(wire.subarray(cut));
      if (text === "NO CARRIER") report.noCarrierTexts++;
      if (line.ended) {
        report.dataModeEnds++;
        // The AT channel ended the pipe: PPP's lower layer is gone. Only sometimes, to keep
        // sessions up long enough to fuzz deep states; then the next call's CONNECT.
        if (rng.int(8) === 0) s.lowerDown(now);
        line.redial();
      }
      report.wireFrames++;
    } else {
      s.input(frame, now);
    }
    report.frames++;
    if ((i & 63) === 63) {
      // Time passes; the partner hears what the fuzzed side says (keeps echo/retransmits honest).
      now += rng.int(2000);
      for (const x of pairs) {
        x.a.poll(now);
        x.b.poll(now);
        converse(x, 1);
      }
    }
    if ((i & 1023) === 1023) {
      for (let j = 0; j < pairs.length; j++) {
        const x = pairs[j]!;
        for (const [side, ses] of [["a", x.a], ["b", x.b]] as const) {
          const { phase, lcp } = checkConsistent(ses, `frame ${i} pair ${j}${side}`, report.inconsistencies);
          report.phasesSeen.add(phase);
          report.lcpStatesSeen.add(lcp);
        }
        // Renegotiate from scratch when the fuzz broke the link, or now and then anyway.
        if (x.a.status().phase !== "open" || x.b.status().phase !== "open" || rng.int(4) === 0) {
          retired.push(x.a, x.b);
          retiredDecoders.push(x.decA, x.decB);
          const np = newPair(j);
          pairs[j] = np;
          report.reopens++;
          converse(np, 30);
          report.phasesSeen.add(np.a.status().phase);
        }
      }
    }
  }
  const all = [...retired, ...pairs.flatMap((x) => [x.a, x.b])];
  for (const x of all) {
    collect(x);
    const c = x.status().counters;
    report.discarded += c.discarded;
    report.protocolRejectsSent += c.protocolRejectsSent;
  }
  const sum = report.decoder;
  for (const d of [...retiredDecoders, ...pairs.flatMap((x) => [x.decA, x.decB])]) for (const key of Object.keys(sum) as (keyof typeof sum)[]) sum[key] += d.counters[key];
  return report;
}

/**
 * A CmuxSession against a module that does not obey the rules, on fake
 * time: the module side is a responder CmuxCore on the far end of a memory
 * pipe, with raw frames injected and some of the host's frames intercepted.
 * Each case either leaves the session working (and counts what was wrong)
 * or ends it with a named cause.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { encodeControl, mscValue, SIGNALS_READY, type V24Signals } from "../../src/cmux/control.ts";
import { CmuxCore } from "../../src/cmux/core.ts";
import { encodeFrame, FrameDecoder, type Frame, type FrameTypeName } from "../../src/cmux/frame.ts";
import { CmuxSession, type CmuxWatchOptions } from "../../src/cmux/session.ts";
import type { Cause } from "../../src/core/cause.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createPipePair, type BytePipe } from "../../src/core/pipe.ts";
import { runUntil } from "../modem/harness.ts";

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");
const N1 = 127;

interface Peer {
  sched: ManualScheduler;
  session: CmuxSession;
  module: CmuxCore;
  /** What the module received per DLCI. */
  got: Map<number, string>;
  /** Frames the host sent, as the module's line saw them. */
  seen: Frame[];
  faults: Cause[];
  ends: (Cause | null)[];
  /** Raw octets onto the host's line now. */
  inject(bytes: Uint8Array): void;
  /** Module-side UIH on a DLCI (C/R of the responder's commands: 0). */
  uih(dlci: number, info: Uint8Array): Uint8Array;
  /** The module's own actions (DISC, MSC...) go out through this. */
  act(fn: (now: number) => void): void;
  /** Frames the module answers with a frame of its own choosing instead of passing them to its core. */
  intercept: ((f: Frame) => Uint8Array | null | undefined) | null;
  settle(ms?: number): Promise<void>;
}

const live: Peer[] = [];
afterEach(async () => {
  for (const p of live.splice(0)) {
    const done = p.session.close();
    await runUntil(p.sched, () => false, 5_000);
    await done;
  }
});

function peer(watch: Partial<CmuxWatchOptions> = {}): Peer {
  const sched = new ManualScheduler();
  const [host, line] = createPipePair();
  const got = new Map<number, string>();
  const module = new CmuxCore({ role: "responder", maxFrame: N1 }, { data: (dlci, d) => got.set(dlci, (got.get(dlci) ?? "") + dec.decode(d)) });
  const p: Peer = {
    sched,
    session: new CmuxSession(host, { scheduler: sched, params: { role: "initiator", maxFrame: N1 }, primaryDlci: 2, uses: { 1: "control", 2: "data" }, watch }),
    module,
    got,
    seen: [],
    faults: [],
    ends: [],
    inject: (bytes) => line.write(bytes),
    uih: (dlci, info) => encodeFrame({ dlci, cr: false, type: "UIH", pf: false, info }),
    act: (fn) => {
      fn(sched.now());
      flush();
    },
    intercept: null,
    settle: (ms = 2_000) => runUntil(sched, () => false, ms).then(() => undefined),
  };
  const flush = () => {
    const out = module.takeOutput();
    if (out.length) line.write(out);
  };
  const decoder = new FrameDecoder({
    frame: (f, raw) => {
      p.seen.push({ ...f, info: f.info.slice() });
      const answer = p.intercept?.(f);
      if (answer) line.write(answer);
      else if (answer === undefined) module.receive(raw, sched.now());
    },
  }, N1);
  line.onData((d) => {
    decoder.push(d);
    flush();
  });
  // The module's own timers (its MSC commands wait T2 for an answer).
  const tick = (): void => {
    module.tick(sched.now());
    flush();
    sched.setTimer(sched.now() + 50, tick);
  };
  tick();
  p.session.onFault((c) => p.faults.push(c));
  p.session.onEnd((c) => p.ends.push(c));
  live.push(p);
  return p;
}

/** Opens DLCI 0 and the given DLCIs; returns their pipes. */
async function open(p: Peer, dlcis: number[]): Promise<Map<number, BytePipe>> {
  const started = p.session.start();
  await p.settle(100);
  await started;
  const pipes = new Map<number, BytePipe>();
  for (const d of dlcis) {
    const ch = p.session.channel(d, { primary: d === 2 });
    await p.settle(100);
    pipes.set(d, await ch);
  }
  return pipes;
}

function collect(pipe: BytePipe): { text: string } {
  const r = { text: "" };
  pipe.onData((d) => (r.text += dec.decode(d)));
  return r;
}

function frameOf(dlci: number, type: FrameTypeName, cr: boolean): Uint8Array {
  return encodeFrame({ dlci, cr, type, pf: true, info: new Uint8Array(0) });
}

describe("a CMUX session against a module that does not obey", () => {
  test("UIH frames on a DLCI never opened are dropped and counted; the open DLCIs keep working", async () => {
    const p = peer();
    const pipes = await open(p, [1, 2]);
    const data = collect(pipes.get(2)!);
    const ctl = collect(pipes.get(1)!);
    for (const dlci of [3, 5, 63]) p.inject(p.uih(dlci, enc.encode("stray\r\n")));
    // With the poll bit too, and on a DLCI closed after use.
    p.inject(encodeFrame({ dlci: 4, cr: false, type: "UIH", pf: true, info: enc.encode("poll") }));
    p.inject(p.uih(2, enc.encode("still here")));
    p.inject(p.uih(1, enc.encode("\r\nOK\r\n")));
    await p.settle(100);
    expect(p.session.core.counters.unexpected).toBe(4);
    // The same count reaches /status (mux.counts) through the session's counts.
    expect(p.session.counts().unexpected).toBe(4);
    expect(data.text).toBe("still here");
    expect(ctl.text).toBe("\r\nOK\r\n");
    expect(p.session.isOpen).toBe(true);
    expect(p.faults).toEqual([]);
    // Nothing was answered for them: a UIH has no response, and the module gets no DM for a DLCI it chose to write on.
    expect(p.seen.filter((f) => f.type === "DM")).toEqual([]);
    pipes.get(2)!.write(enc.encode("ping"));
    await p.settle(100);
    expect(p.got.get(2)).toBe("ping");
  });

  test("DM in reply to SABM on the data DLCI: the open fails at once with cmux-no-answer, the session stays up", async () => {
    const p = peer();
    await open(p, [1]);
    p.intercept = (f) => (f.type === "SABM" && f.dlci === 2 ? frameOf(2, "DM", false) : undefined);
    const opening = p.session.channel(2, { primary: true });
    const at = p.sched.now();
    let failure: unknown = null;
    let failedAt = 0;
    opening.catch((e) => {
      failure = e;
      failedAt = p.sched.now();
    });
    await p.settle(1_000);
    expect(failure).not.toBeNull();
    const c = (failure as { causeInfo: Cause }).causeInfo;
    expect(c.code).toBe("cmux-no-answer");
    expect(c.detail).toContain("DLCI 2: the module answered DM");
    // One SABM: a DM is an answer, not a reason to retry.
    expect(p.seen.filter((f) => f.type === "SABM" && f.dlci === 2).length).toBe(1);
    // At once, not after N2 × T1 of retries.
    expect(failedAt - at).toBeLessThan(100);
    expect(p.session.isOpen).toBe(true);
    expect(p.session.core.state(2)).toBe("closed");
    expect(p.session.core.state(1)).toBe("open");
  });

  test("DISC from the module on the data DLCI mid-session: that pipe ends with a named cause, the control DLCI stays", async () => {
    const p = peer();
    const pipes = await open(p, [1, 2]);
    let dataEnd: Cause | null | undefined;
    pipes.get(2)!.onClose((c) => (dataEnd = c));
    p.act((now) => p.module.close(2, now));
    await p.settle(500);
    expect(dataEnd?.code).toBe("port-vanished");
    expect(dataEnd?.detail).toContain("the module closed DLCI 2");
    // Acknowledged (UA), not retried by the module.
    expect(p.seen.some((f) => f.type === "UA" && f.dlci === 2)).toBe(true);
    expect(p.module.state(2)).toBe("closed");
    expect(p.session.isOpen).toBe(true);
    const ctl = collect(pipes.get(1)!);
    pipes.get(1)!.write(enc.encode("AT\r"));
    p.inject(p.uih(1, enc.encode("\r\nOK\r\n")));
    await p.settle(100);
    expect(p.got.get(1)).toBe("AT\r");
    expect(ctl.text).toBe("\r\nOK\r\n");
    // Writes to the closed DLCI go nowhere and break nothing.
    pipes.get(2)!.write(enc.encode("late"));
    await p.settle(100);
    expect(p.got.get(2)).toBeUndefined();
    // The DLCI can be opened again.
    const again = p.session.channel(2, { primary: true });
    await p.settle(100);
    (await again).write(enc.encode("back"));
    await p.settle(100);
    expect(p.got.get(2)).toBe("back");
  });

  test("DISC from the module on DLCI 0 mid-session: the whole session ends with a named cause", async () => {
    const p = peer();
    const pipes = await open(p, [1, 2]);
    const ends: (Cause | null)[] = [];
    for (const pipe of pipes.values()) pipe.onClose((c) => ends.push(c));
    p.inject(frameOf(0, "DISC", false));
    await p.settle(500);
    expect(p.seen.some((f) => f.type === "UA" && f.dlci === 0)).toBe(true);
    expect(p.session.isOpen).toBe(false);
    expect(p.ends.map((c) => c?.code)).toEqual(["port-vanished"]);
    expect(p.ends[0]?.detail).toContain("the module closed the CMUX session");
    expect(ends.map((c) => c?.code)).toEqual(["port-vanished", "port-vanished"]);
  });

  test("CLD from the module mid-session: answered before the port closes, and the session ends with a named cause", async () => {
    const p = peer();
    await open(p, [1, 2]);
    p.inject(p.uih(0, encodeControl("CLD", true)));
    await p.settle(500);
    const answers = p.seen.filter((f) => f.dlci === 0 && f.type === "UIH" && f.info[0] === 0xc1);
    expect(answers.length).toBe(1);
    expect(p.session.isOpen).toBe(false);
    expect(p.ends.map((c) => c?.code)).toEqual(["port-vanished"]);
  });

  test("frames longer than N1 are refused and counted; the frames after them still arrive; many make cmux-frame-errors", async () => {
    const p = peer({ errorLimit: 20, errorWindowMs: 10_000 });
    const pipes = await open(p, [2]);
    const data = collect(pipes.get(2)!);
    // Information octets a PPP frame may well contain: flags of the mux among them.
    const big = Uint8Array.from({ length: N1 + 50 }, (_, i) => (i % 7 === 0 ? 0xf9 : i & 0xff));
    for (let k = 0; k < 3; k++) {
      p.inject(p.uih(2, big));
      p.inject(p.uih(2, enc.encode(`after ${k};`)));
      await p.settle(10);
    }
    expect(data.text).toBe("after 0;after 1;after 2;");
    expect(p.session.counts().oversize).toBe(3);
    expect(p.faults).toEqual([]);
    expect(p.session.isOpen).toBe(true);
    // A module that keeps sending them: 20 within 10 s is the named fault (a redial), once.
    for (let k = 0; k < 25; k++) {
      p.inject(p.uih(2, big));
      await p.settle(100);
    }
    expect(p.faults.map((c) => c.code)).toEqual(["cmux-frame-errors"]);
    expect(p.faults[0]!.detail).toContain("oversize");
  });

  test("MSC with FC set holds our sends on that DLCI (backlog shown), FC clear sends them in order; others flow meanwhile", async () => {
    const p = peer({ silentAfterMs: 5_000 });
    const pipes = await open(p, [1, 2]);
    const fc = (on: boolean): V24Signals => ({ ...SIGNALS_READY, fc: on });
    p.act((now) => p.module.sendSignals(2, fc(true), now));
    await p.settle(100);
    expect(p.session.signals(2)?.fc).toBe(true);
    const data = pipes.get(2)!;
    data.write(enc.encode("one,"));
    data.write(enc.encode("two,"));
    await p.settle(100);
    expect(p.got.get(2)).toBeUndefined();
    expect(data.backlogBytes?.()).toBe(8);
    // The control DLCI is not held.
    pipes.get(1)!.write(enc.encode("AT\r"));
    await p.settle(100);
    expect(p.got.get(1)).toBe("AT\r");
    // Held for longer than the silent-DLCI limit while the control DLCI receives: the module asked us to
    // wait, so its silence on DLCI 2 is no hang.
    for (let t = 0; t < 12; t++) {
      p.inject(p.uih(1, enc.encode("\r\n+CSQ: 20,99\r\n")));
      await p.settle(1_000);
    }
    expect(p.faults).toEqual([]);
    let drained = 0;
    data.onDrain?.(() => drained++);
    p.act((now) => p.module.sendSignals(2, fc(false), now));
    await p.settle(100);
    expect(p.got.get(2)).toBe("one,two,");
    expect(data.backlogBytes?.()).toBe(0);
    expect(drained).toBeGreaterThan(0);
    data.write(enc.encode("three"));
    await p.settle(100);
    expect(p.got.get(2)).toBe("one,two,three");
    expect(p.session.isOpen).toBe(true);
  });

  test("an MSC for a DLCI that is not open, and a truncated one, change nothing and are counted", async () => {
    const p = peer();
    const pipes = await open(p, [2]);
    p.inject(p.uih(0, encodeControl("MSC", true, mscValue(5, { ...SIGNALS_READY, fc: true }))));
    p.inject(p.uih(0, encodeControl("MSC", true, Uint8Array.of(0x0b))));
    await p.settle(100);
    expect(p.session.core.counters.badControl).toBe(1);
    expect(p.session.counts().badControl).toBe(1);
    pipes.get(2)!.write(enc.encode("free"));
    await p.settle(100);
    expect(p.got.get(2)).toBe("free");
  });
});

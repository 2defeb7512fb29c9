/**
 * LCP echo keep-alive and hang-up toward a dead peer, on fake time only.
 *
 * Field report this answers: echo_interval 2 s, echo_failures 3, peer frozen;
 * after 6 s only 1 unanswered request was counted, then 12.7 s went on
 * Terminate-Requests to the dead peer. The promise now: requests at +I, +2I,
 * +3I after the last frame received, `peer-dead` at +3I + min(I, 1 s), and the
 * session Dead at that same instant.
 */
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { Cause } from "../../src/core/cause.ts";
import { type BytePipe, createPipePair } from "../../src/core/pipe.ts";
import { pppBearerFactory, terminateWaitMs } from "../../src/bearer/ppp.ts";
import { HdlcDecoder } from "../../src/ppp/hdlc.ts";
import type { PppLinkEvent } from "../../src/ppp/link.ts";
import { CODE } from "../../src/ppp/packet.ts";
import { PppSession, type PppSessionOptions } from "../../src/ppp/session.ts";
import { PROTO, type PppFrame } from "../../src/ppp/types.ts";
import { makeLink, serverOptions, settle, advanceUntil } from "../support/ppp-pair.ts";
import { ofType, Pair, seededRandom, T0 } from "./session-harness.ts";

const IP = Uint8Array.of(0x45, 0, 0, 4);

type Echo = NonNullable<PppSessionOptions["echo"]>;

function client(echo: Echo): PppSessionOptions {
  return { role: "client", auth: { method: "none" }, random: seededRandom(3), echo };
}

function server(): PppSessionOptions {
  return { role: "server", random: seededRandom(4), server: { localIPv4: "10.0.0.1", peerIPv4: "100.64.0.7" } };
}

const lcpCode = (f: PppFrame) => (f.protocol === PROTO.LCP ? f.info[0] : undefined);

/**
 * A client/server pair whose server can be frozen: from then on nothing it
 * sends reaches the client (it still receives, as a hung modem would). Every
 * frame on the wire is logged with its time.
 */
class Rig {
  readonly p: Pair;
  frozen = false;
  /** Frames the frozen server sent, held back (a late reply can be delivered by hand). */
  readonly held: PppFrame[] = [];
  readonly log: { from: "a" | "b"; at: number; frame: PppFrame }[] = [];

  constructor(echo: Echo) {
    this.p = new Pair(client(echo), server());
    this.p.drop = (from, frame) => {
      this.log.push({ from, at: this.p.now, frame });
      if (from === "b" && this.frozen) {
        this.held.push(frame);
        return true;
      }
      return false;
    };
    this.p.openBoth();
    expect(this.p.a.status().phase).toBe("open");
  }

  /** Server sends one IP packet now, delivered now. */
  traffic(): void {
    expect(this.p.b.sendIp(4, IP, this.p.now)).toBe(true);
    this.p.pump();
  }

  /** Times of the client's Echo-Requests / Terminate-Requests at or after `from`. */
  sent(code: number, from = T0): number[] {
    return this.log.filter((w) => w.from === "a" && w.at >= from && lcpCode(w.frame) === code).map((w) => w.at);
  }

  /** Time the last frame from the server reached the client. */
  lastDelivered(): number {
    const t = this.p.a.lastFrameReceivedAt();
    if (t === null) throw new Error("nothing received");
    return t;
  }

  dead() {
    return ofType(this.p.eventsA, "ppp.dead");
  }
}

describe("LCP echo keep-alive: anchored on the last frame received", () => {
  test("field report, 2 s × 3: requests at +2, +4, +6 s after the last frame, peer-dead at exactly +7 s, missed counted honestly", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3 });
    r.p.advance(10_000); // answered echoes; the last reply arrives with the request at T0 + 10 s
    expect(r.p.a.status().counters.echoRepliesReceived).toBe(5);
    r.frozen = true;
    const t0 = r.lastDelivered();
    expect(t0).toBe(T0 + 10_000);

    const missedAt = (dt: number) => {
      r.p.advanceTo(t0 + dt);
      return r.p.a.status().echo.missed;
    };
    expect(missedAt(1_999)).toBe(0);
    expect(missedAt(2_000)).toBe(0); // the first request just went out
    expect(missedAt(2_999)).toBe(0); // still within its 1 s grace
    expect(missedAt(3_000)).toBe(1);
    expect(missedAt(5_000)).toBe(2);
    expect(missedAt(6_000)).toBe(2); // the third just went out
    expect(missedAt(6_999)).toBe(2);
    expect(r.p.a.status().phase).toBe("open");
    expect(r.dead()).toEqual([]);

    r.p.advanceTo(t0 + 7_000);
    expect(r.sent(CODE.ECHO_REQ, t0 + 1)).toEqual([t0 + 2_000, t0 + 4_000, t0 + 6_000]);
    const dead = r.dead();
    expect(dead.length).toBe(1);
    expect(dead[0]!.at).toBe(t0 + 7_000);
    expect(dead[0]!.cause?.code).toBe("peer-dead");
    expect(dead[0]!.cause?.detail).toBe("no reply to 3 LCP Echo-Requests (2000 ms apart), nothing received for 7000 ms");
    expect(r.p.a.status()).toMatchObject({ phase: "dead", echo: { missed: 0 } });
    expect(ofType(r.p.eventsA, "ppp.notice").filter((n) => n.what === "echo-missed" && n.at > t0).map((n) => [n.at - t0, n.detail])).toEqual([
      [3_000, "1 of 3 LCP Echo-Requests unanswered"],
      [5_000, "2 of 3 LCP Echo-Requests unanswered"],
      [7_000, "3 of 3 LCP Echo-Requests unanswered"],
    ]);
  });

  test("echo_only_when_idle, peer freezes right after an IP frame mid-interval: the same timeline from that frame", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3, skipWhenBusy: true });
    for (let i = 0; i < 10; i++) {
      r.p.advance(700);
      r.traffic();
    }
    expect(r.p.a.status().counters.echoRequestsSent).toBe(0);
    r.frozen = true;
    const t0 = r.lastDelivered();
    expect(t0).toBe(T0 + 7_000);
    r.p.advance(20_000);
    expect(r.sent(CODE.ECHO_REQ)).toEqual([t0 + 2_000, t0 + 4_000, t0 + 6_000]);
    expect(r.dead().map((d) => [d.at - t0, d.cause?.code])).toEqual([[7_000, "peer-dead"]]);
  });

  // Death is declared within I·F + min(I, 1 s) of the last frame received;
  // exactly then in idle mode or when the last frame was an echo reply, up to
  // one interval earlier when the default mode's every-interval cadence comes
  // due sooner after a mid-interval frame.
  const table: [intervalMs: number, failures: number][] = [
    [500, 3],
    [1_000, 1],
    [1_000, 5],
    [2_000, 3],
    [5_000, 2],
    [30_000, 4],
  ];
  for (const [I, F] of table) {
    for (const skipWhenBusy of [false, true]) {
      test(`bound: interval ${I} ms × ${F}, ${skipWhenBusy ? "echo_only_when_idle" : "default mode"}: dead within I·F + min(I, 1 s) of the last frame`, () => {
        const grace = Math.min(I, 1_000);
        const bound = I * F + grace;
        for (const offset of [0, 1, I / 2, I - 1]) {
          const r = new Rig({ intervalMs: I, failures: F, skipWhenBusy });
          r.p.advanceTo(T0 + 3 * I + offset); // three echo rounds, answered (idle mode: all frames are replies too)
          r.traffic();
          r.frozen = true;
          const t0 = r.lastDelivered();
          expect(t0).toBe(T0 + 3 * I + offset);
          r.p.advance(bound + 5 * I);
          const dead = r.dead();
          expect(dead.length).toBe(1);
          expect(dead[0]!.cause?.code).toBe("peer-dead");
          const took = dead[0]!.at - t0;
          // Default mode keeps its cadence from LCP open (T0): the first
          // request after the frame comes `offset` earlier than I after it.
          const expected = skipWhenBusy || offset === 0 ? bound : bound - offset;
          expect(took).toBe(expected);
          expect(took).toBeLessThanOrEqual(bound);
          // F requests after the frame, one interval apart, the last answered by silence for its grace.
          const reqs = r.sent(CODE.ECHO_REQ, t0 + 1);
          expect(reqs.length).toBe(F);
          expect(reqs.map((t, i) => t - reqs[0]!)).toEqual(Array.from({ length: F }, (_, i) => i * I));
          expect(dead[0]!.at - reqs.at(-1)!).toBe(grace);
        }
      });
    }
  }

  test("traffic resets the count: a peer that ignores Echo but sends IP every 2.5 s stays alive; dead within the bound of its last frame", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3 });
    // Echo-Replies are lost, IP still flows.
    r.p.drop = (from, frame) => {
      r.log.push({ from, at: r.p.now, frame });
      return from === "b" && (r.frozen || lcpCode(frame) === CODE.ECHO_REP);
    };
    let maxMissed = 0;
    for (let i = 0; i < 24; i++) {
      for (let k = 0; k < 5; k++) {
        r.p.advance(500);
        maxMissed = Math.max(maxMissed, r.p.a.status().echo.missed);
      }
      r.traffic();
    }
    expect(r.p.a.status().phase).toBe("open");
    expect(r.p.a.status().counters.echoRepliesReceived).toBe(0);
    expect(r.p.a.status().counters.echoRequestsSent).toBe(30); // still one every interval (default mode)
    expect(maxMissed).toBe(1);
    expect(r.dead()).toEqual([]);
    r.frozen = true;
    const t0 = r.lastDelivered();
    r.p.advance(20_000);
    const dead = r.dead();
    expect(dead.length).toBe(1);
    expect(dead[0]!.at - t0).toBeLessThanOrEqual(2_000 * 3 + 1_000);
  });

  test("a late reply just before the deadline keeps the link; echoes then resume on their cadence", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3 });
    r.p.advance(4_000);
    r.frozen = true;
    const t0 = r.lastDelivered();
    r.p.advanceTo(t0 + 6_999);
    expect(r.p.a.status().echo.missed).toBe(2);
    // The modem wakes up: the reply to the third request arrives 999 ms late.
    const reply = r.held.filter((f) => lcpCode(f) === CODE.ECHO_REP).at(-1)!;
    r.frozen = false;
    r.p.a.input(reply, r.p.now);
    expect(r.p.a.status().echo).toMatchObject({ missed: 0, rttMs: 999 });
    r.p.advance(10_000);
    expect(r.dead()).toEqual([]);
    expect(r.p.a.status()).toMatchObject({ phase: "open", echo: { missed: 0, rttMs: 0 } });
    expect(r.sent(CODE.ECHO_REQ, t0 + 1)).toEqual([2_000, 4_000, 6_000, 8_000, 10_000, 12_000, 14_000, 16_000].map((d) => t0 + d));
  });

  test("any frame counts as proof of life, not only an Echo-Reply (an LCP Discard-Request)", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 2 });
    r.frozen = true;
    const t0 = r.lastDelivered();
    r.p.advanceTo(t0 + 4_999);
    expect(r.p.a.status().echo.missed).toBe(1);
    r.p.a.input({ protocol: PROTO.LCP, info: Uint8Array.of(CODE.DISCARD_REQ, 1, 0, 8, 0, 0, 0, 0) }, r.p.now);
    expect(r.p.a.status().echo.missed).toBe(0);
    // Counting starts over: two fresh requests on the every-interval cadence (+6 s, +8 s), then the grace.
    r.p.advanceTo(t0 + 8_999);
    expect(r.dead()).toEqual([]);
    expect(r.sent(CODE.ECHO_REQ, t0 + 1)).toEqual([2_000, 4_000, 6_000, 8_000].map((d) => t0 + d));
    r.p.advance(1);
    expect(r.dead().map((d) => d.at - t0)).toEqual([9_000]);
    expect(9_000 - 4_999).toBeLessThanOrEqual(2_000 * 2 + 1_000); // the bound, from the Discard-Request
  });

  test("echo_only_when_idle sends nothing while frames arrive; the default mode sends every interval and measures the round trip", () => {
    for (const skipWhenBusy of [true, false]) {
      const r = new Rig({ intervalMs: 2_000, failures: 3, skipWhenBusy });
      for (let i = 0; i < 30; i++) {
        r.p.advance(1_900);
        r.traffic();
      }
      const st = r.p.a.status();
      expect(st.phase).toBe("open");
      if (skipWhenBusy) {
        expect(st.counters.echoRequestsSent).toBe(0);
        expect(st.echo.rttMs).toBeNull();
      } else {
        expect(st.counters.echoRequestsSent).toBe(28); // every 2 s over 57 s
        expect(st.counters.echoRepliesReceived).toBe(28);
        expect(st.echo.rttMs).toBe(0);
      }
    }
  });
});

describe("peer-dead ends the link at once (no RFC 1661 Terminate wait)", () => {
  test("ppp.dead with the cause at the moment of death; one courtesy Terminate-Request, never resent", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3 });
    r.frozen = true;
    const t0 = r.lastDelivered();
    r.p.advanceTo(t0 + 7_000);
    const deathAt = t0 + 7_000;
    expect(r.dead().map((d) => [d.at, d.cause?.code])).toEqual([[deathAt, "peer-dead"]]);
    // Phases in the same instant: Terminate is passed through, not waited in.
    const phases = ofType(r.p.eventsA, "ppp.phase").filter((e) => e.at === deathAt);
    expect(phases.map((e) => e.to)).toEqual(["terminate", "dead"]);
    expect(r.p.a.status()).toMatchObject({ phase: "dead", lcp: "initial" });
    expect(r.p.a.nextDeadline()).toBeNull();
    // Restart timer × Max-Terminate would have resent it; nothing is.
    r.p.advance(60_000);
    expect(r.sent(CODE.TERM_REQ)).toEqual([deathAt]);
    expect(r.sent(CODE.ECHO_REQ, deathAt + 1)).toEqual([]);
    expect(r.dead().length).toBe(1);
  });

  test("the same session dials again after peer-dead", () => {
    const r = new Rig({ intervalMs: 2_000, failures: 3 });
    r.frozen = true;
    r.p.advance(10_000);
    expect(r.dead()[0]?.cause?.code).toBe("peer-dead");
    r.frozen = false;
    r.p.b.lowerDown(r.p.now);
    r.p.openBoth();
    expect(r.p.a.status().phase).toBe("open");
    const reopenedAt = r.p.now;
    r.p.advance(10_000);
    expect(r.p.a.status()).toMatchObject({ phase: "open", echo: { missed: 0 } });
    expect(r.sent(CODE.ECHO_REQ, reopenedAt + 1).length).toBe(5);
  });
});

// ---------------------------------------------------------------- hang-up

function config(toml = ""): Config {
  const r = loadConfigText(`[network]\napn = "internet"\n${toml}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** A pipe end whose writes are decoded, so the test can count LCP codes the client sent. */
function tapped(pipe: BytePipe): { pipe: BytePipe; lcpSent: number[] } {
  const dec = new HdlcDecoder();
  const lcpSent: number[] = [];
  const write = pipe.write.bind(pipe);
  const proxy: BytePipe = Object.create(pipe);
  proxy.write = (data: Uint8Array) => {
    dec.decode(data, (e) => {
      if (e.kind === "frame" && e.protocol === PROTO.LCP) lcpSent.push(e.info[0]!);
    });
    write(data);
  };
  return { pipe: proxy, lcpSent };
}

async function hangupRig(toml = "") {
  const sched = new ManualScheduler();
  const [a, b] = createPipePair();
  const tap = tapped(a);
  const events: PppLinkEvent[] = [];
  let up = false;
  const downs: (Cause | null)[] = [];
  const handle = pppBearerFactory({ config: config(toml), scheduler: sched, onEvent: (e) => events.push(e) })(tap.pipe, {
    up: () => (up = true),
    down: (c) => downs.push(c),
  });
  const srv = makeLink(b, serverOptions("none"), sched);
  srv.link.start();
  handle.start();
  expect(await advanceUntil(sched, () => up)).toBe(true);
  /** stop(), reporting when it resolved on the fake clock; time moves only when `drive` says. */
  const stop = async (drive: (done: () => boolean) => Promise<void> = async () => settle(10)) => {
    let resolvedAt: number | null = null;
    const p = handle.stop().then(() => (resolvedAt = sched.now()));
    await drive(() => resolvedAt !== null);
    await p;
    return resolvedAt!;
  };
  return { sched, handle, srv, events, downs, tap, stop };
}

describe("hang-up (bearer/ppp stop) does not wait on a peer that is not listening", () => {
  test("wait for the Terminate-Ack: none when silent for restart_timer, else min(restart_timer × (max_terminate + 1), 3 s)", () => {
    const now = 1_000_000;
    const rows: [toml: string, lastRxAgo: number | null, wait: number][] = [
      ["", null, 0], // nothing ever received
      ["", 3_001, 0], // default restart_timer 3 s: silent longer than that
      ["", 3_000, 3_000], // 3 s × 3 = 9 s, capped at 3 s
      ["", 0, 3_000],
      ['[ppp]\nrestart_timer = "500ms"\nmax_terminate = 2\n', 400, 1_500],
      ['[ppp]\nrestart_timer = "500ms"\nmax_terminate = 2\n', 501, 0],
      ['[ppp]\nrestart_timer = "2s"\nmax_terminate = 1\n', 100, 3_000],
      ['[ppp]\nrestart_timer = "1s"\nmax_terminate = 1\n', 100, 2_000],
    ];
    for (const [toml, ago, wait] of rows) expect(terminateWaitMs(config(toml), ago === null ? null : now - ago, now)).toBe(wait);
  });

  test("live peer: the Terminate-Request is acked and stop() resolves on the Ack, no time passing", async () => {
    const r = await hangupRig();
    r.srv.link.sendIp(4, IP); // something from the peer just now
    await settle(5);
    const t = r.sched.now();
    const resolvedAt = await r.stop();
    expect(resolvedAt).toBe(t);
    const closing = ofType(r.events as never[], "ppp.fsm").filter((e: { protocol: string }) => e.protocol === "lcp");
    expect(closing.map((e: { to: string; event: string }) => `${e.to}/${e.event}`).slice(-3)).toEqual(["closing/Close", "closed/RTA", "initial/Down"]);
    expect(ofType(r.srv.events as never[], "ppp.terminate")).toMatchObject([{ by: "peer", message: "cellkeep hangs up" }]);
    expect(r.downs).toEqual([null]); // administrative hang-up: no failure cause
    expect(r.tap.lcpSent.filter((c) => c === CODE.TERM_REQ).length).toBe(1);
    r.srv.link.stop();
    expect(r.sched.pendingCount()).toBe(0);
  });

  test("silent peer (frozen or gone for more than restart_timer): one Terminate-Request, stop() resolves at once", async () => {
    const r = await hangupRig();
    r.srv.link.stop(); // the peer stops listening and answering; the line stays open
    r.sched.advance(3_001);
    await settle(5);
    const t = r.sched.now();
    const resolvedAt = await r.stop();
    expect(resolvedAt).toBe(t);
    expect(r.tap.lcpSent.filter((c) => c === CODE.TERM_REQ).length).toBe(1);
    expect(r.downs).toEqual([null]);
    expect(r.sched.pendingCount()).toBe(0); // no Restart timer or wait left behind
  });

  test("peer froze less than restart_timer ago: waits for the Ack no longer than 3 s (not 9 s)", async () => {
    const r = await hangupRig();
    r.srv.link.sendIp(4, IP);
    await settle(5);
    r.srv.link.stop();
    r.sched.advance(1_000);
    const t = r.sched.now();
    const resolvedAt = await r.stop(async (done) => {
      r.sched.advance(2_999);
      await settle(5);
      expect(done()).toBe(false);
      r.sched.advance(1);
      await settle(5);
    });
    expect(resolvedAt).toBe(t + 3_000);
    expect(r.sched.pendingCount()).toBe(0);
  });

  test("after peer-dead the link has already ended: stop() returns at once, one Terminate-Request in all", async () => {
    const r = await hangupRig('[ppp]\necho_interval = "1s"\necho_failures = 2\n');
    r.srv.link.sendIp(4, IP);
    await settle(5);
    const t0 = r.sched.now();
    r.srv.link.stop(); // frozen
    for (let i = 0; i < 50 && r.downs.length === 0; i++) {
      r.sched.advance(100);
      await settle(5);
    }
    expect(r.downs.map((c) => c?.code)).toEqual(["peer-dead"]);
    const dead = ofType(r.events as never[], "ppp.dead") as { at: number }[];
    expect(dead.length).toBe(1);
    // Within I·F + min(I, 1 s) of the last frame (the cadence from LCP open may bring it a little earlier).
    expect(dead[0]!.at - t0).toBeLessThanOrEqual(1_000 * 2 + 1_000);
    expect(dead[0]!.at - t0).toBeGreaterThan(1_000 * 2);
    const t = r.sched.now();
    expect(await r.stop()).toBe(t);
    expect(r.tap.lcpSent.filter((c) => c === CODE.TERM_REQ).length).toBe(1);
    expect(r.sched.pendingCount()).toBe(0);
  });
});

test("lastFrameReceivedAt: null before any frame, then the time of the latest one", () => {
  const s = new PppSession(client({ intervalMs: 0, failures: 1 }));
  expect(s.lastFrameReceivedAt()).toBeNull();
  s.open(T0);
  s.input({ protocol: 0x1234, info: new Uint8Array(0) }, T0 + 5);
  expect(s.lastFrameReceivedAt()).toBe(T0 + 5);
});

/**
 * The DataBearer seam (src/core/data-bearer.ts) holds: a bearer that is not
 * PPP, defined only in this file, plugs into the modem supervisor and the
 * data plane as they are, and IP crosses it both ways. Nothing in src/modem
 * or src/net knows it exists.
 *
 * The bearer is raw IP on the data-mode pipe: no framing, each packet
 * delimited by its own IP header's length (as QMI's raw-IP mode is on a
 * stream), addresses given out of band and up at once. Behind CONNECT the
 * virtual modem's AT core hands the bytes to the sim's network (the same
 * responder the PPP server uses), which answers ICMP echo.
 *
 *   DataPlane prober ─ RawIpBearer ─ AT data pipe ─ sim modem core ─ SimNetwork
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cause, type Cause } from "../../src/core/cause.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { BearerCounters, BearerHooks, BearerUpInfo, DataBearer, KeepaliveStatus } from "../../src/core/data-bearer.ts";
import type { IpVersion, PacedIpLink } from "../../src/core/ip-link.ts";
import { nullLogger } from "../../src/core/log.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { AlwaysRedial } from "../../src/core/recovery-policy.ts";
import { DataPlane } from "../../src/agent/dataplane.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { ipPacketLength, formatIpv4 } from "../../src/net/packet.ts";
import type { DataSession } from "../../src/sim/data-session.ts";
import { SimNetwork } from "../../src/sim/network.ts";
import { resolveBehaviour } from "../../src/sim/scenario.ts";
import type { IcmpPingResult } from "../../src/health/probes.ts";
import { runUntil, testConfig, TestModem } from "../modem/harness.ts";

/** Whole IP packets out of a byte stream, by the header's length; garbage (no IP version nibble) is dropped and counted. */
class IpStream {
  private buf = new Uint8Array(0);
  malformed = 0;

  push(data: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buf.length + data.length);
    joined.set(this.buf);
    joined.set(data, this.buf.length);
    const packets: Uint8Array[] = [];
    let off = 0;
    for (;;) {
      const len = ipPacketLength(joined, off);
      if (len === -1) {
        this.malformed += joined.length - off;
        off = joined.length;
        break;
      }
      if (len === null || off + len > joined.length) break;
      packets.push(joined.slice(off, off + len));
      off += len;
    }
    this.buf = joined.slice(off);
    return packets;
  }
}

/** The DTE side: a DataBearer that is not PPP. */
class RawIpBearer implements DataBearer {
  readonly kind = "raw-ip";
  private readonly stream = new IpStream();
  private readonly listeners = new Set<(version: IpVersion, packet: Uint8Array) => void>();
  private readonly c = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, refused: 0 };
  private offPipe: Array<() => void> = [];
  private up = false;
  private ended = false;
  stopped = false;

  constructor(
    private readonly pipe: BytePipe,
    private readonly hooks: BearerHooks,
    private readonly info: BearerUpInfo,
  ) {}

  readonly ip: PacedIpLink = {
    sendIp: (_version, packet) => {
      if (!this.up || !this.pipe.isOpen) {
        this.c.refused++;
        return false;
      }
      this.pipe.write(packet);
      this.c.bytesOut += packet.length;
      this.c.packetsOut++;
      return true;
    },
    onIp: (cb) => {
      this.listeners.add(cb);
      return () => this.listeners.delete(cb);
    },
    backlogBytes: () => this.pipe.backlogBytes?.() ?? 0,
    onDrain: (fn) => this.pipe.onDrain?.(fn) ?? (() => {}),
  };

  start(): void {
    this.offPipe.push(
      this.pipe.onData((d) => this.receive(d)),
      this.pipe.onClose((c) => this.end(c ?? cause("carrier-lost"))),
    );
    this.up = true;
    this.hooks.up(this.info);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.end(null);
  }

  counters(): BearerCounters {
    const { refused, ...c } = this.c;
    return { ...c, errors: { malformed: this.stream.malformed, refused } };
  }

  keepalive(): KeepaliveStatus | null {
    return null;
  }

  private receive(d: Uint8Array): void {
    this.c.bytesIn += d.length;
    for (const p of this.stream.push(d)) {
      this.c.packetsIn++;
      const v = p[0]! >> 4;
      for (const l of this.listeners) l(v === 6 ? 6 : 4, p);
    }
  }

  private end(c: Cause | null): void {
    if (this.ended) return;
    this.ended = true;
    this.up = false;
    for (const off of this.offPipe.splice(0)) off();
    this.hooks.down(c);
  }
}

/** The network side behind CONNECT: raw IP in, the sim network's answers out. */
class RawIpNetwork implements DataSession {
  readonly net = new SimNetwork(resolveBehaviour(["healthy"], 1, {}));
  readonly received: Uint8Array[] = [];
  readonly ipUp = true;
  ended = false;
  private readonly stream = new IpStream();
  private out: Uint8Array[] = [];

  input(data: Uint8Array): void {
    if (this.ended) return;
    for (const p of this.stream.push(data)) {
      this.received.push(p);
      this.out.push(...this.net.handle(p));
    }
  }
  poll(): void {}
  takeOutput(): Uint8Array[] {
    return this.out.splice(0);
  }
  takeEvents(): [] {
    return [];
  }
  nextDeadline(): null {
    return null;
  }
  hangUp(): void {
    this.ended = true;
  }
  setDead(): void {}
}

const INFO: BearerUpInfo = { ipv4: { local: "10.64.0.2", remote: "10.64.0.1", dns: ["10.64.0.53"] }, ipv6: null, mtu: 1400 };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function rig() {
  const sched = new ManualScheduler();
  const networks: RawIpNetwork[] = [];
  const modem = new TestModem(sched, {
    dataSession: () => {
      const n = new RawIpNetwork();
      networks.push(n);
      return n;
    },
  });
  const config = testConfig();
  const events: ModemEvent[] = [];
  const bearers: RawIpBearer[] = [];
  const sup = new ModemSupervisor<RawIpBearer>({
    config,
    scheduler: sched,
    openPort: modem.openPort,
    policy: new AlwaysRedial(1000),
    emit: (e) => events.push(e),
    createBearer: (pipe, hooks) => {
      const b = new RawIpBearer(pipe, hooks, INFO);
      bearers.push(b);
      return b;
    },
  });
  const plane = new DataPlane(config, { scheduler: sched, log: nullLogger, emit: () => {} });
  // The agent's wiring (src/agent.ts), nothing more.
  let planeReady: Promise<void> = Promise.resolve();
  sup.onLinkUp((info, bearer) => {
    planeReady = plane.linkUp(bearer, info);
  });
  sup.onLinkDown((c) => void plane.linkDown(c));
  cleanups.push(async () => {
    const p = sup.stop();
    await runUntil(sched, () => sup.state === "stopped", 60_000);
    await p;
    await plane.close(null);
    modem.stop();
  });
  return { sched, modem, networks, sup, bearers, plane, events, planeReady: () => planeReady };
}

async function ping(r: ReturnType<typeof rig>, target: string): Promise<IcmpPingResult | null> {
  let result: IcmpPingResult | null = null;
  void r.plane.prober.ping(target, 2_000).then((x) => (result = x));
  await runUntil(r.sched, () => result !== null, 5_000);
  return result;
}

describe("the DataBearer seam", () => {
  test("a raw-IP bearer (not PPP) plugs into the supervisor and the data plane; a ping crosses it both ways", async () => {
    const r = rig();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    await r.planeReady();
    expect(r.sup.bearer).toBe(r.bearers[0]!);
    // The event keeps its name and fields whatever the bearer: the bearer's MTU is the event's mru.
    expect(r.events.find((e) => e.type === "ppp.up")).toMatchObject({ ipv4: INFO.ipv4, ipv6: null, mru: 1400 });
    expect(r.plane.localAddress).toBe("10.64.0.2");
    expect(r.plane.dnsServers).toEqual(["10.64.0.53"]);

    const got = await ping(r, "8.8.8.8");
    expect(got?.ok).toBe(true);
    // On the network side it arrived as one bare IPv4 packet from our address: no framing around it.
    const sent = r.networks[0]!.received;
    expect(sent.length).toBe(1);
    expect(sent[0]![0]! >> 4).toBe(4);
    expect(formatIpv4(sent[0]!, 12)).toBe("10.64.0.2");
    expect(formatIpv4(sent[0]!, 16)).toBe("8.8.8.8");
    expect(r.networks[0]!.net.counters.echoReplies).toBe(1);
    // The data plane's counters are the bearer's own.
    const len = sent[0]!.length;
    expect(r.plane.counters()).toEqual({ bytesIn: len, bytesOut: len, packetsIn: 1, packetsOut: 1, errors: { malformed: 0, refused: 0 } });
  });

  test("link lost: the bearer is stopped and the data plane unwinds; after the redial a new bearer carries IP and the counters add up", async () => {
    const r = rig();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    await r.planeReady();
    expect((await ping(r, "8.8.8.8"))?.ok).toBe(true);

    r.sup.linkLost(cause("peer-dead"));
    expect(await runUntil(r.sched, () => r.events.some((e) => e.type === "ppp.down"), 60_000)).toBe(true);
    expect(r.events.find((e) => e.type === "ppp.down")).toMatchObject({ cause: { code: "peer-dead" } });
    expect(r.bearers[0]!.stopped).toBe(true);
    expect(r.plane.localAddress).toBeNull();
    // Down: the data plane dropped the bearer's address, so a ping fails at once, not at its timeout.
    const down = await ping(r, "8.8.8.8");
    expect(down).toMatchObject({ ok: false, detail: "link has no IPv4 address yet" });

    expect(await runUntil(r.sched, () => r.sup.state === "connected" && r.bearers.length === 2, 120_000)).toBe(true);
    await r.planeReady();
    expect(r.sup.bearer).toBe(r.bearers[1]!);
    expect((await ping(r, "1.1.1.1"))?.ok).toBe(true);
    expect(r.networks.at(-1)!.received.length).toBe(1);
    const c = r.plane.counters()!;
    // Totals since start: both bearers' packets.
    expect(c.packetsOut).toBe(2);
    expect(c.packetsIn).toBe(2);
    expect(c.bytesOut).toBe(r.networks[0]!.received[0]!.length + r.networks.at(-1)!.received[0]!.length);
  });
});

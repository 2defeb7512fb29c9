/**
 * The whole agent in link.mode = "tun" with real traffic (root; skipped
 * otherwise). Nothing here is wired by hand on the agent's side: startAgent
 * (or `cellkeep run` as a child) dials the virtual modem over a real pty and
 * its own DataPlane configures the TUN, the pump, the prober filter, routes
 * and DNS. Only the network behind the modem is ours:
 *
 *   ns A: TUN (agent, netns override) ─ agent ─ pty ─ virtual modem (this process)
 *                                                        │ onIpFromClient / sendIpToClient
 *                                    ns B: TUN 10.64.0.1 ┘ (packets to the PPP peer address)
 *
 * Packets to the peer address 10.64.0.1 go to B's kernel instead of the
 * sim's tiny responder, so ping/TCP to it prove the path to B; everything
 * else (the health target 8.8.8.8) is still answered by the sim's network.
 * Every test removes its namespaces, interfaces, processes and files in
 * afterEach, whether it passed or not. Waits are on events, logs or polled
 * state with generous bounds, never sleeps as assertions.
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { join } from "node:path";
import type { LinkInterfaceEvent, PppUpEvent } from "../../src/core/agent-events.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { IpLink, IpVersion } from "../../src/core/ip-link.ts";
import { LinkInterface } from "../../src/net/iface.ts";
import { formatIpv4 } from "../../src/net/packet.ts";
import { PacketPump } from "../../src/net/pump.ts";
import { startSimulatorOnPty, type SimulatorHandle } from "../../src/sim/simulate.ts";
import { canUseNetns, ipShow, NetnsHarness, run, uniqueName } from "../support/netns.ts";
import { iperf } from "../net/stack.ts";
import { cleanupNetnsRigs, configToml, is, MAIN, startRig, tempDir, type Rig, type RigOptions } from "./harness.ts";

const enabled = canUseNetns() && Bun.which("iperf3") !== null && Bun.which("ping") !== null;

/** The sim's PPP side (IPCP peer) and the address it hands the agent (behaviour defaults). */
const PEER = "10.64.0.1";
const CLIENT = "10.64.0.2";
const SIM_DNS = "10.64.0.53";
const METRIC = 650;
const CREDS = { auth: { username: "e2e", password: "e2e-secret" } };

const h = new NetnsHarness();
/** Interface names this file made (a TUN still open when its namespace is deleted moves back to the root namespace). */
const links = new Set<string>();
function trackLink(name: string): string {
  links.add(name);
  h.trackLink(name);
  return name;
}
/** Temp dirs (pty link, DNS fragment, config) this file made. */
const dirs = new Set<string>();
function tempDirOf(prefix: string): string {
  const d = tempDir(prefix);
  dirs.add(d);
  return d;
}
// Namespaces, interfaces and processes go even when a stuck agent does not stop in time.
afterEach(() => cleanupNetnsRigs("tun e2e", h, links, run, dirs), 30_000);

interface Bridge {
  iface: LinkInterface;
  pump: PacketPump;
  /** IP packets from the agent handed to B's TUN. */
  toB: number;
}

/**
 * The virtual modem's network side ending in a TUN in `ns`: IPv4 packets to
 * the peer address go to B's kernel; the rest goes to the sim's own network
 * (so the agent's health target keeps answering). B's TUN reads go back to
 * the agent over the PPP call.
 */
async function bridgeToNamespace(sim: SimulatorHandle, ns: string): Promise<Bridge> {
  const name = trackLink(uniqueName("ckb"));
  const iface = new LinkInterface({ name, netns: ns, defaultRoute: false, routeMetric: 700, replaceDefault: false, dns: "none" });
  const tun = await iface.open();
  h.defer(() => iface.close());
  await iface.up({ mtu: 1500, local: PEER, peer: CLIENT, dns: [] });
  let deliver: ((v: IpVersion, p: Uint8Array) => void) | null = null;
  const link: IpLink = {
    sendIp: (_v, p) => sim.modem.sendIpToClient(p),
    onIp: (cb) => {
      deliver = cb;
      return () => {
        deliver = null;
      };
    },
  };
  const pump = new PacketPump({ tun, link });
  pump.start();
  h.defer(() => pump.stop());
  const bridge: Bridge = { iface, pump, toB: 0 };
  sim.modem.onIpFromClient((p) => {
    if (p.length >= 20 && p[0]! >> 4 === 4 && formatIpv4(p, 16) === PEER) {
      bridge.toB++;
      deliver?.(4, p);
      return;
    }
    // Not for B: the sim's responder answers (ICMP echo for 8.8.8.8, DNS). The
    // reply goes out after the modem has finished taking this frame in.
    for (const reply of sim.modem.network.handle(p)) queueMicrotask(() => sim.modem.sendIpToClient(reply));
  });
  h.defer(() => sim.modem.onIpFromClient(null));
  return bridge;
}

interface TunRig {
  nsA: string;
  nsB: string;
  name: string;
  dnsFile: string;
  rig: Rig;
  sim: SimulatorHandle;
  bridge: Bridge;
}

/** Namespaces A and B, the sim on a pty bridged to B, and the agent in tun mode with its TUN in A. */
async function startTunRig(o: { behaviour?: RigOptions["behaviour"] } = {}): Promise<TunRig> {
  const nsA = await h.create("ckA");
  const nsB = await h.create("ckB");
  const dir = tempDirOf("cellkeep-tun-");
  const dnsFile = join(dir, "resolv.conf.cell");
  const sim = startSimulatorOnPty({ link: join(dir, "ttySIM"), scenarios: ["healthy"], timeScale: 0.02, behaviour: { ...CREDS, ...o.behaviour } });
  h.defer(() => sim.stop());
  const bridge = await bridgeToNamespace(sim, nsB);
  const name = trackLink(uniqueName("ckc"));
  const rig = await startRig({
    scenarios: ["healthy"],
    sim,
    dir,
    tables: {
      link: `mode = "tun"\ninterface = "${name}"\nroute_metric = ${METRIC}\ndns = ${JSON.stringify(dnsFile)}`,
      // The pty is saturated during iperf: give the probe room so a slow reply is not a failed link.
      health: 'timeout = "2s"\nfailures = 5',
    },
    overrides: { netns: nsA },
  });
  return { nsA, nsB, name, dnsFile, rig, sim, bridge };
}

const ifaceEvent =
  (name: string, up: boolean) =>
  (e: EventBase): e is LinkInterfaceEvent =>
    e.type === "link.interface" && (e as LinkInterfaceEvent).name === name && (e as LinkInterfaceEvent).up === up;

/** Connected, interface up; returns the ppp.up event (its MRU is the interface's MTU). */
async function waitUp(t: TunRig, from = 0): Promise<{ ppp: PppUpEvent; iface: LinkInterfaceEvent }> {
  const iface = await t.rig.events.waitFor(ifaceEvent(t.name, true), 20_000, from);
  // The ppp.up of this call may come before `from`: the interface of the last call is torn down
  // asynchronously, and a quick redial can open PPP before that teardown's event is out.
  const ppp = t.rig.events.all.slice(0, t.rig.events.all.indexOf(iface)).filter(is.pppUp).at(-1);
  if (!ppp) throw new Error("interface up without a ppp.up event before it");
  expect(t.rig.agent.state()).toBe("connected");
  return { ppp, iface };
}

async function expectConfigured(t: TunRig, mtu: number): Promise<void> {
  const addr = await ipShow(t.nsA, ["-4", "addr", "show", "dev", t.name]);
  expect(addr).toContain(`inet ${CLIENT} peer ${PEER}/32`);
  expect(addr).toContain(`mtu ${mtu} `);
  expect(addr).toMatch(/state (UP|UNKNOWN)/);
  expect(await ipShow(t.nsA, ["-4", "route", "show", "default"])).toContain(`default dev ${t.name} scope link metric ${METRIC}`);
}

async function ping(ns: string, addr: string, count = 3): Promise<string> {
  const r = await h.exec(ns, ["ping", "-c", String(count), "-i", "0.2", "-W", "2", addr], { timeoutMs: 15_000 });
  return r.stdout + r.stderr;
}

/** The kernel's ICMP InEchoReps in `ns` (/proc/net/snmp is per namespace). */
async function icmpInEchoReps(ns: string): Promise<number> {
  const r = await h.exec(ns, ["cat", "/proc/net/snmp"]);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("Icmp:"));
  const keys = lines[0]?.split(/\s+/) ?? [];
  const vals = lines[1]?.split(/\s+/) ?? [];
  const i = keys.indexOf("InEchoReps");
  if (i < 0) throw new Error(`no Icmp InEchoReps in /proc/net/snmp of ${ns}`);
  return Number(vals[i]);
}

describe.skipIf(!enabled)("agent in tun mode: real traffic through startAgent's own data plane", () => {
  test("connected; interface, MTU, route, DNS from IPCP; ping and iperf3 both ways to B; health probe replies stay off the TUN", async () => {
    // Registration takes 600 ms: time to look at the TUN before the link is up.
    const t = await startTunRig({ behaviour: { registrationMs: 600 } });
    // The agent created its TUN at start, in namespace A, down and without an address.
    expect(await ipShow(t.nsA, ["link", "show", "dev", t.name])).toContain("state DOWN");
    expect(await ipShow(t.nsA, ["-4", "addr", "show", "dev", t.name])).toBe("");
    // A foreign MTU now shows that bring-up sets it from the negotiated MRU.
    expect((await h.exec(t.nsA, ["ip", "link", "set", "dev", t.name, "mtu", "1280"])).code).toBe(0);
    expect(t.rig.events.all.some(ifaceEvent(t.name, true))).toBe(false);
    const { ppp, iface } = await waitUp(t);
    expect(ppp.mru).not.toBe(1280);
    expect(iface).toMatchObject({ ipv4: CLIENT, peer: PEER, defaultRoute: true, cause: null });
    expect(ppp.ipv4).toMatchObject({ local: CLIENT, remote: PEER });
    await expectConfigured(t, ppp.mru);
    expect(fs.readFileSync(t.dnsFile, "utf8")).toContain(`nameserver ${SIM_DNS}`);

    const repsBefore = await icmpInEchoReps(t.nsA);
    // A → B: answered by B's kernel, not by the sim (its responder never sees these).
    const simEchoBefore = t.sim.modem.network.counters.echoReplies;
    const toBBefore = t.bridge.toB;
    expect(await ping(t.nsA, PEER)).toContain("3 received");
    expect(t.bridge.toB - toBBefore).toBeGreaterThanOrEqual(3);
    // B → A: the agent's pump writes them to its TUN and A's kernel answers.
    expect(await ping(t.nsB, CLIENT)).toContain("3 received");

    const pump = t.rig.agent.dataPlane.pumpCounters();
    expect(pump).not.toBeNull();
    const up = await iperf(h, t.nsB, t.nsA, PEER, { seconds: 2 });
    expect(up.bytes).toBeGreaterThan(0);
    const down = await iperf(h, t.nsB, t.nsA, PEER, { seconds: 2, reverse: true });
    expect(down.bytes).toBeGreaterThan(0);
    expect(pump!.toLink.bytes).toBeGreaterThan(up.bytes);
    expect(pump!.toTun.bytes).toBeGreaterThan(down.bytes);
    expect(t.rig.agent.state()).toBe("connected");

    // The in-link health probe kept working through all that, and its echo
    // replies were taken off the link: the filter counted them, and A's kernel
    // saw exactly the 3 replies of our own ping (a probe reply reaching the
    // TUN would count there too).
    const okAfterUp = () => t.rig.events.all.filter((e) => is.probeOk("icmp")(e) && e.at >= iface.at).length;
    await t.rig.events.waitFor((e) => is.probeOk("icmp")(e) && okAfterUp() >= 2, 10_000);
    expect(t.sim.modem.network.counters.echoReplies).toBeGreaterThan(simEchoBefore);
    expect(pump!.filtered).toBeGreaterThanOrEqual(okAfterUp());
    expect((await icmpInEchoReps(t.nsA)) - repsBefore).toBe(3);
  }, 45_000);

  test("agent.stop(): interface, addresses, default route and DNS fragment are gone", async () => {
    const t = await startTunRig();
    const { ppp } = await waitUp(t);
    await expectConfigured(t, ppp.mru);
    expect(fs.existsSync(t.dnsFile)).toBe(true);
    await t.rig.agent.stop("test stop");
    expect(t.rig.events.all.some(ifaceEvent(t.name, false))).toBe(true);
    expect(await ipShow(t.nsA, ["link", "show", "dev", t.name])).toBe("");
    expect(await ipShow(t.nsA, ["-4", "addr", "show"])).not.toContain(CLIENT);
    expect(await ipShow(t.nsA, ["-4", "route", "show", "default"])).toBe("");
    expect(await ipShow(t.nsA, ["-4", "route", "show"])).not.toContain(PEER);
    expect(fs.existsSync(t.dnsFile)).toBe(false);
  }, 30_000);

  test("link lost (NO CARRIER) → interface down, addresses and route removed; after the redial up again and ping works", async () => {
    // The first call drops 4 s after CONNECT; later calls stay (set below).
    const t = await startTunRig({ behaviour: { dropAfterMs: 4_000 } });
    const first = await waitUp(t);
    expect(await ping(t.nsA, PEER)).toContain("3 received");

    const down = await t.rig.events.waitFor(ifaceEvent(t.name, false), 15_000);
    t.sim.modem.behaviour.dropAfterMs = null;
    expect(down).toMatchObject({ ipv4: null, defaultRoute: false });
    expect(down.cause).not.toBeNull();
    // The modem hung up (NO CARRIER), not the agent.
    expect(t.rig.simEvents.of("sim.mode").some((e) => e.mode === "command" && e.reason === "drop-after")).toBe(true);
    const addrDown = await ipShow(t.nsA, ["-4", "addr", "show", "dev", t.name]);
    expect(addrDown).not.toContain(CLIENT);
    expect(await ipShow(t.nsA, ["-4", "route", "show", "default"])).toBe("");
    expect(fs.existsSync(t.dnsFile)).toBe(false);

    const downAt = t.rig.events.all.indexOf(down);
    const again = await waitUp(t, downAt + 1);
    expect(again.iface.at).toBeGreaterThan(first.iface.at);
    expect(again.ppp).not.toBe(first.ppp);
    await expectConfigured(t, again.ppp.mru);
    expect(fs.readFileSync(t.dnsFile, "utf8")).toContain(`nameserver ${SIM_DNS}`);
    expect(await ping(t.nsA, PEER)).toContain("3 received");
  }, 40_000);

  test("cellkeep run in namespace A: kill -9, then a new run cleans the stale state and comes up; SIGTERM tears down", async () => {
    const nsA = await h.create("ckA");
    const dir = tempDirOf("cellkeep-tun-run-");
    const pty = join(dir, "ttySIM");
    const dnsFile = join(dir, "resolv.conf.cell");
    const name = trackLink(uniqueName("ckr"));
    // The modem outlives the crashed agent (still in data mode when the next one opens the port).
    const sim = startSimulatorOnPty({ link: pty, scenarios: ["healthy"], timeScale: 0.05, behaviour: CREDS });
    h.defer(() => sim.stop());
    const file = join(dir, "cellkeep.toml");
    fs.writeFileSync(
      file,
      configToml({
        port: pty,
        stateFile: join(dir, "recovery.json"),
        tables: {
          link: `mode = "tun"\ninterface = "${name}"\nroute_metric = ${METRIC}\ndns = ${JSON.stringify(dnsFile)}`,
          // Inside namespace A: its own loopback.
          http: 'listen = "127.0.0.1:18080"',
          health: 'every = "2s"',
        },
      }),
      { mode: 0o600 },
    );
    const upLine = new RegExp(`interface ${name} up: ${CLIENT.replace(/\./g, "\\.")} peer ${PEER.replace(/\./g, "\\.")}`);

    const first = startRun(nsA, file);
    await first.waitFor(upLine, 30_000);
    expect(await ipShow(nsA, ["-4", "addr", "show", "dev", name])).toContain(`inet ${CLIENT} peer ${PEER}/32`);
    expect(fs.existsSync(dnsFile)).toBe(true);

    first.proc.kill("SIGKILL");
    expect(await first.proc.exited).not.toBe(0);
    // The kernel drops a non-persistent TUN (and its addresses and routes)
    // with its last fd; what a crash leaves behind is our DNS fragment.
    expect(await ipShow(nsA, ["link", "show", "dev", name])).toBe("");
    expect(fs.existsSync(dnsFile)).toBe(true);
    // And a stale interface of our name, as a persistent TUN (an older tool, `ip tuntap add`).
    expect((await h.exec(nsA, ["ip", "tuntap", "add", "dev", name, "mode", "tun"])).code).toBe(0);
    expect(await ipShow(nsA, ["-d", "link", "show", "dev", name])).toContain("persist on");

    const second = startRun(nsA, file);
    const cleaned = await second.waitFor(/net\.stale-cleanup[^\n]*/, 20_000);
    expect(cleaned[0]).toContain(name);
    expect(cleaned[0]).toMatch(/interface[^\n]*dns/);
    await second.waitFor(upLine, 40_000);
    const show = await ipShow(nsA, ["-d", "addr", "show", "dev", name]);
    expect(show).toContain(`inet ${CLIENT} peer ${PEER}/32`);
    expect(show).not.toContain("persist on");
    expect(await ipShow(nsA, ["-4", "route", "show", "default"])).toContain(`default dev ${name} scope link metric ${METRIC}`);
    expect(fs.readFileSync(dnsFile, "utf8")).toContain(`nameserver ${SIM_DNS}`);

    second.proc.kill("SIGTERM");
    expect(await second.proc.exited).toBe(0);
    expect(await ipShow(nsA, ["link", "show", "dev", name])).toBe("");
    expect(await ipShow(nsA, ["-4", "route", "show", "default"])).toBe("");
    expect(fs.existsSync(dnsFile)).toBe(false);
    expect(second.output()).not.toContain("e2e-secret");
  }, 60_000);
});

/** `cellkeep run --config FILE` inside `ns` (ip netns exec execs bun itself: the pid is the agent's); output collected. */
function startRun(ns: string, file: string) {
  const proc = h.spawn(ns, [process.execPath, MAIN, "run", "--config", file], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NOTIFY_SOCKET: "", WATCHDOG_USEC: "" },
  });
  let text = "";
  const waiters = new Set<() => void>();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    const reader = s.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += dec.decode(r.value, { stream: true });
      for (const w of [...waiters]) w();
    }
  };
  const drained = Promise.all([pump(proc.stdout as ReadableStream<Uint8Array>), pump(proc.stderr as ReadableStream<Uint8Array>)]);
  void drained.then(() => {
    for (const w of [...waiters]) w();
  });
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    proc,
    output: () => text,
    waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = () => {
          const m = text.match(re);
          if (m) {
            done();
            resolve(m);
          } else if (exited()) {
            done();
            reject(new Error(`cellkeep run exited (${proc.exitCode ?? proc.signalCode}) before ${re}:\n${text.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${re} within ${timeoutMs} ms; output:\n${text.slice(-4000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

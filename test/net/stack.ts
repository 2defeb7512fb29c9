/**
 * The full data plane between two namespaces, all in this process:
 *
 *   ns A: TUN ← pump → PppLink(client) ─ pty slave ═ pty master ─ PppLink(server) ← pump → TUN :ns B
 *
 * The TUN fds are opened in the root namespace and moved (bun-facts §4).
 * Shared by the end-to-end tests and test/bench/dataplane.ts. Everything it
 * creates is registered with the harness, so harness.cleanup() removes it.
 */
import type { Subprocess } from "bun";
import { RealScheduler } from "../../src/core/clock.ts";
import type { NetEvent } from "../../src/net/events.ts";
import { LinkInterface } from "../../src/net/iface.ts";
import { MeteredFdPipe } from "../../src/net/metered-pipe.ts";
import { PacketPump } from "../../src/net/pump.ts";
import { PppLink, type PppLinkEvent } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";
import { openSerialPipe, type SerialPipe } from "../../src/serial/port.ts";
import { openPtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";
import { type NetnsHarness, uniqueName } from "../support/netns.ts";

export const SERVER_IP = "10.77.0.1";
export const CLIENT_IP = "10.77.0.2";
export const SERVER_DNS = ["10.77.0.53"];

export interface StackOptions {
  /** Where ns A's DNS fragment goes ("none" to skip). */
  dns?: string;
  mru?: number;
  /** Pump high-water mark for the link backlog, bytes. */
  highWaterBytes?: number;
  /** Run IPV6CP too and give both TUNs their link-local addresses. */
  ipv6?: boolean;
}

export interface Stack {
  nsA: string;
  nsB: string;
  ifA: LinkInterface;
  ifB: LinkInterface;
  client: PppLink;
  server: PppLink;
  pumpA: PacketPump;
  pumpB: PacketPump;
  clientPipe: MeteredFdPipe;
  serverPipe: MeteredFdPipe;
  netEvents: NetEvent[];
  pppEvents: PppLinkEvent[];
}

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

export async function buildStack(h: NetnsHarness, opts: StackOptions = {}): Promise<Stack> {
  const nsA = await h.create("ckA");
  const nsB = await h.create("ckB");
  const pair = openPtyPair();
  h.defer(() => pair.close());
  const flags = libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC;
  const slaveFd = libc.check(libc.open(pair.slavePath, flags), "open", pair.slavePath);
  h.defer(() => libc.close(slaveFd));
  const clientPipe = new MeteredFdPipe(slaveFd, "pty slave");
  const serverPipe = new MeteredFdPipe(pair.masterFd, "pty master");
  h.defer(() => clientPipe.close());
  h.defer(() => serverPipe.close());

  const scheduler = new RealScheduler();
  const mru = opts.mru ?? 1500;
  const ncps = { ipv4: true, ipv6: opts.ipv6 ?? false };
  const client = new PppLink({ pipe: clientPipe, scheduler, session: new PppSession({ role: "client", mru, ncps, echo: { intervalMs: 0, failures: 3 } }) });
  const server = new PppLink({
    pipe: serverPipe,
    scheduler,
    session: new PppSession({ role: "server", mru, ncps, echo: { intervalMs: 0, failures: 3 }, server: { localIPv4: SERVER_IP, peerIPv4: CLIENT_IP, dns: SERVER_DNS } }),
  });
  h.defer(() => client.stop());
  h.defer(() => server.stop());
  const pppEvents: PppLinkEvent[] = [];
  client.onEvent((e) => pppEvents.push(e));

  const netEvents: NetEvent[] = [];
  const common = { routeMetric: 700, replaceDefault: false, emit: (e: NetEvent) => netEvents.push(e) };
  const ifA = new LinkInterface({ ...common, name: uniqueName("cka"), netns: nsA, defaultRoute: true, dns: opts.dns ?? "none" });
  const ifB = new LinkInterface({ ...common, name: uniqueName("ckb"), netns: nsB, defaultRoute: false, dns: "none" });
  h.trackLink(ifA.name);
  h.trackLink(ifB.name);
  const tunA = await ifA.open();
  h.defer(() => ifA.close());
  const tunB = await ifB.open();
  h.defer(() => ifB.close());

  const hw = opts.highWaterBytes ?? Number(process.env.CK_HW ?? 16 * 1024);
  const pumpA = new PacketPump({ tun: tunA, link: client, highWaterBytes: hw });
  const pumpB = new PacketPump({ tun: tunB, link: server, highWaterBytes: hw });
  h.defer(() => pumpA.stop());
  h.defer(() => pumpB.stop());
  pumpA.start();
  pumpB.start();

  server.start();
  client.start();
  const ready = () => {
    const c = client.status();
    const s = server.status();
    return c.phase === "open" && s.phase === "open" && c.ipv4 !== null && (!ncps.ipv6 || (c.ipv6 !== null && s.ipv6 !== null));
  };
  await waitUntil(ready, 5000, "PPP open on both sides");
  const a = client.status();
  const b = server.status();
  await ifA.up({ mtu: a.peerMru, local: a.ipv4!.local, peer: a.ipv4!.remote, dns: a.ipv4!.dns, ipv6: a.ipv6 });
  await ifB.up({ mtu: b.peerMru, local: b.ipv4!.local, peer: b.ipv4!.remote, dns: [], ipv6: b.ipv6 });
  return { nsA, nsB, ifA, ifB, client, server, pumpA, pumpB, clientPipe, serverPipe, netEvents, pppEvents };
}

export interface IperfResult {
  /** Bytes the receiver got. */
  bytes: number;
  bitsPerSecond: number;
  seconds: number;
}

/** iperf3 TCP from ns `from` to the server in ns `to` (listening on `addr`); `reverse` makes the server send. */
export async function iperf(h: NetnsHarness, to: string, from: string, addr: string, opts: { seconds?: number; reverse?: boolean } = {}): Promise<IperfResult> {
  const port = String(20000 + Math.floor(Math.random() * 20000));
  h.spawn(to, ["iperf3", "-s", "-1", "-B", addr, "-p", port]);
  // Wait until it listens.
  for (let i = 0; i < 200; i++) {
    const ss = await h.exec(to, ["ss", "-ltnH", `sport = :${port}`]);
    if (ss.stdout.includes(port)) break;
    await Bun.sleep(10);
  }
  const seconds = opts.seconds ?? 2;
  const args = ["iperf3", "-c", addr, "-p", port, "-t", String(seconds), "-J", ...(opts.reverse ? ["-R"] : [])];
  const r = await h.exec(from, args, { timeoutMs: (seconds + 15) * 1000 });
  let j: { end?: { sum_received?: { bytes: number; bits_per_second: number; seconds: number } }; error?: string };
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(`iperf3 failed (exit ${r.code}): ${r.stderr || r.stdout}`);
  }
  const s = j.end?.sum_received;
  if (!s) throw new Error(`iperf3 gave no result: ${j.error ?? r.stderr}`);
  return { bytes: s.bytes, bitsPerSecond: s.bits_per_second, seconds: s.seconds };
}

export interface SplitStack {
  nsA: string;
  nsB: string;
  ifA: LinkInterface;
  client: PppLink;
  pumpA: PacketPump;
  /** cellkeep's side of the pty: the agent's SerialPipe (default) or a MeteredFdPipe. */
  clientPipe: SerialPipe | MeteredFdPipe;
  /** pid of the peer process (PPP server role + its TUN in ns B). */
  peerPid: number;
}

/**
 * Like buildStack, but the far end (PPP server + TUN in ns B) runs in its own
 * process, as the modem would: this process then holds exactly what cellkeep
 * holds in production (one PPP end, one TUN, one pump), so its CPU share is
 * the agent's.
 *
 * `agentPipe: "serial"` (default) opens the pty slave with openSerialPipe, the
 * agent's own port code (SerialPortStream over the FFI binding), and hands
 * the master to the peer as its stdin, like a modem at the other end of a
 * serial line. `"metered"` keeps the MeteredFdPipe arrangement (this process
 * on the master, the peer opens the slave).
 */
export async function buildSplitStack(h: NetnsHarness, opts: { agentPipe?: "serial" | "metered" } = {}): Promise<SplitStack> {
  const nsA = await h.create("ckA");
  const nsB = await h.create("ckB");
  const pair = openPtyPair({ holdSlave: false });
  h.defer(() => pair.close());
  const nameB = uniqueName("ckb");
  h.trackLink(nameB);
  const serial = (opts.agentPipe ?? "serial") === "serial";
  const peerArgs = [process.execPath, `${import.meta.dir}/fixtures/ppp-peer.ts`, serial ? "-" : pair.slavePath, nsB, nameB, SERVER_IP, CLIENT_IP];
  let peer: Subprocess;
  if (serial) {
    // The harness's spawn() has no stdin option: spawn here and register the kill.
    peer = Bun.spawn(peerArgs, { stdin: pair.masterFd, stdout: "pipe", stderr: "ignore" });
    h.defer(async () => {
      peer.kill("SIGKILL");
      await peer.exited;
    });
  } else peer = h.spawn(null, peerArgs, { stdout: "pipe", stderr: "ignore" });
  const lowWater = process.env.CK_LOW ? { lowWaterBytes: Number(process.env.CK_LOW) } : {};
  const clientPipe = serial ? await openSerialPipe(pair.slavePath, { lock: false }) : new MeteredFdPipe(pair.masterFd, "pty master", lowWater);
  h.defer(() => clientPipe.close());
  const scheduler = new RealScheduler();
  const client = new PppLink({ pipe: clientPipe, scheduler, session: new PppSession({ role: "client", echo: { intervalMs: 0, failures: 3 } }) });
  h.defer(() => client.stop());
  const ifA = new LinkInterface({ name: uniqueName("cka"), netns: nsA, defaultRoute: true, routeMetric: 700, replaceDefault: false, dns: "none" });
  h.trackLink(ifA.name);
  const tunA = await ifA.open();
  h.defer(() => ifA.close());
  const pumpA = new PacketPump({ tun: tunA, link: client, highWaterBytes: Number(process.env.CK_HW ?? 32 * 1024), queuePackets: Number(process.env.CK_Q ?? 64) });
  h.defer(() => pumpA.stop());
  pumpA.start();
  client.start();
  const reader = (peer.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  const deadline = Date.now() + 10_000;
  while (!text.includes("\n")) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (r === null || r.done) throw new Error(`peer process did not come up: ${text}`);
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  await waitUntil(() => client.status().phase === "open" && client.status().ipv4 !== null, 5000, "PPP open");
  const a = client.status();
  await ifA.up({ mtu: a.peerMru, local: a.ipv4!.local, peer: a.ipv4!.remote, dns: [] });
  return { nsA, nsB, ifA, client, pumpA, clientPipe, peerPid: peer.pid };
}

/**
 * The system side of link.mode = "tun": create the TUN device, give it the
 * IPCP addresses and the negotiated MTU, add the default route and DNS, and
 * take exactly those things away again on down()/close().
 *
 * Route policy: with link.default_route we add `default dev <if> metric
 * <route_metric>`. An existing default with a better (lower or equal) metric
 * is never removed unless link.replace_default; then it is removed while our
 * link is up and put back, exactly as it was, on teardown.
 *
 * Stale state: a crashed run (kill -9) loses its TUN fd, so the kernel deletes
 * the non-persistent interface and its routes by itself; what can remain is a
 * persistent TUN of our name (left by an older tool or a `ip tuntap add`) and
 * our DNS fragment. open() removes both, but never an interface some live
 * process still holds and never a non-TUN interface.
 */
import * as fs from "node:fs";
import type { LinkInterfaceEvent } from "../core/agent-events.ts";
import { CellkeepError, type Cause } from "../core/cause.ts";
import { systemClock, type Clock } from "../core/clock.ts";
import { DnsConfigurator, dnsMode } from "./dns.ts";
import type { NetEvent } from "./events.ts";
import { IpTool, parseDefaultRoutes, systemRunner, type CommandRunner, type DefaultRoute } from "./ip-tool.ts";
import { FdTun, hasNetAdmin, TUN_PATH, type TunDevice } from "./tun.ts";

export interface LinkInterfaceOptions {
  /** link.interface */
  name: string;
  /** link.default_route */
  defaultRoute: boolean;
  /** link.route_metric */
  routeMetric: number;
  /** link.replace_default */
  replaceDefault: boolean;
  /** link.dns: "none" | "resolvconf" | a file path */
  dns: string;
  clock?: Clock;
  emit?: (event: NetEvent) => void;
  runner?: CommandRunner;
  /** Move the TUN into this network namespace after creating it and configure it there (tests). */
  netns?: string;
  /** Creates the TUN device (default FdTun.open); tests pass a MemoryTun. */
  openTun?: (name: string) => TunDevice;
  /** Skip the root/CAP_NET_ADMIN check (tests with a fake runner). */
  skipPrivilegeCheck?: boolean;
}

export interface LinkUpParams {
  /** From the negotiated MRU (the peer's MRU bounds what we may send). */
  mtu: number;
  /** Our IPCP address. */
  local: string;
  /** The peer's IPCP address. */
  peer: string;
  /** DNS servers from IPCP (RFC 1877), may be empty. */
  dns: string[];
  /** Link-local addresses from IPV6CP interface identifiers, e.g. "fe80::1". */
  ipv6?: { local: string; remote: string } | null;
}

export interface LinkInterfaceState {
  name: string;
  open: boolean;
  up: boolean;
  mtu: number | null;
  ipv4: string | null;
  peer: string | null;
  ipv6: string | null;
  defaultRoute: boolean;
  /** Defaults we removed because of replace_default (put back on down). */
  replacedRoutes: string[];
  dnsApplied: boolean;
  lastDetail: string | null;
}

export class LinkInterface {
  private readonly ip: IpTool;
  /** `ip` in the root namespace (to move the TUN into `netns`). */
  private readonly rootIp: IpTool;
  private readonly clock: Clock;
  private readonly dns: DnsConfigurator;
  private tunDev: TunDevice | null = null;
  private st: LinkInterfaceState;
  /** The exact spec of the default route we added, for removal. */
  private addedRoute: string[] | null = null;
  private replaced: DefaultRoute[] = [];

  constructor(private readonly opts: LinkInterfaceOptions) {
    const runner = opts.runner ?? systemRunner;
    this.ip = new IpTool({ runner, netns: opts.netns });
    this.rootIp = new IpTool({ runner });
    this.clock = opts.clock ?? systemClock;
    this.dns = new DnsConfigurator(opts.name, dnsMode(opts.dns), runner);
    this.st = {
      name: opts.name,
      open: false,
      up: false,
      mtu: null,
      ipv4: null,
      peer: null,
      ipv6: null,
      defaultRoute: false,
      replacedRoutes: [],
      dnsApplied: false,
      lastDetail: null,
    };
  }

  get name(): string {
    return this.opts.name;
  }

  get tun(): TunDevice | null {
    return this.tunDev;
  }

  state(): LinkInterfaceState {
    return { ...this.st, replacedRoutes: [...this.st.replacedRoutes] };
  }

  /**
   * Preflight (ip tool, privileges, /dev/net/tun), stale cleanup, then create
   * the TUN device (down, no address). Throws CellkeepError with cause
   * ip-tool-missing / permission-denied / tun-unavailable.
   */
  async open(): Promise<TunDevice> {
    if (this.tunDev) return this.tunDev;
    this.ip.ensure();
    if (!this.opts.skipPrivilegeCheck) {
      if (!hasNetAdmin()) throw new CellkeepError("permission-denied", "not root and no CAP_NET_ADMIN");
      if (!fs.existsSync(TUN_PATH)) throw new CellkeepError("tun-unavailable", `${TUN_PATH} does not exist`);
    }
    await this.cleanStale();
    const tun = (this.opts.openTun ?? FdTun.open)(this.opts.name);
    this.tunDev = tun;
    try {
      if (this.opts.netns) await this.rootIp.must(["link", "set", "dev", this.opts.name, "netns", this.opts.netns]);
      // No kernel-made IPv6 link-local: IPV6CP negotiates ours (RFC 5072 §4.1).
      await this.ip.exec(["link", "set", "dev", this.opts.name, "addrgenmode", "none"]);
    } catch (err) {
      this.tunDev = null;
      await tun.close();
      throw err;
    }
    this.st.open = true;
    return tun;
  }

  /** Configure the interface from IPCP/IPV6CP results and bring it up. */
  async up(p: LinkUpParams): Promise<void> {
    if (!this.tunDev) await this.open();
    if (this.st.up) await this.down(null);
    const name = this.opts.name;
    const details: string[] = [];
    try {
      await this.ip.must(["link", "set", "dev", name, "mtu", String(p.mtu)]);
      await this.ip.must(["-4", "addr", "add", `${p.local}/32`, "peer", `${p.peer}/32`, "dev", name]);
      this.st.ipv4 = p.local;
      this.st.peer = p.peer;
      this.st.mtu = p.mtu;
      await this.ip.must(["link", "set", "dev", name, "up"]);
      this.st.up = true;
      if (p.ipv6) {
        const addr = p.ipv6.local.includes("/") ? p.ipv6.local : `${p.ipv6.local}/64`;
        const r = await this.ip.exec(["-6", "addr", "add", addr, "dev", name, "nodad"]);
        if (r.code === 0) this.st.ipv6 = addr;
        else details.push(`IPv6 address not set: ${r.stderr.trim()}`);
      }
      if (this.opts.defaultRoute) {
        const d = await this.addDefaultRoute();
        if (d) details.push(d);
      }
      const dr = await this.dns.apply(p.dns);
      this.st.dnsApplied = dr.applied;
      if (dr.detail) details.push(dr.detail);
    } catch (err) {
      const c = err instanceof CellkeepError ? err.causeInfo : null;
      this.st.lastDetail = (err as Error).message;
      await this.teardown();
      this.emitInterface(c);
      throw err;
    }
    this.st.lastDetail = details.length ? details.join("; ") : null;
    this.emitInterface(null);
  }

  /** Remove what up() added (route, replaced routes restored, DNS, addresses) and set the link down. The TUN stays open. */
  async down(cause: Cause | null = null): Promise<void> {
    const wasUp = this.st.up || this.st.ipv4 !== null;
    await this.teardown();
    if (wasUp) this.emitInterface(cause);
  }

  /** down(), then close the TUN device (the kernel deletes the interface). */
  async close(cause: Cause | null = null): Promise<void> {
    await this.down(cause);
    const tun = this.tunDev;
    this.tunDev = null;
    this.st.open = false;
    if (tun) await tun.close();
  }

  // --- internals ----------------------------------------------------------------

  private async addDefaultRoute(): Promise<string | null> {
    const name = this.opts.name;
    const metric = this.opts.routeMetric;
    const list = await this.ip.exec(["-4", "route", "show", "default"]);
    const others = parseDefaultRoutes(list.code === 0 ? list.stdout : "").filter((r) => r.dev !== name);
    const better = others.filter((r) => r.metric <= metric);
    if (better.length > 0 && this.opts.replaceDefault) {
      for (const r of better) {
        const del = await this.ip.exec(["-4", "route", "del", ...r.spec]);
        if (del.code === 0) {
          this.replaced.push(r);
          this.st.replacedRoutes.push(r.spec.join(" "));
        }
      }
      this.emitRoute("replaced", `removed ${this.replaced.length} better default route(s) while the link is up`);
    }
    const spec = ["default", "dev", name, "metric", String(metric)];
    const add = await this.ip.exec(["-4", "route", "add", ...spec]);
    if (add.code !== 0) {
      const msg = add.stderr.trim();
      this.emitRoute("failed", msg);
      return `default route not added: ${msg}`;
    }
    this.addedRoute = spec;
    this.st.defaultRoute = true;
    if (better.length > 0 && !this.opts.replaceDefault) {
      const best = Math.min(...better.map((r) => r.metric));
      this.emitRoute("kept-existing", `an existing default route has metric ${best} <= ${metric}; ours is a fallback (set link.replace_default to take over)`);
    } else this.emitRoute("added");
    return null;
  }

  /** Undo in reverse order; every step tolerates "already gone" (e.g. the TUN vanished). */
  private async teardown(): Promise<void> {
    const name = this.opts.name;
    if (this.addedRoute) {
      await this.ip.exec(["-4", "route", "del", ...this.addedRoute]);
      this.addedRoute = null;
      this.st.defaultRoute = false;
      this.emitRoute("removed");
    }
    if (this.replaced.length > 0) {
      for (const r of this.replaced) await this.ip.exec(["-4", "route", "add", ...r.spec]);
      this.replaced = [];
      this.st.replacedRoutes = [];
      this.emitRoute("restored");
    }
    await this.dns.remove();
    this.st.dnsApplied = false;
    if (this.st.ipv4 !== null || this.st.ipv6 !== null) {
      await this.ip.exec(["addr", "flush", "dev", name]);
    }
    if (this.st.up) await this.ip.exec(["link", "set", "dev", name, "down"]);
    this.st.up = false;
    this.st.ipv4 = null;
    this.st.peer = null;
    this.st.ipv6 = null;
    this.st.mtu = null;
  }

  private async cleanStale(): Promise<void> {
    const name = this.opts.name;
    const removed: string[] = [];
    const tools = this.opts.netns ? [this.ip, this.rootIp] : [this.ip];
    for (const tool of tools) {
      const show = await tool.exec(["-d", "link", "show", "dev", name]);
      if (show.code !== 0) continue; // no such interface: nothing stale
      if (!/\btun type tun\b/.test(show.stdout)) {
        throw new CellkeepError("tun-unavailable", `an interface named ${name} already exists and is not a TUN device; pick another link.interface`);
      }
      const holder = tunHolder(name);
      if (holder !== null) {
        throw new CellkeepError("tun-unavailable", `interface ${name} is in use by process ${holder} (another cellkeep?)`);
      }
      await tool.must(["link", "del", "dev", name]);
      removed.push("interface");
    }
    if (this.opts.dns !== "none") {
      await this.dns.remove(true);
      removed.push("dns");
    }
    if (removed.includes("interface")) {
      this.opts.emit?.({ type: "net.stale-cleanup", at: this.clock.now(), name, removed });
    }
  }

  private emitInterface(c: Cause | null): void {
    const e: LinkInterfaceEvent = {
      type: "link.interface",
      at: this.clock.now(),
      name: this.opts.name,
      up: this.st.up,
      ipv4: this.st.ipv4,
      peer: this.st.peer,
      defaultRoute: this.st.defaultRoute,
      cause: c,
    };
    this.opts.emit?.(e);
  }

  private emitRoute(action: "added" | "kept-existing" | "replaced" | "failed" | "removed" | "restored", detail?: string): void {
    const base = { type: "net.default-route" as const, at: this.clock.now(), name: this.opts.name, action, metric: this.opts.routeMetric };
    this.opts.emit?.(detail === undefined ? base : { ...base, detail });
  }
}

/**
 * pid of a live process (not us) holding TUN interface `name` open, or null.
 * A TUN fd's /proc/<pid>/fdinfo has an `iff:\t<name>` line.
 */
export function tunHolder(name: string): number | null {
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== TUN_PATH) continue;
        const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
        if (new RegExp(`^iff:\\s*${name.replace(/[.]/g, "\\.")}$`, "m").test(info)) return Number(pid);
      } catch {
        // the process or fd went away
      }
    }
  }
  return null;
}

/**
 * LinkInterface policy without root: a fake `ip` records every command and
 * answers `route show default` from a table, so route metric policy, exact
 * teardown, DNS handling and error mapping are tested in milliseconds.
 */
import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CellkeepError } from "../../src/core/cause.ts";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { NetEvent } from "../../src/net/events.ts";
import { LinkInterface, type LinkInterfaceOptions } from "../../src/net/iface.ts";
import { type CommandResult, type CommandRunner, parseDefaultRoutes } from "../../src/net/ip-tool.ts";
import { MemoryTun } from "../../src/net/tun.ts";

class FakeIp implements CommandRunner {
  calls: string[] = [];
  stdin: Array<string | undefined> = [];
  /** Default routes in `ip route` text form. */
  defaults: string[] = [];
  installed = new Set(["ip"]);
  fail = new Map<string, string>();
  async run(argv: string[], input?: string): Promise<CommandResult> {
    const cmd = argv.slice(1).join(" ");
    this.calls.push(`${argv[0]!.split("/").pop()} ${cmd}`);
    this.stdin.push(input);
    for (const [k, msg] of this.fail) if (cmd.includes(k)) return { code: 2, stdout: "", stderr: msg };
    if (cmd.includes("link show")) return { code: 1, stdout: "", stderr: "Device does not exist" };
    if (cmd === "-4 route show default") return { code: 0, stdout: this.defaults.map((d) => `${d}\n`).join(""), stderr: "" };
    const add = /^-4 route add (default .*)$/.exec(cmd);
    if (add) {
      this.defaults.push(add[1]!);
      return { code: 0, stdout: "", stderr: "" };
    }
    const del = /^-4 route del (default .*)$/.exec(cmd);
    if (del) {
      const i = this.defaults.findIndex((d) => norm(d) === norm(del[1]!));
      if (i < 0) return { code: 2, stdout: "", stderr: "RTNETLINK answers: No such process" };
      this.defaults.splice(i, 1);
    }
    return { code: 0, stdout: "", stderr: "" };
  }
  which(p: string): string | null {
    return this.installed.has(p) ? `/usr/sbin/${p}` : null;
  }
}
/** A route's identity: its key/value pairs in a fixed order (scope/proto do not identify it). */
const norm = (s: string) => {
  const w = s.replace(/ scope link| proto \S+/g, "").trim().split(/\s+/).slice(1);
  const pairs: string[] = [];
  for (let i = 0; i + 1 < w.length; i += 2) pairs.push(`${w[i]} ${w[i + 1]}`);
  return ["default", ...pairs.sort()].join(" ");
};

function make(over: Partial<LinkInterfaceOptions> = {}, ip = new FakeIp()) {
  const events: NetEvent[] = [];
  const clock = new ManualScheduler(1000);
  const li = new LinkInterface({
    name: "cell0",
    defaultRoute: true,
    routeMetric: 700,
    replaceDefault: false,
    dns: "none",
    runner: ip,
    clock,
    emit: (e) => events.push(e),
    openTun: (n) => new MemoryTun(n),
    skipPrivilegeCheck: true,
    ...over,
  });
  return { li, ip, events };
}
const UP = { mtu: 1500, local: "10.64.1.2", peer: "10.64.64.64", dns: ["10.0.0.53", "10.0.0.54"] };

describe("LinkInterface with a fake ip", () => {
  test("up: MTU, address/peer, up, default route with metric; down removes exactly those", async () => {
    const { li, ip, events } = make();
    await li.up({ ...UP, mtu: 1420 });
    expect(ip.calls).toEqual([
      "ip -d link show dev cell0",
      "ip link set dev cell0 addrgenmode none",
      "ip link set dev cell0 mtu 1420",
      "ip -4 addr add 10.64.1.2/32 peer 10.64.64.64/32 dev cell0",
      "ip link set dev cell0 up",
      "ip -4 route show default",
      "ip -4 route add default dev cell0 metric 700",
    ]);
    expect(events.at(-1)).toEqual({ type: "link.interface", at: 1000, name: "cell0", up: true, ipv4: "10.64.1.2", peer: "10.64.64.64", defaultRoute: true, cause: null });
    ip.calls = [];
    await li.down({ code: "peer-dead", hint: "x" });
    expect(ip.calls).toEqual(["ip -4 route del default dev cell0 metric 700", "ip addr flush dev cell0", "ip link set dev cell0 down"]);
    expect(ip.defaults).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: "link.interface", up: false, ipv4: null, defaultRoute: false, cause: { code: "peer-dead" } });
    // down twice: nothing more to undo, no second event
    const n = events.length;
    ip.calls = [];
    await li.down();
    expect(ip.calls).toEqual([]);
    expect(events.length).toBe(n);
  });

  test("a better existing default is kept (ours is a fallback) unless replace_default", async () => {
    const { li, ip, events } = make();
    ip.defaults = ["default via 192.168.1.1 dev eth0 proto dhcp metric 100"];
    await li.up(UP);
    expect(ip.defaults).toEqual(["default via 192.168.1.1 dev eth0 proto dhcp metric 100", "default dev cell0 metric 700"]);
    expect(events.find((e) => e.type === "net.default-route")).toMatchObject({ action: "kept-existing" });
    await li.close();
    expect(ip.defaults).toEqual(["default via 192.168.1.1 dev eth0 proto dhcp metric 100"]);
  });

  test("replace_default removes better defaults while up and restores them exactly", async () => {
    const { li, ip } = make({ replaceDefault: true });
    ip.defaults = ["default via 192.168.1.1 dev eth0 proto dhcp src 192.168.1.5 metric 100", "default via 10.1.1.1 dev wlan0 metric 900"];
    await li.up(UP);
    // the worse (900) one is left alone
    expect(ip.defaults).toEqual(["default via 10.1.1.1 dev wlan0 metric 900", "default dev cell0 metric 700"]);
    expect(li.state().replacedRoutes).toEqual(["default via 192.168.1.1 dev eth0 proto dhcp metric 100 src 192.168.1.5"]);
    await li.down();
    expect(ip.defaults.map(norm).sort()).toEqual([norm("default via 10.1.1.1 dev wlan0 metric 900"), norm("default via 192.168.1.1 dev eth0 metric 100 src 192.168.1.5")].sort());
  });

  test("default_route = false adds no route; a failing route add is reported, not fatal", async () => {
    const a = make({ defaultRoute: false });
    await a.li.up(UP);
    expect(a.ip.calls.some((c) => c.includes("route"))).toBe(false);
    const b = make();
    b.ip.fail.set("route add", "RTNETLINK answers: File exists");
    await b.li.up(UP);
    expect(b.li.state()).toMatchObject({ up: true, defaultRoute: false, lastDetail: "default route not added: RTNETLINK answers: File exists" });
    expect(b.events.find((e) => e.type === "net.default-route")).toMatchObject({ action: "failed" });
  });

  test("IPv6 link-local from IPV6CP", async () => {
    const { li, ip } = make({ defaultRoute: false });
    await li.up({ ...UP, ipv6: { local: "fe80::1234:5678:9abc:def0", remote: "fe80::1" } });
    expect(ip.calls).toContain("ip -6 addr add fe80::1234:5678:9abc:def0/64 dev cell0 nodad");
    expect(li.state().ipv6).toBe("fe80::1234:5678:9abc:def0/64");
  });

  test("re-up after renegotiation tears the old configuration down first", async () => {
    const { li, ip } = make();
    await li.up(UP);
    await li.up({ ...UP, local: "10.64.9.9" });
    expect(ip.defaults).toEqual(["default dev cell0 metric 700"]);
    expect(ip.calls.filter((c) => c === "ip addr flush dev cell0").length).toBe(1);
    expect(li.state().ipv4).toBe("10.64.9.9");
  });

  test("ip missing → ip-tool-missing; EPERM from ip → permission-denied and everything undone", async () => {
    const ip = new FakeIp();
    ip.installed.delete("ip");
    const a = make({}, ip);
    const e1 = await a.li.open().then(() => null, (e: unknown) => e);
    expect((e1 as CellkeepError).causeInfo.code).toBe("ip-tool-missing");
    const b = make();
    b.ip.fail.set("link set dev cell0 up", "RTNETLINK answers: Operation not permitted");
    const e2 = await b.li.up(UP).then(() => null, (e: unknown) => e);
    expect((e2 as CellkeepError).causeInfo.code).toBe("permission-denied");
    expect(b.li.state()).toMatchObject({ up: false, ipv4: null });
    expect(b.ip.calls.at(-1)).toBe("ip addr flush dev cell0");
    expect(b.events.at(-1)).toMatchObject({ type: "link.interface", up: false, cause: { code: "permission-denied" } });
  });

  test("DNS: file fragment written atomically and removed; resolvconf -a/-d; missing resolvconf is reported", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ck-dns-"));
    try {
      const file = path.join(dir, "resolv.conf.cell0");
      const a = make({ dns: file, defaultRoute: false });
      await a.li.up(UP);
      expect(fs.readFileSync(file, "utf8")).toBe("# written by cellkeep for cell0; removed when the link goes down\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n");
      expect(fs.readdirSync(dir)).toEqual(["resolv.conf.cell0"]); // no temp file left
      await a.li.down();
      expect(fs.existsSync(file)).toBe(false);
      // a hand-written file at that path is never removed
      fs.writeFileSync(file, "nameserver 1.1.1.1\n");
      await make({ dns: file }).li.open();
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const r = make({ dns: "resolvconf", defaultRoute: false });
    r.ip.installed.add("resolvconf");
    await r.li.up(UP);
    const i = r.ip.calls.indexOf("resolvconf -a cell0");
    expect(i).toBeGreaterThan(0);
    expect(r.ip.stdin[i]).toContain("nameserver 10.0.0.53\nnameserver 10.0.0.54\n");
    await r.li.down();
    expect(r.ip.calls.at(-3)).toBe("resolvconf -d cell0");
    const m = make({ dns: "resolvconf", defaultRoute: false });
    await m.li.up(UP);
    expect(m.li.state().lastDetail).toContain("no resolvconf command");
    const none = make({ dns: "none", defaultRoute: false });
    await none.li.up(UP);
    expect(none.ip.calls.some((c) => c.startsWith("resolvconf"))).toBe(false);
  });

  test("parseDefaultRoutes keeps what re-adding needs and drops flags", () => {
    expect(parseDefaultRoutes("default via 1.2.3.4 dev eth0 proto static metric 50 linkdown\ndefault dev ppp0 scope link\n10.0.0.0/8 dev x\n")).toEqual([
      { dev: "eth0", via: "1.2.3.4", metric: 50, spec: ["default", "via", "1.2.3.4", "dev", "eth0", "proto", "static", "metric", "50"] },
      { dev: "ppp0", via: null, metric: 0, spec: ["default", "dev", "ppp0", "scope", "link"] },
    ]);
  });
});

/**
 * Teardown and stale-state cleanup with real interfaces (root; skipped
 * otherwise): a process holding the interface is never disturbed, a process
 * killed with -9 leaves a DNS fragment that the next start removes, and a
 * persistent TUN of our name is removed at start. Plus the named causes for
 * an unprivileged user.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CellkeepError } from "../../src/core/cause.ts";
import type { NetEvent } from "../../src/net/events.ts";
import { LinkInterface } from "../../src/net/iface.ts";
import { canUseNetns, ipShow, NetnsHarness, uniqueName } from "../support/netns.ts";

const FIXTURE = path.join(import.meta.dir, "fixtures", "hold-interface.ts");

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  return text.split("\n")[0] ?? "";
}

describe.skipIf(!canUseNetns())("teardown and stale cleanup", () => {
  const h = new NetnsHarness();
  let ns: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cellkeep-teardown-"));
  const dnsFile = path.join(dir, "resolv.conf.cell");

  beforeAll(async () => {
    ns = await h.create("ckT");
  });
  afterAll(async () => {
    await h.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  test("kill -9 while up: a live holder is refused, then the next start cleans the stale state", async () => {
    const name = uniqueName("ckt");
    h.trackLink(name);
    const child = h.spawn(null, [process.execPath, FIXTURE, name, ns, dnsFile], { stdout: "pipe", stderr: "pipe" });
    const line = JSON.parse(await firstLine(child.stdout as ReadableStream<Uint8Array>));
    expect(line).toMatchObject({ ready: true });
    expect(await ipShow(ns, ["-4", "addr", "show", "dev", name])).toContain("inet 10.88.0.2 peer 10.88.0.1/32");
    expect(fs.readFileSync(dnsFile, "utf8")).toContain("nameserver 10.88.0.53");

    // A second instance must not steal an interface a live process holds.
    const second = new LinkInterface({ name, netns: ns, defaultRoute: true, routeMetric: 700, replaceDefault: false, dns: dnsFile });
    const err = await second.open().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CellkeepError);
    expect((err as CellkeepError).causeInfo.code).toBe("tun-unavailable");
    expect((err as CellkeepError).causeInfo.detail).toContain(`process ${line.pid}`);
    expect(await ipShow(ns, ["-4", "route", "show", "default"])).toContain(`dev ${name}`);

    // Crash.
    child.kill("SIGKILL");
    await child.exited;
    // The kernel drops a non-persistent TUN with its last fd: addresses and routes go with it.
    expect(await ipShow(ns, ["link", "show", "dev", name])).toBe("");
    expect(await ipShow(ns, ["-4", "route", "show", "default"])).toBe("");
    // ... but our DNS fragment is stale. Make the interface stale too: a persistent TUN of our name.
    expect(fs.existsSync(dnsFile)).toBe(true);
    const add = await h.exec(ns, ["ip", "tuntap", "add", "dev", name, "mode", "tun"]);
    expect(add.code).toBe(0);

    const events: NetEvent[] = [];
    const next = new LinkInterface({ name, netns: ns, defaultRoute: true, routeMetric: 700, replaceDefault: false, dns: dnsFile, emit: (e) => events.push(e) });
    h.defer(() => next.close());
    await next.open();
    expect(events.find((e) => e.type === "net.stale-cleanup")).toMatchObject({ name, removed: ["interface", "dns"] });
    expect(fs.existsSync(dnsFile)).toBe(false);
    // The new device is ours (not persistent) and works.
    const show = await ipShow(ns, ["-d", "link", "show", "dev", name]);
    expect(show).toContain("tun type tun");
    expect(show).not.toContain("persist on");
    await next.up({ mtu: 1400, local: "10.88.0.2", peer: "10.88.0.1", dns: ["10.88.0.53"] });
    expect(await ipShow(ns, ["-4", "route", "show", "default"])).toContain(`default dev ${name} scope link metric 700`);
    await next.close();
    expect(await ipShow(ns, ["link", "show", "dev", name])).toBe("");
    expect(fs.existsSync(dnsFile)).toBe(false);
  }, 30_000);

  test("SIGTERM: the process removes its route, DNS fragment and interface before exiting", async () => {
    const name = uniqueName("cks");
    h.trackLink(name);
    const file = path.join(dir, "resolv.conf.term");
    const child = h.spawn(null, [process.execPath, FIXTURE, name, ns, file], { stdout: "pipe", stderr: "pipe" });
    expect(JSON.parse(await firstLine(child.stdout as ReadableStream<Uint8Array>))).toMatchObject({ ready: true });
    expect(await ipShow(ns, ["-4", "route", "show", "default"])).toContain(`dev ${name}`);
    expect(fs.existsSync(file)).toBe(true);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(await ipShow(ns, ["-4", "route", "show", "default"])).toBe("");
    expect(await ipShow(ns, ["link", "show", "dev", name])).toBe("");
    expect(fs.existsSync(file)).toBe(false);
  }, 20_000);

  test("an interface of our name that is not a TUN is never deleted", async () => {
    const name = uniqueName("ckd");
    // A veth pair (the dummy module may not be loaded on CI).
    const made = await h.exec(ns, ["ip", "link", "add", name, "type", "veth", "peer", "name", `${name}p`]);
    expect(made.stderr).toBe("");
    const li = new LinkInterface({ name, netns: ns, defaultRoute: false, routeMetric: 700, replaceDefault: false, dns: "none" });
    const err = await li.open().then(() => null, (e: unknown) => e);
    expect((err as CellkeepError).causeInfo.code).toBe("tun-unavailable");
    expect((err as CellkeepError).causeInfo.detail).toContain("not a TUN device");
    expect(await ipShow(ns, ["link", "show", "dev", name])).toContain(name);
  });

  test.skipIf(Bun.which("setpriv") === null)("unprivileged user: named cause permission-denied, no stack trace", async () => {
    const child = Bun.spawn(
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", process.execPath, FIXTURE, uniqueName("ckp"), "-", "none"],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: "/tmp" } },
    );
    const [out, errText, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(code).toBe(3);
    const line = JSON.parse(out.trim());
    expect(line.cause.code).toBe("permission-denied");
    expect(line.cause.hint).toContain("CAP_NET_ADMIN");
    expect(errText).not.toContain("    at ");
  });
});

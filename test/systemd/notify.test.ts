import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { SdNotifier, SystemdWatchdog, nullNotifier, progressWithin, unixSocketAddress, watchdogIntervalMs } from "../../src/systemd/notify.ts";
import { SystemdStatus, foldStatus, initialStatusView, statusLine } from "../../src/systemd/status.ts";
import { cause } from "../../src/core/cause.ts";
import { DgramListener } from "./dgram-listener.ts";

const dirs: string[] = [];
const listeners: DgramListener[] = [];
afterAll(() => {
  for (const l of listeners) l.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function listen(path: string): DgramListener {
  const l = new DgramListener(path);
  listeners.push(l);
  return l;
}

describe("sockaddr_un encoding", () => {
  test("path: family 1, path bytes, length counts the NUL", () => {
    const a = unixSocketAddress("/run/systemd/notify")!;
    expect([a.addr[0], a.addr[1]]).toEqual([1, 0]);
    expect(new TextDecoder().decode(a.addr.subarray(2, 2 + 19))).toBe("/run/systemd/notify");
    expect(a.addr[21]).toBe(0);
    expect(a.len).toBe(2 + 19 + 1);
  });
  test("abstract: '@' becomes NUL, no terminating NUL counted", () => {
    const a = unixSocketAddress("@ck/notify")!;
    expect(a.addr[2]).toBe(0);
    expect(new TextDecoder().decode(a.addr.subarray(3, 12))).toBe("ck/notify");
    expect(a.len).toBe(2 + 1 + 9);
  });
  test("refused: empty, relative, vsock, too long", () => {
    for (const p of ["", "run/notify", "vsock:2:1234", "/" + "x".repeat(107)]) expect(unixSocketAddress(p)).toBeNull();
    expect(unixSocketAddress("/" + "x".repeat(106))).not.toBeNull();
  });
});

describe("sd_notify over a real unix datagram socket", () => {
  test("READY=1, STATUS= and WATCHDOG=1 arrive at a path socket named by NOTIFY_SOCKET", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-notify-"));
    dirs.push(dir);
    const path = join(dir, "notify.sock");
    const sd = listen(path);
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: path });
    expect(n).not.toBe(nullNotifier);
    expect(n.ready("connected 10.64.0.2")).toBe(true);
    expect(n.status("waiting:\nmodule-reset #2")).toBe(true);
    expect(n.watchdog()).toBe(true);
    expect(n.stopping()).toBe(true);
    expect(sd.receive()).toEqual(["READY=1\nSTATUS=connected 10.64.0.2", "STATUS=waiting: module-reset #2", "WATCHDOG=1", "STOPPING=1"]);
    n.close();
  });

  test("abstract socket ('@' name)", () => {
    const name = `@cellkeep-test-${process.pid}-${Date.now()}`;
    const sd = listen(name);
    const n = new SdNotifier(name);
    expect(n.ready()).toBe(true);
    expect(sd.receive()).toEqual(["READY=1"]);
    n.close();
  });

  test("no listener: false with a named error, no throw; no NOTIFY_SOCKET: the null notifier", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-notify-"));
    dirs.push(dir);
    const n = new SdNotifier(join(dir, "nobody.sock"));
    expect(n.watchdog()).toBe(false);
    expect(n.lastError).toContain("ENOENT");
    n.close();
    expect(SdNotifier.fromEnv({})).toBe(nullNotifier);
    expect(SdNotifier.fromEnv({ NOTIFY_SOCKET: "relative" })).toBe(nullNotifier);
  });

  test("watchdog keep-alives reach the socket at half of WATCHDOG_USEC under fake time, only while alive", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-notify-"));
    dirs.push(dir);
    const path = join(dir, "notify.sock");
    const sd = listen(path);
    const n = new SdNotifier(path);
    const sched = new ManualScheduler(0);
    const interval = watchdogIntervalMs({ WATCHDOG_USEC: "20000000", WATCHDOG_PID: String(process.pid) });
    expect(interval).toBe(10_000);
    let lastProgress = 0;
    const wd = new SystemdWatchdog({ scheduler: sched, notifier: n, intervalMs: interval!, isAlive: progressWithin(() => lastProgress, 30_000) });
    wd.start(); // t=0
    sched.advance(30_000); // t=10 s, 20 s, 30 s: progress at 0 is 30 s old at most
    expect(sd.receive()).toEqual(["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"]);
    sched.advance(20_000); // 40 s, 50 s: the supervisor is wedged → silence, systemd will restart us
    expect(sd.receive()).toEqual([]);
    expect(wd.withheld).toBe(2);
    lastProgress = 55_000;
    sched.advance(10_000);
    expect(sd.receive()).toEqual(["WATCHDOG=1"]);
    wd.stop();
    expect(sched.pendingCount()).toBe(0);
    n.close();
  });
});

describe("watchdog interval from the environment", () => {
  test.each([
    [{}, null],
    [{ WATCHDOG_USEC: "3000000" }, 1500],
    [{ WATCHDOG_USEC: "3000000", WATCHDOG_PID: "1" }, null], // meant for another process
    [{ WATCHDOG_USEC: "0" }, null],
    [{ WATCHDOG_USEC: "abc" }, null],
  ] as const)("%o → %p", (env, want) => {
    expect(watchdogIntervalMs(env as Record<string, string>, 4242)).toBe(want);
  });
});

describe("STATUS= line from events", () => {
  test("folds modem, ppp, probe and recovery events; sends only on change", () => {
    const sent: string[] = [];
    const st = new SystemdStatus({ status: (t) => (sent.push(t), true) });
    st.observe({ type: "modem.state", at: 1, state: "registering", previous: "sim", cause: null });
    st.observe({ type: "modem.state", at: 2, state: "connected", previous: "negotiating", cause: null });
    st.observe({ type: "ppp.up", at: 3, ipv4: { local: "10.64.0.2", remote: "10.64.0.1", dns: [] }, ipv6: null, mru: 1500 });
    st.observe({ type: "health.probe", at: 4, probe: "icmp", target: "8.8.8.8", ok: true, rttMs: 83.6, loss: 0, consecutiveFailures: 0 });
    st.observe({ type: "health.probe", at: 5, probe: "icmp", target: "1.1.1.1", ok: true, rttMs: 83.6, loss: 0, consecutiveFailures: 0 });
    st.observe({ type: "modem.state", at: 6, state: "waiting", previous: "dialing", cause: cause("no-carrier") });
    st.observe({ type: "recovery.state", at: 7, rung: "module-reset", consecutiveFailures: 6, lastResetAt: 0, nextActionAt: 600_000, waitingReason: "module-reset #2 after the vendor's 10m backoff" });
    st.observe({ type: "something.else", at: 8 });
    expect(sent).toEqual([
      "registering",
      "connected",
      "connected 10.64.0.2",
      "connected 10.64.0.2; rtt 84 ms",
      "waiting (last failure: no-carrier)",
      "waiting (last failure: no-carrier); waiting: module-reset #2 after the vendor's 10m backoff",
    ]);
    expect(statusLine(foldStatus(initialStatusView(), { type: "x", at: 0 }))).toBe("starting");
  });
});

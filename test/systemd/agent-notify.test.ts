/**
 * systemd Type=notify against the whole program: `cellkeep simulate` on a pty
 * in one process, `cellkeep run --config FILE` in another with NOTIFY_SOCKET
 * pointing at a unix datagram socket this test listens on and WATCHDOG_USEC
 * set, as systemd would start it. Checks READY=1, STATUS= lines that carry the
 * state (up to "connected <address>"), WATCHDOG=1 keep-alives at about half
 * of WATCHDOG_USEC, and STOPPING=1 plus a clean exit on SIGTERM.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { configToml } from "../support/agent-rig.ts";
import { DgramListener } from "./dgram-listener.ts";

const MAIN = join(import.meta.dir, "../../src/main.ts");
const WATCHDOG_USEC = 1_000_000; // keep-alives every 500 ms

const procs: Subprocess[] = [];
const dirs: string[] = [];
const listeners: DgramListener[] = [];
afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await p.exited;
  }
  for (const l of listeners) l.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Received {
  at: number;
  text: string;
}

/** Poll the socket until `done(messages)` or the timeout; returns everything received. */
async function collect(sd: DgramListener, into: Received[], done: (m: Received[]) => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const text of sd.receive()) into.push({ at: Date.now(), text });
    if (done(into)) return true;
    if (Date.now() > end) return false;
    await Bun.sleep(20);
  }
}

describe("cellkeep run under a systemd-like supervisor", () => {
  test("READY=1, STATUS= with the state, WATCHDOG=1 keep-alives, STOPPING=1 on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cellkeep-agent-notify-"));
    dirs.push(dir);
    const notifyPath = join(dir, "notify.sock");
    const sd = new DgramListener(notifyPath);
    listeners.push(sd);

    const tty = join(dir, "ttySIM");
    const sim = Bun.spawn(["bun", MAIN, "simulate", "--pty", tty, "--time-scale", "0.05", "--username", "svc", "--password", "svc-secret-9"], {
      stdout: "ignore",
      stderr: "pipe",
    });
    procs.push(sim);
    for (let i = 0; i < 100 && !existsSync(tty); i++) await Bun.sleep(50);
    expect(existsSync(tty)).toBe(true);

    const configPath = join(dir, "cellkeep.toml");
    // The fast test defaults (echo and probes every second), PAP against the sim's login, HTTP on a unix socket.
    writeFileSync(
      configPath,
      configToml({
        port: tty,
        stateFile: join(dir, "recovery.json"),
        tables: {
          network: 'apn = "internet.notify"',
          auth: 'method = "pap"\nusername = "svc"\npassword = "svc-secret-9"',
          http: `listen = ${JSON.stringify(join(dir, "http.sock"))}`,
          log: 'level = "info"',
        },
      }),
    );
    const started = Date.now();
    const agent = Bun.spawn(["bun", MAIN, "run", "--config", configPath], {
      env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: String(WATCHDOG_USEC) },
      stdout: "pipe",
      stderr: "pipe",
    });
    procs.push(agent);

    const got: Received[] = [];
    const connected = (m: Received[]) => m.some((r) => /^STATUS=connected 10\.64\.0\.\d+/m.test(r.text));
    const enoughWatchdogs = (m: Received[]) => m.filter((r) => r.text === "WATCHDOG=1").length >= 4;
    const ok = await collect(sd, got, (m) => connected(m) && enoughWatchdogs(m), 20_000);
    if (!ok) {
      agent.kill("SIGKILL");
      console.error(`received: ${JSON.stringify(got.map((r) => r.text))}\nagent stderr:\n${await new Response(agent.stderr).text()}`);
    }
    expect(ok).toBe(true);

    if (process.env.NOTIFY_TRACE) console.log(got.map((r) => `${r.at - started} ${JSON.stringify(r.text)}`).join("\n"));
    // READY=1 once running, with the state as its STATUS=
    const ready = got.find((r) => r.text.split("\n").includes("READY=1"));
    expect(ready).toBeDefined();
    expect(ready!.text).toMatch(/STATUS=\S+/);
    // STATUS= lines follow the bring-up: at least one state before connected, then connected with the address.
    const statuses = got.flatMap((r) => r.text.split("\n").filter((l) => l.startsWith("STATUS=")));
    const firstConnected = statuses.findIndex((s) => s.startsWith("STATUS=connected 10.64.0."));
    expect(firstConnected).toBeGreaterThan(0);
    expect(statuses.slice(0, firstConnected).some((s) => /^STATUS=(starting|syncing|sim|registering|attaching|dialing|negotiating)\b/.test(s))).toBe(true);
    // Keep-alives at about half of WATCHDOG_USEC (500 ms), checked loosely.
    const wd = got.filter((r) => r.text === "WATCHDOG=1").map((r) => r.at);
    // The median gap is robust to one late turn of the event loop on a busy machine.
    const gaps = wd.slice(1).map((t, i) => t - wd[i]!).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    expect(median).toBeGreaterThan(WATCHDOG_USEC / 1000 / 4);
    expect(median).toBeLessThan(WATCHDOG_USEC / 1000); // well inside the systemd timeout
    // The password never reaches systemd's status line (journal, systemctl status).
    for (const r of got) expect(r.text).not.toContain("svc-secret-9");

    agent.kill("SIGTERM");
    const code = await agent.exited;
    for (const text of sd.receive()) got.push({ at: Date.now(), text });
    expect(code).toBe(0);
    expect(got.some((r) => r.text.split("\n").includes("STOPPING=1"))).toBe(true);

    sim.kill("SIGTERM");
    await sim.exited;
    expect(existsSync(tty)).toBe(false);
  }, 40_000);
});

/**
 * The virtual modem on a real pseudo-terminal: opened through the serial
 * layer like /dev/ttyUSB2, real time with the modem's delays scaled down.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RealScheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { buildEchoRequest, parseEcho } from "../../src/net/icmp.ts";
import { PppLink, type PppLinkEvent } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";
import { openSerialPipe } from "../../src/serial/port.ts";
import { type SimulatorHandle, startSimulatorOnPty } from "../../src/sim/simulate.ts";

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cellkeep-sim-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const linkPath = () => path.join(dir, `ttySIM${n++}`);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(5);
  return cond();
}

function start(scenarios: string[]): SimulatorHandle {
  const sim = startSimulatorOnPty({ link: linkPath(), scenarios, timeScale: 0.01, booted: true });
  cleanups.push(() => sim.stop());
  return sim;
}

async function open(p: string): Promise<{ pipe: BytePipe; text: () => string; clear: () => void; closed: { code: string | null } }> {
  const pipe = await openSerialPipe(p, { lock: false });
  cleanups.push(() => pipe.close());
  let buf = "";
  const closed: { code: string | null } = { code: null };
  pipe.onData((d) => (buf += Buffer.from(d).toString("latin1")));
  pipe.onClose((r) => (closed.code = r?.code ?? "closed"));
  return { pipe, text: () => buf, clear: () => (buf = ""), closed };
}

async function command(port: Awaited<ReturnType<typeof open>>, cmd: string, expectText = "OK\r\n"): Promise<string> {
  port.clear();
  port.pipe.write(new TextEncoder().encode(`${cmd}\r`));
  const ok = await until(() => port.text().includes(expectText), 2000);
  if (!ok) throw new Error(`no "${expectText.trim()}" for ${cmd}; got ${JSON.stringify(port.text())}`);
  return port.text();
}

describe("virtual modem on a pty", () => {
  test("AT over the serial layer; registration; dial; PPP up; ping through the tiny network", async () => {
    const sim = start(["healthy"]);
    expect(fs.lstatSync(sim.path).isSymbolicLink()).toBe(true);
    const port = await open(sim.path);
    expect(await command(port, "ATE0")).toContain("OK");
    expect(await command(port, "ATI")).toContain("Quectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n");
    await until(() => sim.modem.core.isAttached, 2000);
    expect(await command(port, "AT+CGATT?")).toContain("+CGATT: 1");
    expect(await command(port, "ATD*99#", "CONNECT 150000000\r\n")).toContain("CONNECT 150000000");

    const scheduler = new RealScheduler();
    const session = new PppSession({ role: "client", auth: { method: "pap", username: "u", password: "p" }, echo: { intervalMs: 0, failures: 0 } });
    const link = new PppLink({ pipe: port.pipe, session, scheduler });
    cleanups.push(() => link.stop());
    const events: PppLinkEvent[] = [];
    const ip: Uint8Array[] = [];
    link.onEvent((e) => events.push(e));
    link.onIp((_v, p) => ip.push(p));
    link.start();
    expect(await until(() => events.some((e) => e.type === "ppp.ipcp.up"), 3000)).toBe(true);
    const up = events.find((e) => e.type === "ppp.ipcp.up") as { local: string };
    expect(up.local).toBe("10.64.0.2");
    link.sendIp(4, buildEchoRequest({ source: Uint8Array.of(10, 64, 0, 2), destination: Uint8Array.of(1, 1, 1, 1), identifier: 9, sequence: 1, payload: new Uint8Array(32) }));
    expect(await until(() => ip.length > 0, 2000)).toBe(true);
    expect(parseEcho(ip[0]!)?.sequence).toBe(1);
  });

  test("port-vanish: AT+CFUN=1,1 removes the path; it comes back at the same path after boot", async () => {
    const sim = start(["port-vanish"]);
    const first = fs.readlinkSync(sim.path);
    const port = await open(sim.path);
    await command(port, "ATE0");
    const vanished: string[] = [];
    const back: string[] = [];
    sim.modem.events.on((e) => {
      if (e.type === "sim.port") (e.present ? back : vanished).push(fs.existsSync(sim.path) ? fs.readlinkSync(sim.path) : "gone");
    });
    port.pipe.write(new TextEncoder().encode("AT+CFUN=1,1\r"));
    expect(await until(() => port.closed.code !== null, 3000)).toBe(true);
    expect(port.closed.code).toBe("port-vanished");
    expect(port.text()).toContain("OK");
    expect(vanished).toHaveLength(1);
    expect(await until(() => back.length > 0 && fs.existsSync(sim.path), 3000)).toBe(true);
    const again = await open(sim.path);
    // Boot URCs went out before the agent reopened: it just talks to the modem again.
    expect(await command(again, "AT")).toContain("OK");
    expect(fs.readlinkSync(sim.path)).not.toBe(first);
  });

  test("hang over a pty: silence until powerCycle()", async () => {
    const sim = start(["hang:1"]);
    const port = await open(sim.path);
    await command(port, "ATE0");
    port.clear();
    port.pipe.write(new TextEncoder().encode("AT\r"));
    await Bun.sleep(100);
    expect(port.text()).toBe("");
    sim.powerCycle();
    expect(await until(() => port.text().includes("RDY"), 2000)).toBe(true);
    expect(await command(port, "AT")).toContain("OK");
  });

  test("stop() closes the pty and removes the link", async () => {
    const sim = startSimulatorOnPty({ link: linkPath(), timeScale: 0.01 });
    const p = sim.path;
    expect(fs.existsSync(p)).toBe(true);
    await sim.stop();
    expect(fs.existsSync(p)).toBe(false);
    let gone = false;
    try {
      fs.lstatSync(p);
    } catch {
      gone = true;
    }
    expect(gone).toBe(true);
  });
});

describe("cellkeep simulate (runSimulate in a child process)", () => {
  test("prints the path first, answers AT, power-cycles on SIGUSR1, exits 0 on SIGTERM and removes the link", async () => {
    const p = linkPath();
    const script = `import { runSimulate } from ${JSON.stringify(path.resolve(import.meta.dir, "../../src/sim/simulate.ts"))};
process.exit(await runSimulate(["--pty", ${JSON.stringify(p)}, "--scenario", "healthy", "--time-scale", "0.01"]));`;
    const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(out.split("\n")[0]).toBe(p);
    await until(() => fs.existsSync(p), 2000);
    const port = await open(p);
    await until(() => port.text().includes("RDY"), 2000);
    expect(await command(port, "AT")).toContain("OK");
    port.clear();
    child.kill("SIGUSR1");
    expect(await until(() => port.text().includes("RDY"), 2000)).toBe(true);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    expect(fs.existsSync(p)).toBe(false);
    const err = await new Response(child.stderr).text();
    expect(err).toContain("sim.power");
  });

  test("bad arguments exit 2 with usage", async () => {
    const script = `import { runSimulate } from ${JSON.stringify(path.resolve(import.meta.dir, "../../src/sim/simulate.ts"))};
process.exit(await runSimulate(["--pty", "/tmp/x", "--scenario", "no-such-thing"]));`;
    const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toContain('unknown simulator scenario "no-such-thing"');
  });
});

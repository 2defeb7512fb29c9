/**
 * The agent builds one status model and every view reads it: the STATUS=
 * line it sends systemd and `agent.status()` (the /status document) name the
 * same state at every state change, also without the HTTP server (which used
 * to own the only /status reducer, so status() had nothing to read then).
 *
 * Virtual time as in reload.test.ts: the agent and the in-process virtual
 * modem share one ManualScheduler.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createLogger, MemorySink } from "../../src/core/log.ts";
import type { EventBase } from "../../src/core/events.ts";
import type { ModemStateEvent } from "../../src/core/agent-events.ts";
import { startAgent } from "../../src/agent.ts";
import { nullNotifier, type Notifier } from "../../src/systemd/notify.ts";
import { createInProcessModem } from "../../src/sim/in-process.ts";
import { runUntil } from "../modem/harness.ts";
import { removeDir, rigConfig, tempDir } from "./rig.ts";

const dir = tempDir("cellkeep-status-model-");
afterAll(() => removeDir(dir));

const AUTH = { username: "u", password: "status-model-pw" };
const T0 = Date.UTC(2030, 0, 1, 0, 0, 0);
const S = 1_000;

async function run(scenarios: string[], until: (e: ModemStateEvent) => boolean) {
  const sched = new ManualScheduler(T0);
  const modem = createInProcessModem({ scheduler: sched, scenarios, timeScale: 1, behaviour: { auth: AUTH } });
  const lines: string[] = [];
  const notifier: Notifier = { ...nullNotifier, status: (t) => (lines.push(t), true), ready: (t) => (t !== undefined && lines.push(t), true) };
  const agent = await startAgent(
    rigConfig({ dir, tables: { network: 'apn = "internet"', auth: `method = "pap"\nusername = "${AUTH.username}"\npassword = "${AUTH.password}"` } }),
    { log: createLogger({ level: "info", format: "text", sink: new MemorySink(), clock: () => sched.now() }), scheduler: sched, noHttp: true, openPort: async () => modem.reopen(), notifier },
  );
  // Subscribed after the agent's own listeners: the model has folded each event in when this runs.
  const pairs: { event: string; systemd: string | undefined; status: string }[] = [];
  let done: { line: string | undefined; snapshot: ReturnType<typeof agent.status> } | null = null;
  agent.events.on((e: EventBase) => {
    if (e.type !== "modem.state") return;
    const s = e as ModemStateEvent;
    pairs.push({ event: s.state, systemd: lines.at(-1)?.split(/[ ;]/)[0], status: agent.status().state });
    if (until(s)) done ??= { line: lines.at(-1), snapshot: agent.status() };
  });
  try {
    expect(await runUntil(sched, () => done !== null, 120 * S)).toBe(true);
    return { pairs, line: done!.line, snapshot: done!.snapshot };
  } finally {
    const stopping = agent.stop("test done");
    await runUntil(sched, () => false, 10 * S);
    await stopping;
    await modem.stop();
  }
}

describe("agent: one status model for STATUS= and status()", () => {
  test("a bring-up: both name the same state at every change, ending connected with the address", async () => {
    const { pairs, line, snapshot } = await run(["healthy"], (e) => e.state === "connected");
    expect(pairs.length).toBeGreaterThan(4);
    for (const p of pairs) expect(p).toEqual({ event: p.event, systemd: p.event, status: p.event });
    expect(snapshot.state).toBe("connected");
    expect(snapshot.ppp.ipv4).not.toBeNull();
    expect(line).toStartWith(`connected ${snapshot.ppp.ipv4!.local}`);
  }, 30_000);

  test("a network back-off: both show waiting with the same cause", async () => {
    const { pairs, line, snapshot } = await run(["network-backoff:600"], (e) => e.state === "waiting" && e.cause?.code === "network-backoff");
    for (const p of pairs) expect(p).toEqual({ event: p.event, systemd: p.event, status: p.event });
    expect(snapshot.state).toBe("waiting");
    expect(snapshot.cause?.code).toBe("network-backoff");
    expect(line).toStartWith("waiting (last failure: network-backoff)");
  }, 30_000);
});

/**
 * Bring-up time: `bun test/bench/bringup.ts [runs]`.
 * Start of the supervisor → CONNECT, and → PPP up, against the virtual modem
 * on real time: (1) in-process with every modem delay set to zero, (2) over a
 * real pty with zero delays, (3) in-process with the modem's default delays
 * (registration 2 s, attach 0.5 s), printing the overhead above those delays.
 * Prints figures, asserts nothing.
 */
import { RealScheduler } from "../../src/core/clock.ts";
import { AlwaysRedial } from "../../src/core/recovery-policy.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { loadConfigText } from "../../src/config/load.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { pppBearerFactory } from "../../src/bearer/ppp.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { createInProcessModem } from "../../src/sim/in-process.ts";
import { VirtualModem } from "../../src/sim/virtual-modem.ts";
import type { BehaviourOverrides } from "../../src/sim/scenario.ts";
import { openPtyPair, ptyMasterPipe } from "../../src/serial/pty.ts";
import { openSerialPipe } from "../../src/serial/port.ts";

const runs = Number(process.argv[2] ?? 5);
const loaded = loadConfigText('[network]\napn = "internet"\n[auth]\nmethod = "auto"\nusername = "user"\npassword = "pass"\n');
if (!loaded.ok) throw new Error("bench config invalid");
const config = loaded.config;

const ZERO: BehaviourOverrides = { bootMs: 0, registrationMs: 0, attachMs: 0 };

interface Sample {
  connectMs: number;
  pppUpMs: number;
  stopMs: number;
  commands: number;
}

async function once(kind: "memory" | "pty", overrides: BehaviourOverrides): Promise<Sample> {
  const sched = new RealScheduler();
  let openPort: () => Promise<BytePipe>;
  let stopModem: () => Promise<void>;
  let commands = () => 0;
  if (kind === "memory") {
    const im = createInProcessModem({ scheduler: sched, scenarios: ["healthy"], booted: true, behaviour: overrides });
    openPort = async () => im.reopen();
    stopModem = () => im.stop();
    commands = () => im.modem.core.counters.commands;
  } else {
    const pair = openPtyPair();
    const modem = new VirtualModem({ scheduler: sched, scenarios: ["healthy"], booted: true, behaviour: overrides });
    modem.attach(ptyMasterPipe(pair));
    openPort = () => openSerialPipe(pair.path, { lock: false });
    stopModem = async () => {
      modem.stop();
      pair.close();
    };
    commands = () => modem.core.counters.commands;
  }
  let connectAt = 0;
  let upAt = 0;
  let resolveUp: () => void = () => {};
  const up = new Promise<void>((r) => (resolveUp = r));
  const sup = new ModemSupervisor({
    config,
    scheduler: sched,
    openPort,
    policy: new AlwaysRedial(1000),
    emit: (e: ModemEvent) => {
      if (e.type === "modem.dial" && e.result === "connect") connectAt = performance.now();
      if (e.type === "ppp.up") {
        upAt = performance.now();
        resolveUp();
      }
    },
    createBearer: pppBearerFactory({ config, scheduler: sched }),
  });
  const t0 = performance.now();
  sup.start();
  await Promise.race([up, Bun.sleep(30_000)]);
  const n = commands();
  const s0 = performance.now();
  await sup.stop();
  const sample = { connectMs: connectAt - t0, pppUpMs: upAt - t0, stopMs: performance.now() - s0, commands: n };
  await stopModem();
  return sample;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const med = s[Math.floor(s.length / 2)]!;
  return `median ${med.toFixed(1)} ms (min ${s[0]!.toFixed(1)}, max ${s[s.length - 1]!.toFixed(1)})`;
}

async function series(label: string, kind: "memory" | "pty", overrides: BehaviourOverrides, n: number, modemDelayMs: number) {
  await once(kind, overrides); // warm-up (JIT, first pty)
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) samples.push(await once(kind, overrides));
  console.log(`${label} (${n} runs, ${samples[0]!.commands} AT commands per bring-up)`);
  console.log(`  start → CONNECT : ${stats(samples.map((s) => s.connectMs))}`);
  console.log(`  start → PPP up  : ${stats(samples.map((s) => s.pppUpMs))}`);
  console.log(`  stop() (LCP Terminate; 1 s for NO CARRIER; DTR drop (in-process) or +++/ATH (pty); AT): ${stats(samples.map((s) => s.stopMs))}`);
  if (modemDelayMs > 0) {
    console.log(`  modem's own delays: ${modemDelayMs} ms → overhead to CONNECT ${stats(samples.map((s) => s.connectMs - modemDelayMs))}`);
  }
}

await series("in-process, zero modem delays", "memory", ZERO, runs, 0);
await series("real pty, zero modem delays", "pty", ZERO, runs, 0);
// Default healthy delays: registration 2000 ms after radio on, attach 500 ms after registration.
await series("in-process, default modem delays (registration 2 s + attach 0.5 s)", "memory", {}, Math.min(runs, 2), 2500);
process.exit(0);

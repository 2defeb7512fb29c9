/** Test harness: an in-process virtual modem on a ManualScheduler, driven like a terminal. */
import { ManualScheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { type InProcessModem, createInProcessModem } from "../../src/sim/in-process.ts";
import type { VirtualModemOptions } from "../../src/sim/virtual-modem.ts";
import { type PppLinkEvent, PppLink } from "../../src/ppp/link.ts";
import { PppSession, type PppSessionOptions } from "../../src/ppp/session.ts";

/** Let every queued pipe delivery (and the deliveries they cause) run: microtasks drain before setImmediate. */
export const flushMicrotasks = async (n = 2) => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

export class Terminal {
  readonly clock: ManualScheduler;
  readonly sim: InProcessModem;
  readonly events: SimEvent[] = [];
  rx: number[] = [];
  private pipe!: BytePipe;

  constructor(opts: Omit<VirtualModemOptions, "scheduler"> & { start?: number } = {}) {
    this.clock = new ManualScheduler(opts.start ?? 1_700_000_000_000);
    this.sim = createInProcessModem({ ...opts, scheduler: this.clock });
    this.sim.modem.events.on((e) => this.events.push(e));
    this.bind(this.sim.agentPipe);
  }

  bind(pipe: BytePipe): void {
    this.pipe = pipe;
    pipe.onData((d) => this.rx.push(...d));
  }

  get line(): BytePipe {
    return this.pipe;
  }

  /** Everything received so far as text (binary kept as latin1). */
  text(): string {
    return String.fromCharCode(...this.rx);
  }

  take(): string {
    const t = this.text();
    this.rx = [];
    return t;
  }

  async write(s: string | Uint8Array): Promise<void> {
    this.pipe.write(typeof s === "string" ? new TextEncoder().encode(s) : s);
    await flushMicrotasks();
  }

  /** Send a command line and return everything the modem said in reply (time does not move). */
  async at(cmd: string): Promise<string> {
    this.take();
    await this.write(`${cmd}\r`);
    return this.take();
  }

  async advance(ms: number): Promise<void> {
    // Step so microtask deliveries interleave with timers like a real loop.
    const end = this.clock.now() + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.clock.nextDeadline();
      if (next === null || next > end) break;
      this.clock.advanceTo(next);
      await flushMicrotasks();
    }
    this.clock.advanceTo(end);
    await flushMicrotasks();
  }

  /** Advance until boot is done (RDY). */
  async boot(): Promise<string> {
    await this.advance(this.sim.modem.behaviour.bootMs + 1);
    return this.take();
  }

  async stop(): Promise<void> {
    await this.sim.stop();
  }
}

/** Lines of a response without the empty ones. */
export function lines(s: string): string[] {
  return s.split(/\r\n|\r|\n/).filter((l) => l !== "");
}

/** Fixed random bytes for the network's PPP side (reproducible magic numbers). */
export const serverRandom = (n: number) => new Uint8Array(n).map((_, i) => (i * 37 + 11) & 0xff);
/** The client needs other random bytes than the server, or LCP sees its own magic number (loopback). */
export const clientRandom = (n: number) => new Uint8Array(n).map((_, i) => (i * 53 + 7) & 0xff);

/** Our PPP client (the agent's side) on a terminal's line, with what it reported. */
export interface PppClient {
  link: PppLink;
  events: PppLinkEvent[];
  ip: Uint8Array[];
}

/**
 * One virtual modem and one PPP client at a time, as the PPP-level sim tests
 * use them; `cleanup` (afterEach) stops both.
 */
export class SimPppRig {
  term: Terminal | null = null;
  link: PppLink | null = null;

  /** A registered, attached modem in command mode with echo off, `settle` ms after power-on (booted at once). */
  async ready(opts: ConstructorParameters<typeof Terminal>[0] = {}, settle = 3000): Promise<Terminal> {
    const t = (this.term = new Terminal({ booted: true, random: serverRandom, ...opts }));
    await t.at("ATE0");
    await t.advance(settle);
    t.take();
    return t;
  }

  startClient(t: Terminal, auth: PppSessionOptions["auth"], extra: Partial<PppSessionOptions> = {}): PppClient {
    const session = new PppSession({ role: "client", auth, echo: { intervalMs: 0, failures: 0 }, random: clientRandom, ...extra });
    const link = (this.link = new PppLink({ pipe: t.line, session, scheduler: t.clock }));
    const c: PppClient = { link, events: [], ip: [] };
    link.onEvent((e) => c.events.push(e));
    link.onIp((_v, p) => c.ip.push(p));
    link.start();
    return c;
  }

  async cleanup(): Promise<void> {
    this.link?.stop();
    this.link = null;
    await this.term?.stop();
    this.term = null;
  }
}

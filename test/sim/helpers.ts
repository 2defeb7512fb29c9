/** Test harness: an in-process virtual modem on a ManualScheduler, driven like a terminal. */
import { ManualScheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { type InProcessModem, createInProcessModem } from "../../src/sim/in-process.ts";
import type { VirtualModemOptions } from "../../src/sim/virtual-modem.ts";

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

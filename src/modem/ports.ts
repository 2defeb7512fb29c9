/**
 * The modem's two serial ports. The data port carries AT during bring-up and
 * the data bearer once CONNECT is seen; it may vanish (USB re-enumeration after a module
 * reset) and is reopened until it is back. The control port, when the modem
 * has one (Quectel: USB interface 3), answers AT while the bearer owns the data port.
 */
import { AtChannel, type AtUrc } from "../at/channel.ts";
import { cause, type Cause } from "../core/cause.ts";
import type { Scheduler } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import type { BytePipe } from "../core/pipe.ts";
import { causeOf, StepFailure } from "./failures.ts";
import type { Interrupts } from "./interrupts.ts";
import type { ModemProfile } from "./profiles.ts";

export interface ModemPortsDeps {
  /** Throws a CellkeepError while the port is away (retried), a StepFailure when retrying cannot help. */
  openPort: () => Promise<BytePipe>;
  openControlPort?: () => Promise<BytePipe | null>;
  scheduler: Scheduler;
  log: Logger;
  interrupts: Interrupts;
  profile(): ModemProfile;
  onUrc(u: AtUrc): void;
  /** How long a vanished port may stay away, and how often to retry meanwhile. */
  returnTimeoutMs: number;
  retryMs: number;
}

export class ModemPorts {
  private data: AtChannel | null = null;
  private control: AtChannel | null = null;
  private controlTried = false;
  private controlOpening: Promise<void> | null = null;

  constructor(private readonly d: ModemPortsDeps) {}

  /** The data port's AT channel (null until opened, and after it vanished or was dropped). */
  get channel(): AtChannel | null {
    return this.data;
  }

  /** The control port's channel while it is open. */
  get controlChannel(): AtChannel | null {
    const c = this.control;
    return c && !c.isDetached && c.pipe.isOpen ? c : null;
  }

  /** True when a control port was opened (even if it has closed since it was last checked). */
  get hasControl(): boolean {
    return this.control !== null;
  }

  /** Opens the data port unless it is open; retries until it is back or the return limit passes. */
  async ensureData(): Promise<void> {
    if (this.data && this.data.pipe.isOpen && !this.data.isDetached) return;
    this.dropData();
    const started = this.d.scheduler.now();
    let last: Cause = cause("port-vanished");
    for (;;) {
      if (this.d.interrupts.stopping()) throw new StepFailure("stopped");
      try {
        const ch = this.attach(await this.d.openPort(), "at");
        // A vanished port wakes whoever waits (the hold, a reset waiting for RDY).
        ch.pipe.onClose(() => this.d.interrupts.wake());
        this.data = ch;
        return;
      } catch (err) {
        // The opener reached the modem and got a final answer (e.g. it refused AT+CMUX):
        // waiting for the port to come back cannot change that, so the step ends with it now.
        if (err instanceof StepFailure) throw err;
        last = causeOf(err, this.d.log);
        this.d.log.debug("port open failed", { cause: last.code });
      }
      if (this.d.scheduler.now() - started >= this.d.returnTimeoutMs) {
        throw new StepFailure(last.code === "port-not-found" ? "port-vanished" : last.code, last.detail);
      }
      await this.d.interrupts.sleep(this.d.retryMs);
    }
  }

  /** Forgets the data port (closing it if still open), e.g. before a power cycle or after it vanished. */
  dropData(): void {
    const ch = this.data;
    this.data = null;
    if (!ch) return;
    ch.detach();
    if (ch.pipe.isOpen) void ch.pipe.close();
  }

  /** Opens the control port once; concurrent callers share the attempt. */
  openControl(): Promise<void> {
    if (!this.controlOpening) this.controlOpening = this.openControlOnce().finally(() => (this.controlOpening = null));
    return this.controlOpening;
  }

  /** Closes both ports (shutdown). */
  async closeAll(): Promise<void> {
    this.dropData();
    const ctl = this.control;
    this.control = null;
    this.controlTried = false;
    if (ctl) {
      ctl.detach();
      if (ctl.pipe.isOpen) await ctl.pipe.close();
    }
  }

  private async openControlOnce(): Promise<void> {
    if (this.controlTried || !this.d.openControlPort) return;
    this.controlTried = true;
    try {
      const pipe = await this.d.openControlPort();
      if (!pipe) return;
      const ch = this.attach(pipe, "at-control");
      pipe.onClose(() => {
        if (this.control === ch) {
          this.control = null;
          this.controlTried = false;
        }
      });
      // Echo off on the control port too, so answers parse the same.
      await ch.command("ATE0", this.d.profile().limits.basic);
      this.control = ch;
    } catch (err) {
      this.d.log.debug("control port unavailable", { error: String(err) });
    }
  }

  /** An AT channel on a port; URCs from either port go to the supervisor. */
  private attach(pipe: BytePipe, logName: string): AtChannel {
    const ch = new AtChannel(pipe, this.d.scheduler, { log: this.d.log.child(logName), defaultTimeoutMs: this.d.profile().limits.basic });
    ch.onUrc((u) => this.d.onUrc(u));
    return ch;
  }
}

/**
 * The virtual modem in the same process: a VirtualModem on one end of an
 * in-memory pipe pair, the agent (or a test) on the other. Unlike a pty, this
 * line has a DTR wire: `agentPipe.setLines({ dtr: false })` reaches the modem
 * (AT&D1 / AT&D2 behaviour).
 *
 * port-vanish: when the modem reboots, the agent's pipe closes with cause
 * "port-vanished"; once the modem has booted, `reopen()` hands out a new pipe
 * (like opening /dev/ttyUSB2 again after USB re-enumeration). `onPortBack`
 * tells when that is possible.
 */
import { CellkeepError, type Cause } from "../core/cause.ts";
import { type BytePipe, PipeBase, createPipePair } from "../core/pipe.ts";
import { VirtualModem, type VirtualModemOptions } from "./virtual-modem.ts";

/** The agent's end: forwards to the in-memory pipe and carries DTR to the modem. */
class AgentPipe extends PipeBase {
  constructor(
    private readonly inner: BytePipe,
    private readonly modem: VirtualModem,
  ) {
    super();
    inner.onData((d) => this.deliver(d));
    inner.onClose((reason) => this.finish(reason));
  }
  write(data: Uint8Array): void {
    if (!this.closed) this.inner.write(data);
  }
  async close(): Promise<void> {
    this.finish(null);
    await this.inner.close();
  }
  async setLines(lines: { dtr?: boolean; rts?: boolean }): Promise<void> {
    if (lines.dtr !== undefined && !this.closed) this.modem.setDtr(lines.dtr);
  }
  /** The port vanished under the agent. */
  vanish(reason: Cause): void {
    this.finish(reason);
    void this.inner.close();
  }
}

export interface InProcessModem {
  modem: VirtualModem;
  /** The agent's end of the line. After a port-vanish it is closed; use reopen(). */
  agentPipe: BytePipe;
  /** Open the port again (after port-vanish); throws port-not-found while it is gone. */
  reopen(): BytePipe;
  /** Is the port there (false between a port-vanish reboot and the end of boot)? */
  readonly portPresent: boolean;
  /** Called each time the port comes back after vanishing. */
  onPortBack(fn: () => void): () => void;
  /** Stop the modem and close both ends. */
  stop(): Promise<void>;
}

export function createInProcessModem(opts: VirtualModemOptions): InProcessModem {
  const modem = new VirtualModem(opts);
  let present = true;
  let current: AgentPipe;
  let modemEnd: BytePipe;
  const backListeners = new Set<() => void>();

  const connect = (): AgentPipe => {
    const [a, m] = createPipePair();
    modemEnd = m;
    modem.attach(m);
    current = new AgentPipe(a, modem);
    return current;
  };
  connect();

  modem.events.on((e) => {
    if (e.type !== "sim.port") return;
    if (!e.present && present) {
      present = false;
      modem.detach();
      // Let what the modem said last (the OK to AT+CFUN=1,1) reach the agent
      // first: memory-pipe deliveries are microtasks, queued before this one.
      const gone = current;
      const end = modemEnd;
      queueMicrotask(() => {
        gone.vanish({ code: "port-vanished", hint: "the virtual modem rebooted and its port re-enumerates", detail: "port-vanish scenario" });
        void end.close();
      });
    } else if (e.present && !present) {
      present = true;
      for (const fn of backListeners) fn();
    }
  });

  const result: InProcessModem = {
    modem,
    get agentPipe() {
      return current;
    },
    reopen() {
      if (!present) throw new CellkeepError("port-not-found", "the virtual modem's port is gone until it has booted");
      if (current.isOpen) return current;
      return connect();
    },
    get portPresent() {
      return present;
    },
    onPortBack(fn) {
      backListeners.add(fn);
      return () => backListeners.delete(fn);
    },
    async stop() {
      modem.stop();
      await current.close();
      await modemEnd.close();
    },
  };
  return result;
}

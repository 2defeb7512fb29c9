/**
 * PortKeeper: keeps a serial port open across USB re-enumeration.
 *
 * After a module reset the modem's tty vanishes (the pipe closes with
 * `port-vanished`) and comes back seconds later, possibly as another ttyUSBn.
 * The keeper then polls slowly through the injected Scheduler (default every
 * 1.5 s, only while the port is missing, so an open port costs nothing),
 * re-running discovery when the configured port is "auto", and reopens it.
 *
 * States and transitions (explicit, see `transition`):
 *   idle ──start──▶ opening ──ok──▶ open ──pipe closed (vanished)──▶ waiting
 *                     │  ▲                                             │
 *                     │  └──────────────── poll timer ─────────────────┘
 *                     └──fail──▶ waiting
 *   any ──stop──▶ stopped
 * A pipe closed by its user (reason null) ends in `idle`: nobody wants it.
 */
import { cause, CellkeepError, type Cause } from "../core/cause.ts";
import type { CancelTimer, Scheduler } from "../core/clock.ts";
import type { BytePipe } from "../core/pipe.ts";
import { BunSerialBinding } from "./binding.ts";
import { portResolver, type DiscoveryOptions } from "./discovery.ts";
import type { SerialEvent } from "./events.ts";
import { openSerialPipe, type SerialPipeOptions } from "./port.ts";

export type PortKeeperState = "idle" | "opening" | "open" | "waiting" | "stopped";

export interface PortKeeperOptions {
  scheduler: Scheduler;
  /** A device path, or "auto" for discovery. */
  port: string;
  discovery?: DiscoveryOptions & { role?: "data" | "control" };
  /** Override how the path to open is found (default: portResolver(port, discovery)). */
  resolve?: () => string | null;
  /** Override how a path is opened (default: openSerialPipe with pipeOptions). */
  open?: (path: string) => Promise<BytePipe>;
  pipeOptions?: SerialPipeOptions;
  /** Poll period while the port is missing; default 1500 ms. */
  pollMs?: number;
  onEvent?: (event: SerialEvent) => void;
}

export class PortKeeper {
  private stateValue: PortKeeperState = "idle";
  private current: BytePipe | null = null;
  private currentPath: string | null = null;
  private cancelTimer: CancelTimer | null = null;
  private readonly pipeListeners = new Set<(pipe: BytePipe, path: string) => void>();
  private readonly resolvePath: () => string | null;
  private readonly openPath: (path: string) => Promise<BytePipe>;
  private readonly pollMs: number;
  /** Set when the port vanished; cleared by the next successful open. */
  private down: { since: number; path: string; attempts: number } | null = null;
  private everOpened = false;
  private lastFailure: string | null = null;

  constructor(private readonly opts: PortKeeperOptions) {
    this.pollMs = opts.pollMs ?? 1500;
    this.resolvePath = opts.resolve ?? portResolver(opts.port, opts.discovery ?? {});
    if (opts.open) {
      this.openPath = opts.open;
    } else {
      const binding = new BunSerialBinding({
        ...opts.pipeOptions?.bindingOptions,
        onStaleLock: ({ lockPath, pid }) => this.emit({ type: "serial.stale-lock", at: this.now(), lockPath, pid }),
      });
      this.openPath = (path) => openSerialPipe(path, { ...opts.pipeOptions, binding });
    }
  }

  get state(): PortKeeperState {
    return this.stateValue;
  }
  /** The open pipe, or null while the port is missing. */
  get pipe(): BytePipe | null {
    return this.current;
  }
  get path(): string | null {
    return this.currentPath;
  }

  /** Called with every newly opened pipe (first open and each reopen). */
  onPipe(fn: (pipe: BytePipe, path: string) => void): () => void {
    this.pipeListeners.add(fn);
    return () => this.pipeListeners.delete(fn);
  }

  start(): void {
    if (this.stateValue !== "idle") return;
    this.attempt();
  }

  async stop(): Promise<void> {
    if (this.stateValue === "stopped") return;
    const pipe = this.current;
    this.transition("stopped");
    this.current = null;
    if (pipe) await pipe.close();
    this.emit({ type: "serial.closed", at: this.now(), path: this.currentPath });
  }

  private now(): number {
    return this.opts.scheduler.now();
  }

  private emit(event: SerialEvent): void {
    this.opts.onEvent?.(event);
  }

  private transition(to: PortKeeperState): void {
    const from = this.stateValue;
    if (from === "stopped") return;
    // Leaving a state: drop its timer.
    if (from === "waiting") {
      this.cancelTimer?.();
      this.cancelTimer = null;
    }
    this.stateValue = to;
    // Entering a state.
    switch (to) {
      case "waiting":
        this.cancelTimer = this.opts.scheduler.setTimer(this.now() + this.pollMs, () => {
          this.cancelTimer = null;
          if (this.stateValue === "waiting") this.attempt();
        });
        break;
      case "stopped":
        this.cancelTimer?.();
        this.cancelTimer = null;
        break;
      case "idle":
      case "opening":
      case "open":
        break;
    }
  }

  private attempt(): void {
    this.transition("opening");
    if (this.down) this.down.attempts++;
    let path: string | null;
    try {
      path = this.resolvePath();
    } catch (err) {
      this.failed(null, cause("port-not-found", (err as Error).message));
      return;
    }
    if (path === null) {
      this.failed(null, cause("port-not-found", this.opts.port === "auto" ? "discovery found no modem port" : `${this.opts.port} does not exist`));
      return;
    }
    const target = path;
    this.openPath(target).then(
      (pipe) => this.opened(pipe, target),
      (err: unknown) => {
        if (this.stateValue !== "opening") return;
        const c = err instanceof CellkeepError ? err.causeInfo : cause("port-open-failed", `${target}: ${(err as Error).message}`);
        this.failed(target, c);
      },
    );
  }

  private failed(path: string | null, c: Cause): void {
    if (this.stateValue !== "opening") return;
    // Log a failure once, not on every poll.
    const key = `${c.code}|${path ?? ""}|${c.detail ?? ""}`;
    if (key !== this.lastFailure) {
      this.lastFailure = key;
      this.emit({ type: "serial.open-failed", at: this.now(), path, cause: c });
    }
    this.transition("waiting");
  }

  private opened(pipe: BytePipe, path: string): void {
    if (this.stateValue !== "opening") {
      // Stopped while opening: nobody wants this pipe any more.
      void pipe.close();
      return;
    }
    this.current = pipe;
    this.currentPath = path;
    this.lastFailure = null;
    this.transition("open");
    const at = this.now();
    if (this.down) {
      this.emit({ type: "serial.reopened", at, path, previousPath: this.down.path, downMs: at - this.down.since, attempts: this.down.attempts });
      this.down = null;
    } else if (!this.everOpened) {
      this.emit({ type: "serial.opened", at, path, source: this.opts.port === "auto" ? "auto" : "config" });
    }
    this.everOpened = true;
    pipe.onClose((reason) => this.pipeClosed(pipe, path, reason));
    for (const fn of this.pipeListeners) {
      try {
        fn(pipe, path);
      } catch {
        // A consumer's failure to attach must not stop the keeper.
      }
    }
  }

  private pipeClosed(pipe: BytePipe, path: string, reason: Cause | null): void {
    if (this.current !== pipe || this.stateValue !== "open") return;
    this.current = null;
    if (reason === null) {
      this.transition("idle");
      this.emit({ type: "serial.closed", at: this.now(), path });
      return;
    }
    const at = this.now();
    const vanished: Cause = reason.code === "port-vanished" ? reason : cause("port-vanished", reason.detail ?? reason.code);
    this.emit({ type: "serial.vanished", at, path, cause: vanished });
    this.down = { since: at, path, attempts: 0 };
    this.transition("waiting");
  }
}

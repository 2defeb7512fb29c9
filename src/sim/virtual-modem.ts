/**
 * VirtualModem: the thin adapter around ModemCore. It owns the only timer
 * (one WakeTimer on the injected Scheduler) and the line (a BytePipe: the
 * modem's end of an in-memory pair or a pty master):
 *
 *   pipe bytes → core.input(bytes, now)     core.takeOutput() → pipe.write
 *   core.nextDeadline() → WakeTimer → core.poll(now)
 *   core.takeEvents() → EventBus<SimEvent>
 *
 * The line can be detached and re-attached (a pty that vanishes and comes
 * back); the modem keeps running in between and what it says is lost, as on
 * a USB port that is gone.
 */
import { type Scheduler, WakeTimer } from "../core/clock.ts";
import { EventBus } from "../core/events.ts";
import type { BytePipe } from "../core/pipe.ts";
import { CmuxResponder, splitCmuxScenarios } from "./cmux-responder.ts";
import type { DataSessionFactory } from "./data-session.ts";
import type { SimEvent } from "./events.ts";
import { ModemCore } from "./modem-core.ts";
import { SimNetwork } from "./network.ts";
import { SimPppServer } from "./ppp-server.ts";
import { type BehaviourOverrides, type ScenarioSpec, type SimBehaviour, resolveBehaviour } from "./scenario.ts";

export interface VirtualModemOptions {
  scheduler: Scheduler;
  /** Scenario names/specs, e.g. ["healthy"], ["dial-before-attach", "garbage:5"]. Default healthy. */
  scenarios?: readonly (string | ScenarioSpec)[];
  /** Multiplies every modem delay: 0.01 makes a 10 s registration take 100 ms. Default 1. */
  timeScale?: number;
  /** Direct behaviour overrides in scaled ms (e.g. { auth: { username, password } }). */
  behaviour?: BehaviourOverrides;
  /** Start booted (no RDY wait). Default false: RDY after bootMs like a real power-on. */
  booted?: boolean;
  /** Replace what runs behind CONNECT (default: the PPP server + SimNetwork). */
  dataSession?: DataSessionFactory;
  /** Random bytes for PPP magic numbers / CHAP challenges (tests inject a fixed source). */
  random?: (n: number) => Uint8Array;
}

export class VirtualModem {
  readonly core: ModemCore;
  readonly behaviour: SimBehaviour;
  readonly events = new EventBus<SimEvent>(2000);
  /** The tiny network behind the PPP server (ICMP echo, DNS). */
  readonly network: SimNetwork;
  /** The CMUX side, when a cmux* scenario asks for it (src/sim/cmux-responder.ts). */
  readonly cmux: CmuxResponder | null;
  private readonly scheduler: Scheduler;
  private readonly wake: WakeTimer;
  private pipe: BytePipe | null = null;
  private unsub: (() => void)[] = [];
  private ipHook: ((packet: Uint8Array) => void) | null = null;
  private stopped = false;
  /** Bytes the modem produced while no line was attached (lost, counted). */
  lostBytes = 0;

  constructor(opts: VirtualModemOptions) {
    this.scheduler = opts.scheduler;
    const { faults: cmuxFaults, rest } = splitCmuxScenarios(opts.scenarios ?? ["healthy"], opts.timeScale ?? 1);
    this.behaviour = resolveBehaviour(rest, opts.timeScale ?? 1, opts.behaviour ?? {});
    this.network = new SimNetwork(this.behaviour);
    const factory: DataSessionFactory =
      opts.dataSession ??
      ((ctx) =>
        new SimPppServer({
          behaviour: this.behaviour,
          context: ctx,
          network: this.network,
          routeIp: (packet) => this.routeIp(packet),
          ...(opts.random ? { random: opts.random } : {}),
        }));
    this.wake = new WakeTimer(this.scheduler, () => this.step());
    this.core = new ModemCore({ behaviour: this.behaviour, now: this.scheduler.now(), dataSession: factory, ...(opts.booted ? { booted: true } : {}) });
    this.cmux = cmuxFaults ? new CmuxResponder(this.core, cmuxFaults, this.scheduler.now()) : null;
    // Events of the power-on wait for attach(), so a listener added right
    // after construction still sees them; the timer runs from now.
    this.wake.arm(this.core.nextDeadline());
  }

  /** Connect the line: `pipe` is the modem's end (what the agent writes arrives here). */
  attach(pipe: BytePipe): void {
    this.detach();
    this.pipe = pipe;
    this.unsub.push(
      pipe.onData((d) => {
        if (this.stopped) return;
        if (this.cmux) this.cmux.input(d, this.scheduler.now());
        else this.core.input(d, this.scheduler.now());
        this.flush();
      }),
      pipe.onClose(() => {
        if (this.pipe === pipe) this.detach();
      }),
    );
    this.flush();
  }

  /** Disconnect the line (the modem keeps running). */
  detach(): void {
    for (const u of this.unsub) u();
    this.unsub = [];
    this.pipe = null;
  }

  get line(): BytePipe | null {
    return this.pipe;
  }

  /** DTR from the DTE; only transports with modem lines call this (a pty has none). */
  setDtr(on: boolean): void {
    this.core.setDtr(on, this.scheduler.now());
    this.flush();
  }

  /** Pull the power and plug it back in: the way out of the hang scenario. */
  powerCycle(): void {
    this.core.powerCycle(this.scheduler.now());
    this.flush();
  }

  /**
   * Route IP packets from the client to `cb` instead of the built-in
   * network (the data-plane tests plug a TUN in here). Pass null to restore.
   */
  onIpFromClient(cb: ((packet: Uint8Array) => void) | null): void {
    this.ipHook = cb;
  }

  /** Send an IP packet to the client over the current PPP call; false when no call is open. */
  sendIpToClient(packet: Uint8Array): boolean {
    const s = this.core.dataSession;
    if (!(s instanceof SimPppServer)) return false;
    const ok = s.sendIp(packet, this.scheduler.now());
    this.core.poll(this.scheduler.now());
    this.flush();
    return ok;
  }

  /** The network delivers an SMS (stored, +CMTI announced); the index, or null when off or full. */
  deliverSms(from: string, text: string): number | null {
    const i = this.core.deliverSms(from, text, this.scheduler.now());
    this.flush();
    return i;
  }

  /** The SMS the agent sent (AT+CMGS), oldest first. */
  get sentSms(): readonly { to: string; text: string; at: number }[] {
    return this.core.sms.sent;
  }

  /** Set the network's time (UTC ms, from now on) and send it by NITZ (+CTZE). */
  setNetworkTime(utcMs: number, nitzUrc = true): void {
    this.core.sms.clockOffsetMs = utcMs - this.scheduler.now();
    if (nitzUrc) this.core.sendNitz(this.scheduler.now());
    this.flush();
  }

  /** Stop timers and detach; the modem is gone. */
  stop(): void {
    this.stopped = true;
    this.wake.disarm();
    this.detach();
  }

  private routeIp(packet: Uint8Array): Uint8Array[] {
    if (this.ipHook) {
      this.ipHook(packet);
      return [];
    }
    return this.network.handle(packet);
  }

  private step(): void {
    if (this.stopped) return;
    this.core.poll(this.scheduler.now());
    this.cmux?.poll(this.scheduler.now());
    this.flush();
  }

  /** Move output and events out of the core and re-arm the one timer. */
  private flush(): void {
    const out = this.cmux ? this.cmux.output(this.core.takeOutput(), this.scheduler.now()) : this.core.takeOutput();
    if (out.length > 0) {
      if (this.pipe?.isOpen) this.pipe.write(out);
      else this.lostBytes += out.length;
    }
    for (const e of this.core.takeEvents()) this.events.emit(e);
    if (!this.stopped) this.wake.arm(earliest(this.core.nextDeadline(), this.cmux?.nextDeadline() ?? null));
  }
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

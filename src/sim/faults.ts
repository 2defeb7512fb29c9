/**
 * When the scenario faults strike (scenario.ts describes them; the modem
 * core carries them out): the timers a boot or a CONNECT arms, when the
 * `hang` fault freezes the AT interpreter, and how often each incident may
 * happen in one run. Pure bookkeeping over SimBehaviour: no I/O, no clock;
 * timers come back as data ({kind, at}) for the core's timer table.
 *
 *   boot:     reboot-loop (reboot), garbage
 *   CONNECT:  drop-after (drop), hang:call=S (hang-call), network-drop
 *             (net-drop), reboot-mid-call / port-vanish:S (call-reboot)
 *   IPCP up:  dead-peer (dead)
 *   answers:  hang:N (after N answered command lines), hang recover=S
 */
import { type GarbageBurst, garbageBurst, seededRandom } from "./garbage.ts";
import type { SimBehaviour } from "./scenario.ts";

export type FaultTimer = "reboot" | "garbage" | "drop" | "hang-call" | "net-drop" | "call-reboot" | "dead" | "hang-recover";

/** The fault timers a call's end disarms. A reboot armed at CONNECT is not among them: the crash comes whatever the call did. */
export const CALL_FAULT_TIMERS: readonly FaultTimer[] = ["drop", "hang-call", "net-drop", "dead"];

export interface FaultArm {
  kind: FaultTimer;
  at: number;
}

export class FaultPlan {
  /** The hang fault fires once per run (a scenario describes one incident). */
  private hangUsed = false;
  private commandsSinceBoot = 0;
  private rebootsDone = 0;
  /** Reboots armed after CONNECT (reboot-mid-call, port-vanish:S). */
  private callRebootsArmed = 0;
  /** network-drop incidents so far. */
  private netDropsDone = 0;
  private readonly random: () => number;

  constructor(private readonly b: SimBehaviour) {
    this.random = seededRandom(b.seed);
  }

  /** port-vanish: the port disappears while the module reboots, and comes back when it has booted. */
  get portVanishes(): boolean {
    return this.b.portVanish !== null;
  }

  /** A boot starts: answered commands count afresh. */
  booting(): void {
    this.commandsSinceBoot = 0;
  }

  /** Boot done: the next reboot of reboot-loop, the first garbage burst. */
  bootTimers(now: number): FaultArm[] {
    const arms: FaultArm[] = [];
    const loop = this.b.rebootLoop;
    if (loop && this.rebootsDone < loop.times) arms.push({ kind: "reboot", at: now + loop.everyMs });
    const noise = this.nextNoiseAt(now);
    if (noise !== null) arms.push({ kind: "garbage", at: noise });
    return arms;
  }

  /** garbage: when the next burst is due after one at `now`; null: no garbage scenario. */
  nextNoiseAt(now: number): number | null {
    return this.b.garbageEveryMs === null ? null : now + this.b.garbageEveryMs;
  }

  /** reboot-loop struck once more. */
  rebootLoopFired(): void {
    this.rebootsDone++;
  }

  /**
   * CONNECT: the faults that strike a call. reboot-mid-call (or
   * port-vanish:S, once) resets the module by itself S s after CONNECT,
   * whatever the call is doing by then, as a firmware crash would; one armed
   * by an earlier call that is still pending (`callRebootPending`) is kept.
   */
  callTimers(now: number, callRebootPending: boolean): FaultArm[] {
    const b = this.b;
    const arms: FaultArm[] = [];
    if (b.dropAfterMs !== null) arms.push({ kind: "drop", at: now + b.dropAfterMs });
    if (b.hang && b.hang.afterConnectMs !== null && !this.hangUsed) arms.push({ kind: "hang-call", at: now + b.hang.afterConnectMs });
    if (b.networkDrop && this.netDropsDone < b.networkDrop.times) arms.push({ kind: "net-drop", at: now + b.networkDrop.afterConnectMs });
    const pv = b.portVanish;
    const rebootPlan = b.rebootMidCall ?? (pv && pv.afterConnectMs !== null ? { afterConnectMs: pv.afterConnectMs, times: 1 } : null);
    if (rebootPlan && this.callRebootsArmed < rebootPlan.times && !callRebootPending) {
      this.callRebootsArmed++;
      arms.push({ kind: "call-reboot", at: now + rebootPlan.afterConnectMs });
    }
    return arms;
  }

  /** Why the module resets when the reboot armed at CONNECT strikes (the sim.power reason). */
  get callRebootReason(): "reboot-mid-call" | "port-vanish" {
    return this.b.rebootMidCall ? "reboot-mid-call" : "port-vanish";
  }

  /** dead-peer: when the network stops answering, IPCP having opened at `ipUpAt`; null: never. */
  deadPeerAt(ipUpAt: number): number | null {
    return this.b.deadPeerAfterMs === null ? null : ipUpAt + this.b.deadPeerAfterMs;
  }

  /** network-drop struck mid-call: how long the network stays away. */
  networkDropped(): number | null {
    const nd = this.b.networkDrop;
    if (!nd) return null;
    this.netDropsDone++;
    return nd.backMs;
  }

  /** A command line was answered; true when hang:N strikes now (only a module that is on can hang). */
  commandAnswered(poweredOn: boolean): boolean {
    this.commandsSinceBoot++;
    const h = this.b.hang;
    return h !== null && h.afterConnectMs === null && !this.hangUsed && this.commandsSinceBoot >= h.afterCommands && poweredOn;
  }

  /** The hang struck (and is used up). Returns when the module's own watchdog reboots it (recover=S), or null: only a power cycle helps. */
  hangStruck(now: number): number | null {
    this.hangUsed = true;
    const h = this.b.hang;
    return h && h.recoverMs !== null ? now + h.recoverMs : null;
  }

  /** Soak tests that want another hang incident re-arm it. */
  rearmHang(): void {
    this.hangUsed = false;
  }

  /** garbage: the next burst, `stat` being the registration the URCs in it tell truthfully. */
  noiseBurst(stat: number): GarbageBurst {
    return garbageBurst(this.random, stat);
  }
}

/**
 * A synthetic agent event stream for status-model, HTTP and CLI tests, the page check and the
 * benchmark: a realistic BG77-style bring-up (sync, SIM, registration,
 * attach, dial, LCP, PAP, IPCP, interface), then signal and probe reports,
 * and link flaps (peer-dead → recovering → redial → connected).
 * Shapes follow src/core/agent-events.ts exactly.
 */
import { cause, type Cause } from "../../src/core/cause.ts";
import type { AgentEvent, LinkState } from "../../src/core/agent-events.ts";
import type { EventBase, EventBus } from "../../src/core/events.ts";

export const FAKE_IPV4 = { local: "10.64.12.34", remote: "10.64.64.64", dns: ["10.11.12.13", "10.11.12.14"] };
export const FAKE_IDENTITY = {
  manufacturer: "Quectel",
  model: "BG77",
  firmware: "BG77LAR02A04",
  imei: "866349041234567",
  imsi: "262019876543210",
  iccid: "8949226000012345678",
};

type Emit = (e: AgentEvent) => void;

export class FakeLinkSource {
  private state: LinkState = "starting";
  private seq = 0;
  private dialAttempt = 0;

  constructor(
    private readonly bus: EventBus<EventBase>,
    private readonly now: () => number,
  ) {}

  private emit: Emit = (e) => this.bus.emit(e);

  setState(state: LinkState, c: Cause | null = null, at = this.now()): void {
    const previous = this.state;
    this.state = state;
    this.emit({ type: "modem.state", at, state, previous, cause: c });
  }

  /** The whole bring-up, with timestamps spread over `spanMs` ending at now. */
  bringUp(spanMs = 4000): void {
    const end = this.now();
    const t = (f: number) => Math.round(end - spanMs + f * spanMs);
    this.emit({ type: "agent.started", at: t(0), version: "0.1.0-test" });
    this.emit({ type: "serial.opened", at: t(0.01), path: "/dev/ttyUSB2", cause: null });
    this.setState("syncing", null, t(0.02));
    this.emit({ type: "modem.identity", at: t(0.08), ...FAKE_IDENTITY, profile: "quectel-bg77" });
    this.setState("sim", null, t(0.1));
    this.setState("registering", null, t(0.15));
    this.registration(t(0.3), 2, "searching");
    this.registration(t(0.45), 1, "home");
    this.setState("attaching", null, t(0.5));
    this.setState("dialing", null, t(0.6));
    this.dialAttempt++;
    this.emit({ type: "modem.dial", at: t(0.65), attempt: this.dialAttempt, result: "connect", cause: null });
    this.setState("negotiating", null, t(0.66));
    this.emit({ type: "ppp.phase", at: t(0.67), from: "dead", to: "establish", phase: "establish" });
    this.emit({ type: "ppp.phase", at: t(0.75), from: "establish", to: "authenticate", phase: "authenticate" });
    this.emit({ type: "ppp.phase", at: t(0.8), from: "authenticate", to: "network", phase: "network" });
    this.emit({ type: "ppp.phase", at: t(0.9), from: "network", to: "open", phase: "open" });
    this.emit({ type: "ppp.up", at: t(0.92), ipv4: { ...FAKE_IPV4, dns: [...FAKE_IPV4.dns] }, ipv6: null, mru: 1500 });
    this.emit({ type: "link.interface", at: t(0.95), name: "ppp0", up: true, ipv4: FAKE_IPV4.local, peer: FAKE_IPV4.remote, defaultRoute: true, cause: null });
    this.setState("connected", null, t(1));
    this.recoveryState(0, null, null, end);
  }

  registration(at: number, stat: number, status: string): void {
    this.emit({ type: "modem.registration", at, stat, status, act: "LTE-M", operator: "Telekom.de", band: "LTE BAND 20", tac: "D5A1", cell: "01A2B3C4" });
  }

  recoveryState(consecutiveFailures: number, nextActionAt: number | null, waitingReason: string | null, at = this.now()): void {
    this.emit({ type: "recovery.state", at, rung: consecutiveFailures ? "redial" : null, consecutiveFailures, lastResetAt: null, nextActionAt, waitingReason });
  }

  /** A plausible signal report that wanders a little. */
  signal(at = this.now()): void {
    this.seq++;
    const w = Math.sin(this.seq / 5);
    this.emit({
      type: "modem.signal",
      at,
      rssi: Math.round(-71 + 4 * w),
      rsrp: Math.round(-98 + 6 * w),
      rsrq: Math.round(-10 + 2 * w),
      sinr: Math.round((8 + 5 * w) * 10) / 10,
      act: "LTE-M",
    });
  }

  probe(ok = true, at = this.now(), detail?: string): void {
    this.seq++;
    this.emit({
      type: "health.probe",
      at,
      probe: "icmp",
      target: "8.8.8.8",
      ok,
      rttMs: ok ? Math.round(80 + 40 * Math.abs(Math.sin(this.seq / 3))) : null,
      loss: ok ? 0 : 1,
      consecutiveFailures: ok ? 0 : 1,
      ...(detail !== undefined ? { detail } : {}),
    });
  }

  /** Lose the link (peer-dead) and bring it back with a redial. */
  flap(at = this.now()): void {
    this.emit({ type: "ppp.down", at, cause: cause("peer-dead") });
    this.emit({ type: "link.interface", at, name: "ppp0", up: false, ipv4: null, peer: null, defaultRoute: false, cause: cause("peer-dead") });
    this.setState("recovering", cause("peer-dead"), at);
    this.emit({ type: "recovery.action", at, rung: "redial", reason: "link lost: peer-dead", forced: false });
    this.recoveryState(1, at + 1000, "redial after peer-dead", at);
    this.setState("dialing", null, at);
    this.dialAttempt++;
    this.emit({ type: "modem.dial", at, attempt: this.dialAttempt, result: "connect", cause: null });
    this.setState("negotiating", null, at);
    this.emit({ type: "ppp.phase", at, from: "dead", to: "establish", phase: "establish" });
    this.emit({ type: "ppp.phase", at, from: "establish", to: "open", phase: "open" });
    this.emit({ type: "ppp.up", at, ipv4: { ...FAKE_IPV4, dns: [...FAKE_IPV4.dns] }, ipv6: null, mru: 1500 });
    this.setState("connected", null, at);
    this.recoveryState(0, null, null, at);
  }

  /** Past signal/probe history: one sample per `stepMs` over `spanMs` before now. */
  backfill(spanMs: number, stepMs: number): void {
    const end = this.now();
    for (let at = end - spanMs; at < end; at += stepMs) {
      this.signal(at);
      this.probe(true, at);
    }
  }

  /**
   * Emit signal and probe reports on a real timer (for the browser check).
   * Returns a stop function.
   */
  startLive(intervalMs = 250): () => void {
    const h = setInterval(() => {
      this.signal();
      this.probe(true);
    }, intervalMs);
    return () => clearInterval(h);
  }
}

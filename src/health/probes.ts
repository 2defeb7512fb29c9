/**
 * Health probes. A probe answers one question once ("did an echo to 8.8.8.8
 * come back through the link?") and never throws; the monitor runs a round of
 * them on the schedule and decides health from the round.
 */
import type { ProbeKind } from "../core/agent-events.ts";

export interface ProbeOutcome {
  ok: boolean;
  rttMs: number | null;
  /** Fraction 0..1 lost in this probe, where meaningful. */
  loss: number | null;
  detail?: string;
  /** IP bytes the probe sent and received through the link (requests + answers), where it can tell. */
  bytes?: number;
}

export interface Probe {
  readonly kind: ProbeKind;
  /** What was probed (an address, a name, a URL), or null. */
  readonly target: string | null;
  /**
   * Whether a failure counts toward `health.failures`. LCP echo does not: the
   * PPP session acts on missed echoes itself (cause peer-dead), so counting it
   * here too would escalate the same fault twice.
   */
  readonly counts: boolean;
  /** Resolve with the outcome, or null when the probe could not run this round (skipped, not failed). Must not reject. */
  run(timeoutMs: number): Promise<ProbeOutcome | null>;
}

// --- ICMP echo through the link ---------------------------------------------------

export interface IcmpPingResult {
  ok: boolean;
  rttMs: number | null;
  detail?: string;
  /** IP bytes of the echo request sent plus the reply received. */
  bytes?: number;
}

/** What the ICMP probe needs: one echo to `target`, answered or timed out after `timeoutMs`. */
export interface IcmpProber {
  ping(target: string, timeoutMs: number): Promise<IcmpPingResult>;
}

/** `count` echoes to one target at once; ok when at least one came back. */
export class IcmpProbe implements Probe {
  readonly kind = "icmp" as const;
  readonly counts = true;
  constructor(
    private readonly prober: IcmpProber,
    readonly target: string,
    private readonly count = 1,
  ) {}

  async run(timeoutMs: number): Promise<ProbeOutcome> {
    const results = await Promise.all(
      Array.from({ length: this.count }, () =>
        this.prober.ping(this.target, timeoutMs).catch((err: unknown): IcmpPingResult => ({ ok: false, rttMs: null, detail: String((err as Error)?.message ?? err) })),
      ),
    );
    const good = results.filter((r) => r.ok && r.rttMs !== null);
    const loss = (results.length - good.length) / results.length;
    const rttMs = good.length === 0 ? null : good.reduce((a, r) => a + (r.rttMs ?? 0), 0) / good.length;
    const firstBad = results.find((r) => !r.ok);
    const bytes = results.reduce((n, r) => n + (r.bytes ?? 0), 0);
    return {
      ok: good.length > 0,
      rttMs,
      loss,
      bytes,
      ...(good.length === 0 && firstBad?.detail ? { detail: firstBad.detail } : {}),
    };
  }
}

// --- LCP echo (from the PPP session) ------------------------------------------------

/** What the PPP session knows about its LCP echo keep-alive. */
export interface LcpEchoStatus {
  /** LCP is Opened. */
  open: boolean;
  /** Echo-Requests sent since the last Echo-Reply. */
  missed: number;
  /** Round trip of the last answered echo, ms. */
  rttMs: number | null;
}

/** Reports the PPP session's echo keep-alive as a probe (informational: PPP acts on it itself). */
export class LcpEchoProbe implements Probe {
  readonly kind = "lcp-echo" as const;
  readonly target = null;
  readonly counts = false;
  constructor(private readonly status: () => LcpEchoStatus | null) {}
  async run(): Promise<ProbeOutcome | null> {
    const s = this.status();
    if (s === null) return null;
    if (!s.open) return { ok: false, rttMs: null, loss: null, detail: "LCP not open" };
    return { ok: s.missed === 0, rttMs: s.rttMs, loss: null, ...(s.missed > 0 ? { detail: `${s.missed} echo request(s) unanswered` } : {}) };
  }
}

// --- modem check (registration + signal) ----------------------------------------------

export interface ModemCheckResult {
  /** Registered home or roaming (3GPP stat 1 or 5). */
  registered: boolean;
  /** "home", "roaming", "searching", "denied"... */
  status: string;
  /** RSSI or RSRP in dBm, whichever the modem reports; null if none. */
  signalDbm: number | null;
}

/** Registration and signal through a callback into the supervisor; null from it means "cannot ask now" (skipped). */
export class ModemCheckProbe implements Probe {
  readonly kind = "modem" as const;
  readonly target = null;
  readonly counts = true;
  constructor(private readonly check: () => Promise<ModemCheckResult | null>) {}
  async run(): Promise<ProbeOutcome | null> {
    let r: ModemCheckResult | null;
    try {
      r = await this.check();
    } catch (err) {
      return { ok: false, rttMs: null, loss: null, detail: `modem check failed: ${(err as Error)?.message ?? err}` };
    }
    if (r === null) return null;
    const signal = r.signalDbm === null ? "no signal report" : `${r.signalDbm} dBm`;
    return { ok: r.registered, rttMs: null, loss: null, detail: `${r.status}, ${signal}` };
  }
}

/**
 * The network's side of packet data calls: whether it accepts a PDN
 * connection, and what AT+CEER (27.007 §6.10) reports about the last call.
 * Pure state, no I/O, no clock.
 *
 * A PPP dial succeeds (CONNECT) whenever the radio is registered, attached or
 * not: the BG77 field report shows CONNECT and PAP success before the network
 * gives up on an unattached call with LCP Terminate-Request (ppp-server.ts).
 * The network refuses the PDN connection (NO CARRIER at once, the ESM cause in
 * AT+CEER) for an APN it does not know (apn-rejected, ESM #27) and while the
 * session-management back-off runs (t3396, ESM #26 with T3396, TS 24.301
 * §6.5.1.4.3; the first dial starts it).
 *
 * AT+CEER answers "No report available" after power-on or a call the DTE
 * ended, and the ESM/EMM cause where the network refused or ended the call.
 */
import type { SimBehaviour } from "./scenario.ts";

/** The AT+CEER answer: the report of the last call, rendered at query time (T3396 counts down). */
type CallReport = (now: number) => string;

const NO_REPORT: CallReport = () => '+CEER: "No report available"';
const esmReport =
  (category: string, cause: number, text: string): CallReport =>
  () =>
    `+CEER: "${category}",${cause},"${text}"`;
/** TS 24.301 annex B ESM causes and annex A EMM causes the scenarios use. */
const REPORT = {
  unknownApn: esmReport("ESM reject", 27, "Missing or unknown APN"),
  authFailed: esmReport("ESM reject", 29, "User authentication or authorization failed"),
  regularDeactivation: esmReport("ESM deactivation", 36, "Regular deactivation"),
  implicitlyDetached: esmReport("EMM detach", 10, "Implicitly detached"),
};

/** Why a call ended, as the modem core names it (sim.mode reasons). */
export type CallEndReason = "ath" | "dtr" | "drop-after" | "network-drop" | "ppp-terminated";

export class PdnModel {
  private report: CallReport = NO_REPORT;
  /** t3396: when the ESM back-off timer started by the first dial runs out (null: not started). Survives module resets: it is the network's. */
  private t3396Until: number | null = null;

  constructor(private readonly b: Pick<SimBehaviour, "acceptApn" | "t3396Ms">) {}

  /** Power-on: nothing to report. */
  reset(): void {
    this.report = NO_REPORT;
  }

  /** Does the network accept a PDN connection for `apn` now? A refusal is what AT+CEER reports next. */
  admit(apn: string, now: number): boolean {
    const b = this.b;
    if (b.acceptApn !== null && apn.toLowerCase() !== b.acceptApn.toLowerCase()) {
      this.report = REPORT.unknownApn;
      return false;
    }
    if (b.t3396Ms !== null) {
      if (this.t3396Until === null) this.t3396Until = now + b.t3396Ms;
      const until = this.t3396Until;
      if (now < until) {
        this.report = (at) => `+CEER: "ESM reject",26,"Insufficient resources, T3396 ${Math.max(0, Math.ceil((until - at) / 1000))} s"`;
        return false;
      }
    }
    return true;
  }

  /** CONNECT: the new call has nothing to report yet. */
  callStarted(): void {
    this.report = NO_REPORT;
  }

  /** The network side refused the PPP login: the PDN connection fails with ESM #29. */
  loginRefused(): void {
    this.report = REPORT.authFailed;
  }

  /** network-drop: the network lost the UE (EMM #10). */
  networkLost(): void {
    this.report = REPORT.implicitlyDetached;
  }

  /** The call ended: the network's deactivation is reported; a call the DTE or PPP ended leaves no report, unless the login was refused. */
  callEnded(reason: CallEndReason): void {
    if (reason === "drop-after") this.report = REPORT.regularDeactivation;
    else if (reason === "ath" || reason === "dtr" || (reason === "ppp-terminated" && this.report !== REPORT.authFailed)) this.report = NO_REPORT;
  }

  /** The AT+CEER information line. */
  ceer(now: number): string {
    return this.report(now);
  }
}

/**
 * The radio side of the virtual modem: SIM, functionality level (CFUN),
 * network registration and packet-service attach, and the AT commands that
 * read or change them. Part of the modem core (no I/O, no clock): the core
 * owns the timers and the line, this model asks for them through RadioHost.
 *
 * Registration follows 3GPP TS 27.007 §7.2 / §10.1.19 / §10.1.22 (<stat> 0 not
 * searching, 1 home, 2 searching, 3 denied, 5 roaming); the reject-with-
 * back-off path follows TS 24.301 §5.5.1.2.5 (EMM cause #22 with T3346).
 *
 * The network's own windows (a denial that ends, a lost network that comes
 * back) are absolute times from power-on: a module reset does not shorten or
 * restart them, as it would not on a real network.
 */
import type { SimEvent } from "./events.ts";
import { ACT_CATM1, CELL_ID, ICCID, ICCID2, IMSI, IMSI2, PLMN, TAC } from "./quectel-text.ts";
import { RadioNvram } from "./radio-nvram.ts";
import type { SimBehaviour } from "./scenario.ts";

export type RadioTimer = "registration" | "attach";
export type SimCardState = "ready" | "pin" | "puk" | "missing";
export type RegCommand = "+CREG" | "+CGREG" | "+CEREG";

export interface RadioHost {
  arm(kind: RadioTimer, at: number): void;
  disarm(kind: RadioTimer): void;
  urc(text: string): void;
  emit(e: SimEvent): void;
  /** An AT+CGATT=1 is waiting: registration must lead to an attach even without auto-attach. */
  attachRequested(): boolean;
}

export class RadioModel {
  cfun = 1;
  sim: SimCardState;
  stat = 0;
  rejectCause: number | null = null;
  attached = false;
  /** Settings kept across resets (AT+QCFG, AT+QDSIM). */
  readonly nv = new RadioNvram();
  /** The SIM slot in use (0 = slot 1): nv.qdsim as it was at the last boot or CFUN=1. */
  slot = 0;
  /** AT+COPS: mode (0 automatic, 1 manual), the manual network, the read format; not kept across a reset. */
  cops = { mode: 0, oper: null as string | null, format: 0 };
  /** URC mode n of AT+CREG / +CGREG / +CEREG (0 = off). */
  readonly urcMode: Record<RegCommand, number> = { "+CREG": 0, "+CGREG": 0, "+CEREG": 0 };
  private pinAttempts = 3;
  private backoffUntil: number | null = null;
  private backoffUsed = false;
  /** registration-denied:for=S: when the denial ends (null: for good, or no denial). */
  private readonly deniedUntil: number | null;
  /** network-drop: the network is gone until then (searching, stat 2). */
  private outageUntil: number | null = null;

  constructor(
    private readonly b: SimBehaviour,
    private readonly host: RadioHost,
    /** Power-on time: a timed denial counts from here. */
    private readonly poweredOnAt = 0,
  ) {
    this.sim = b.sim;
    this.deniedUntil = b.registration === "denied" && b.deniedForMs !== null ? poweredOnAt + b.deniedForMs : null;
  }

  /** Power-on state. The back-off is used once per run, not per boot. */
  reset(): void {
    this.cfun = 1;
    this.cops = { mode: 0, oper: null, format: 0 };
    this.selectSlot();
    this.pinAttempts = 3;
    this.stat = 0;
    this.rejectCause = null;
    this.backoffUntil = null;
    this.attached = false;
    this.resetUrcModes();
  }

  resetUrcModes(): void {
    this.urcMode["+CREG"] = this.urcMode["+CGREG"] = this.urcMode["+CEREG"] = 0;
  }

  /** The slot in use reads its card afresh (boot, or CFUN=1 after AT+QDSIM). */
  private selectSlot(): void {
    this.slot = this.b.sim2 === null ? 0 : this.nv.qdsim;
    this.sim = this.slot === 0 ? this.b.sim : this.b.sim2 === "missing" ? "missing" : "ready";
    this.pinAttempts = 3;
  }

  /** The card's IMSI and ICCID: each slot has its own. */
  get imsi(): string {
    return this.slot === 0 ? IMSI : IMSI2;
  }
  get iccid(): string {
    return this.slot === 0 ? ICCID : ICCID2;
  }

  /** Whether a dual-sim scenario gave the module a second slot (AT+QDSIM exists). */
  get dualSim(): boolean {
    return this.b.sim2 !== null;
  }

  get registered(): boolean {
    return this.stat === 1 || this.stat === 5;
  }

  /** Radio on and registered: signal and serving-cell queries report the cell. */
  get inService(): boolean {
    return this.cfun === 1 && this.registered;
  }

  /** Can a packet call be placed (CONNECT)? Registered with the radio on. */
  get canDial(): boolean {
    return this.sim === "ready" && this.cfun === 1 && this.registered;
  }

  /** Denied (not the back-off kind that ends by itself; a timed denial looks the same to the module). */
  get deniedForGood(): boolean {
    return this.stat === 3 && this.backoffUntil === null;
  }

  // ---------------------------------------------------------------- state changes

  /** Boot done, AT+CFUN=1 or the right PIN: with a ready SIM and the radio on, search; registered after registrationMs. */
  radioOn(now: number): void {
    if (this.cfun !== 1 || this.sim !== "ready") return;
    this.setStat(2, now, null);
    this.host.arm("registration", now + this.b.registrationMs);
  }

  private radioOff(now: number): void {
    this.host.disarm("registration");
    this.host.disarm("attach");
    this.setAttached(false, now);
    this.setStat(0, now, null);
  }

  /**
   * network-drop: the network is lost now (the core has already ended the
   * call): searching (stat 2, URCs), detached, and registered again after `forMs`.
   */
  loseNetwork(now: number, forMs: number): void {
    this.outageUntil = now + forMs;
    if (this.cfun !== 1 || this.sim !== "ready") return;
    this.host.disarm("registration");
    this.setStat(2, now, null);
    this.setAttached(false, now);
    this.host.arm("registration", this.outageUntil);
  }

  /** The registration timer fired. */
  registrationStep(now: number): void {
    if (this.cfun !== 1 || this.sim !== "ready") return;
    if (this.outageUntil !== null) {
      if (now < this.outageUntil) {
        // Still no network (e.g. the module rebooted during the outage): keep searching.
        this.setStat(2, now, null);
        this.host.arm("registration", this.outageUntil);
        return;
      }
      this.outageUntil = null;
    }
    if (this.slot === 1) return this.registerSecondCard(now);
    if (this.cops.mode === 1 && this.cops.oper !== PLMN) {
      // Manual selection of a network that is not here: searching, never registered.
      this.setStat(2, now, null);
      return;
    }
    const how = this.b.registration;
    const denying = how === "denied" && (this.deniedUntil === null || now < this.deniedUntil);
    if (denying) {
      this.setStat(3, now, this.b.denyCause);
      // A timed denial: the network accepts the next attempt once it has ended.
      if (this.deniedUntil !== null) this.host.arm("registration", this.deniedUntil);
    } else if (how === "backoff" && !this.backoffUsed) {
      // EMM cause #22 "Congestion" comes with T3346: no retry until it expires.
      this.backoffUsed = true;
      this.backoffUntil = now + this.b.backoffMs;
      this.setStat(3, now, 22);
      this.host.arm("registration", this.backoffUntil);
    } else if (this.stat === 3 && this.backoffUntil !== null) {
      // T3346 expired: search again, then register.
      this.backoffUntil = null;
      this.setStat(2, now, null);
      this.host.arm("registration", now + this.b.registrationMs);
    } else {
      this.register(this.roamingAt(now) ? 5 : 1, now);
    }
  }

  /** roaming: still on the roaming partner at `now` (the home network appears at power-on + home=S, when set). */
  private roamingAt(now: number): boolean {
    const r = this.b.roaming;
    if (!r) return false;
    if (r.homeAfterMs === null) return true;
    const homeAt = this.poweredOnAt + r.homeAfterMs;
    if (now < homeAt) {
      this.host.arm("registration", homeAt);
      return true;
    }
    return false;
  }

  private register(stat: 1 | 5, now: number): void {
    const was = this.registered;
    this.setStat(stat, now, null);
    if (!was && (this.b.autoAttach || this.host.attachRequested())) this.host.arm("attach", now + this.b.attachMs);
  }

  /** dual-sim, slot 2: the network's verdict on the second card. */
  private registerSecondCard(now: number): void {
    const card = this.b.sim2;
    if (card === "denied") this.setStat(3, now, null);
    else this.register(card === "roaming" ? 5 : 1, now);
  }

  setAttached(on: boolean, now: number): void {
    if (on === this.attached) return;
    this.attached = on;
    this.host.emit({ type: "sim.attach", at: now, attached: on });
  }

  private setStat(stat: number, now: number, rejectCause: number | null): void {
    const changed = stat !== this.stat || rejectCause !== this.rejectCause;
    this.stat = stat;
    this.rejectCause = rejectCause;
    if (!changed) return;
    this.host.emit(rejectCause === null ? { type: "sim.registration", at: now, stat } : { type: "sim.registration", at: now, stat, rejectCause });
    for (const name of ["+CEREG", "+CGREG", "+CREG"] as const) {
      const n = this.urcMode[name];
      if (n > 0) this.host.urc(`${name}: ${this.regFields(n)}`);
    }
    if (!this.registered) {
      this.host.disarm("attach");
      this.setAttached(false, now);
    }
  }

  private camped(): boolean {
    return this.registered || (this.stat === 3 && this.rejectCause !== null);
  }

  /** "<stat>[,"<tac>","<ci>",<AcT>[,<cause_type>,<reject_cause>]]" (27.007 §10.1.22). */
  regFields(n: number): string {
    let s = `${this.stat}`;
    if (n >= 2 && this.camped()) s += `,"${TAC}","${CELL_ID}",${ACT_CATM1}`;
    if (n >= 3 && this.rejectCause !== null) {
      if (!(n >= 2 && this.camped())) s += `,,,`;
      s += `,0,${this.rejectCause}`;
    }
    return s;
  }

  /** Seconds left of the T3346 back-off (0 when none runs), as AT+QNWCFG="backoff" reports it. */
  backoffLeftS(now: number): number {
    return this.backoffUntil === null ? 0 : Math.max(0, Math.ceil((this.backoffUntil - now) / 1000));
  }

  // ---------------------------------------------------------------- what the AT commands change

  /**
   * AT+CPIN=<pin> while the SIM asks for its PIN: true when it was right (the
   * SIM is ready and the radio starts). 27.007: three wrong PINs block the SIM
   * behind its PUK.
   */
  enterPin(pin: string | undefined, now: number): boolean {
    if (pin === this.b.pin) {
      this.sim = "ready";
      this.host.urc("+CPIN: READY");
      this.host.urc("+QIND: SMS DONE");
      this.radioOn(now);
      return true;
    }
    this.pinAttempts--;
    if (this.pinAttempts <= 0) this.sim = "puk";
    return false;
  }

  /** AT+CFUN=<fun> without the reset flag (a reset is the whole module's business). */
  setFun(fun: number, now: number): void {
    if (fun === this.cfun) return;
    this.cfun = fun;
    if (fun === 1) {
      // The card is read again with the radio: a slot chosen by AT+QDSIM is taken now.
      if (this.b.sim2 !== null && this.slot !== this.nv.qdsim) {
        this.selectSlot();
        this.host.urc(this.sim === "ready" ? "+CPIN: READY" : "+CPIN: NOT INSERTED");
      }
      this.radioOn(now);
    }
    else this.radioOff(now);
  }

  /** AT+COPS changed the network selection: with the radio on, register afresh under it. */
  selectionChanged(now: number): void {
    if (this.cfun !== 1 || this.sim !== "ready") return;
    if (this.cops.mode === 1 && this.cops.oper !== PLMN) {
      // The chosen network is not here: deregistered, searching for it.
      this.host.disarm("registration");
      this.setStat(2, now, null);
    } else if (this.stat === 2 || this.stat === 0) {
      this.host.arm("registration", now + this.b.registrationMs);
    }
  }

  /** AT+CGATT=1: registered, the attach takes attachMs; otherwise it follows registration (attachRequested). */
  requestAttach(now: number): void {
    if (this.registered) this.host.arm("attach", now + this.b.attachMs);
  }

  /** AT+CGATT=0. */
  detach(now: number): void {
    this.host.disarm("attach");
    this.setAttached(false, now);
  }
}

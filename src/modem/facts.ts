/**
 * What the supervisor last learned from the modem: its identity, its
 * registration and its signal. Each reading becomes an event
 * ("modem.identity", "modem.registration", "modem.signal") when it is new;
 * /status and the health check read the last values from here.
 */
import type { AtChannel } from "../at/channel.ts";
import type { Scheduler } from "../core/clock.ts";
import type { ModemEvent } from "./events.ts";
import { accessTechnology, registrationStatus, type Registration } from "./parse.ts";
import type { ModemProfile } from "./profiles.ts";
import { readSignal } from "./signal.ts";
import type { ModemIdentity } from "./types.ts";

export const UNKNOWN_IDENTITY: ModemIdentity = { manufacturer: null, model: null, firmware: null, imei: null, imsi: null, iccid: null };

export class ModemFacts {
  identity: ModemIdentity = UNKNOWN_IDENTITY;
  registration: Registration | null = null;
  rssi: number | null = null;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly emit: (e: ModemEvent) => void,
    private readonly profile: () => ModemProfile,
  ) {}

  /** The module's identity (ATI, +CGMM...): always reported, it also names the profile in use. */
  setModule(id: Omit<ModemIdentity, "imsi" | "iccid">): void {
    this.identity = { ...id, imsi: this.identity.imsi, iccid: this.identity.iccid };
    this.emitIdentity();
  }

  /** The SIM's identity (IMSI, ICCID): reported when it changed (a SIM swap). */
  setSim(imsi: string | null, iccid: string | null): void {
    if (imsi === this.identity.imsi && iccid === this.identity.iccid) return;
    this.identity = { ...this.identity, imsi, iccid };
    this.emitIdentity();
  }

  /** A registration answer or URC; reported when stat, cell or tracking area changed. */
  noteRegistration(reg: Registration): void {
    const prev = this.registration;
    this.registration = reg;
    if (prev && prev.stat === reg.stat && prev.cell === reg.cell && prev.tac === reg.tac) return;
    this.emitRegistration(null, null);
  }

  /** After a radio cycle or reset the old registration means nothing. */
  forgetRegistration(): void {
    this.registration = null;
  }

  /** +CSQ, +QCSQ, +QNWINFO, +COPS? → "modem.signal" and, with operator/band, "modem.registration". */
  async pollSignal(ch: AtChannel): Promise<void> {
    const r = await readSignal(ch, this.profile(), accessTechnology(this.registration?.act ?? null));
    this.rssi = r.rssi;
    this.emit({ type: "modem.signal", at: this.scheduler.now(), rssi: r.rssi, rsrp: r.rsrp, rsrq: r.rsrq, sinr: r.sinr, act: r.act });
    if (r.operator || r.band) this.emitRegistration(r.operator, r.band);
  }

  private emitIdentity(): void {
    this.emit({ type: "modem.identity", at: this.scheduler.now(), ...this.identity, profile: this.profile().id });
  }

  private emitRegistration(operator: string | null, band: string | null): void {
    const reg = this.registration;
    if (!reg) return;
    this.emit({
      type: "modem.registration",
      at: this.scheduler.now(),
      stat: reg.stat,
      status: registrationStatus(reg.stat),
      act: accessTechnology(reg.act),
      operator,
      band,
      tac: reg.tac,
      cell: reg.cell,
    });
  }
}

/**
 * The virtual modem's radio settings that a real Quectel module keeps in
 * NVRAM across resets and power cycles (BG96 AT Commands Manual, AT+QCFG
 * "nwscanseq", "nwscanmode", "iotopmode", "band", "roamservice"; AT+QDSIM),
 * and a count of the writes, so tests can see a setting was not rewritten.
 * Plain data; the AT+QCFG / AT+QDSIM handlers are in commands/radio.ts.
 */

/** The BG96 manual's default LTE masks (bands 1, 2, 3, 4, 5, 8, 12, 13, 18, 19, 20, 26, 28 and 39 for Cat M1). */
export const DEFAULT_CATM1_MASK = 0x400a0e189fn;
export const DEFAULT_NB_MASK = 0xa0e189fn;

export class RadioNvram {
  /** Scan order, two digits per technology: 01 GSM, 02 eMTC, 03 NB-IoT ("00" automatic). */
  nwscanseq = "020301";
  /** 0 automatic, 1 GSM only, 3 LTE only. */
  nwscanmode = 0;
  /** 0 eMTC, 1 NB-IoT, 2 both. */
  iotopmode = 2;
  band = { gsm: 0xfn, catm1: DEFAULT_CATM1_MASK, nb: DEFAULT_NB_MASK };
  /** 1 roaming off, 2 on, 255 automatic. */
  roamservice = 255;
  /** AT+QDSIM: the slot the module uses from its next CFUN=1 or boot (0 = slot 1). */
  qdsim = 0;
  /** Settings written (each an NVRAM write on a real module). */
  writes = 0;
}

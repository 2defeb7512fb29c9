/**
 * USB identities of modems cellkeep knows, and what each USB interface of
 * theirs is for. Data, not code: add a row to support a new module.
 *
 * Sources:
 * - Product IDs: Linux drivers/usb/serial/option.c (QUECTEL_VENDOR_ID 0x2c7c,
 *   QUECTEL_PRODUCT_EC21 0x0121, _EC25 0x0125, _EG91 0x0191, _EG95 0x0195,
 *   _BG96 0x0296, _EP06 0x0306, _EM12 0x0512; 0x0700 is the BG95 family entry,
 *   shared by BG95, BG77 and BG600L).
 * - Interface roles: Quectel's Linux USB driver user guide and the option.c
 *   commit messages ("0: Diag, 1: GNSS, 2: AT-command interface/modem,
 *   3: Modem, 4: QMI"). Interface 2 is the port that answers AT commands AND
 *   carries PPP after ATD*99#; the other AT port (3) is used for control while
 *   2 is in data mode. That is the "PPP works only on ttyUSB2" trap: the
 *   ttyUSBn number is just the order of enumeration, the interface number is
 *   what matters, so cellkeep matches on the interface number.
 * - Interfaces 4+ (QMI/RmNet, ECM, MBIM) are network functions, not ttys.
 */
export type PortRole = "diagnostics" | "gnss" | "data" | "at" | "network" | "unknown";

export interface UsbModemModel {
  vendorId: string;
  productId: string;
  /** What `cellkeep ports` prints. */
  name: string;
  /** bInterfaceNumber → role. */
  interfaces: Readonly<Record<number, PortRole>>;
}

/** Quectel's common layout: 0 DM, 1 NMEA, 2 AT + PPP, 3 AT, 4 network. */
const QUECTEL_LAYOUT: Readonly<Record<number, PortRole>> = { 0: "diagnostics", 1: "gnss", 2: "data", 3: "at", 4: "network" };

export const QUECTEL_VENDOR_ID = "2c7c";

export const USB_MODEMS: readonly UsbModemModel[] = [
  { vendorId: QUECTEL_VENDOR_ID, productId: "0296", name: "Quectel BG96", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0700", name: "Quectel BG95/BG77/BG600L", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0125", name: "Quectel EC25/EG25", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0121", name: "Quectel EC21", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0191", name: "Quectel EG91", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0195", name: "Quectel EG95", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0306", name: "Quectel EP06", interfaces: QUECTEL_LAYOUT },
  { vendorId: QUECTEL_VENDOR_ID, productId: "0512", name: "Quectel EM12/EG12", interfaces: QUECTEL_LAYOUT },
];

export function findModemModel(vendorId: string, productId: string): UsbModemModel | undefined {
  const v = vendorId.toLowerCase();
  const p = productId.toLowerCase();
  return USB_MODEMS.find((m) => m.vendorId === v && m.productId === p);
}

/** Human text for a role, used in reports and reasons. */
export const ROLE_TEXT: Readonly<Record<PortRole, string>> = {
  diagnostics: "diagnostics (DM)",
  gnss: "GNSS (NMEA)",
  data: "AT + PPP data",
  at: "AT control",
  network: "network (QMI/ECM)",
  unknown: "unknown",
};

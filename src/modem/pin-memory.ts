/**
 * A SIM PIN the SIM rejected is never sent again, also after a restart of
 * cellkeep: three wrong tries lock the SIM behind its PUK (TS 31.102 / the
 * SIM's retry counter), and a gateway in the field cannot type a PUK. The
 * state file keeps only a salted SHA-256 fingerprint, never the PIN.
 */
import { createHash, randomBytes } from "node:crypto";
import type { PinFingerprint } from "./types.ts";

export function pinFingerprint(pin: string, salt: string = randomBytes(16).toString("hex")): PinFingerprint {
  return { salt, hash: createHash("sha256").update(`cellkeep-pin:${salt}:${pin}`).digest("hex") };
}

/** True when `pin` is the one `remembered` fingerprints. */
export function isRejectedPin(pin: string, remembered: PinFingerprint | null): boolean {
  return remembered !== null && pinFingerprint(pin, remembered.salt).hash === remembered.hash;
}

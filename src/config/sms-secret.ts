/**
 * sms.secret / sms.secret_file (issue 17, SMS control): the word an SMS
 * command must start with. Read like the other secrets (bounded, strict
 * UTF-8, a warning when other users may read the file), checked for the same
 * shape as an inline secret, and registered for log redaction, also in the
 * UCS2 hex form the modem shows SMS text in (src/sms/text.ts).
 */
import { decodeUtf8, permissionWarning, readSecretFile } from "./files.ts";
import { registerSecret } from "../core/log.ts";

export interface SmsSecretResult {
  issues: { path: string; message: string }[];
  warnings: string[];
  /** The secret (from the file when secret_file is set); undefined when neither key is set. */
  secret: string | undefined;
}

const SHAPE = /^\S{8,64}$/;

export function resolveSmsSecret(sms: { allow_from: string[]; secret?: string | undefined; secret_file?: string | undefined }): SmsSecretResult {
  const out: SmsSecretResult = { issues: [], warnings: [], secret: sms.secret };
  if (sms.secret !== undefined && sms.secret_file !== undefined) {
    out.issues.push({ path: "sms.secret_file", message: "set either sms.secret or sms.secret_file, not both" });
    return out;
  }
  if (sms.secret_file !== undefined) {
    const read = readSecretFile(sms.secret_file, "SMS secret file");
    if (!read.ok) {
      out.issues.push({ path: "sms.secret_file", message: read.message });
      return out;
    }
    const text = decodeUtf8(read.bytes);
    // Never a line, column or byte of the content: it would tell something about the secret.
    const secret = text.ok ? text.text.split(/\r?\n/)[0]!.trim() : "";
    if (!text.ok || !SHAPE.test(secret)) {
      out.issues.push({ path: "sms.secret_file", message: `the SMS secret file ${sms.secret_file} must hold one secret of 8 to 64 characters without spaces on its first line` });
      return out;
    }
    out.secret = secret;
    const warning = permissionWarning(sms.secret_file, "the SMS command secret (sms.secret_file)", read.stat);
    if (warning) out.warnings.push(warning);
  }
  if (sms.allow_from.length > 0 && out.secret === undefined) {
    out.issues.push({ path: "sms.allow_from", message: "SMS control needs sms.secret_file (or sms.secret): an allowed sender alone is no proof, sender numbers can be forged" });
  }
  return out;
}

/** Mask the secret in every log line and event text, as typed and as the modem's UCS2 hex. */
export function registerSmsSecret(secret: string | undefined): void {
  if (secret === undefined) return;
  registerSecret(secret);
  registerSecret(ucs2Hex(secret));
}

/** UTF-16 code units as 4 upper-case hex digits each (3GPP TS 27.005 text mode with AT+CSCS="UCS2"). */
export function ucs2Hex(text: string): string {
  let hex = "";
  for (let i = 0; i < text.length; i++) hex += text.charCodeAt(i).toString(16).toUpperCase().padStart(4, "0");
  return hex;
}

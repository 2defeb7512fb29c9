/**
 * AT commands whose arguments carry a PIN, PUK or password must never reach a
 * log line, an event, a cause detail or `cellkeep check` output. The PIN from
 * modem.pin is also a registered secret, but credentials a person puts in
 * modem.init (AT+CGAUTH with auth.method = "none", AT+QICSGP, AT+CLCK) are not,
 * so the command text itself is masked.
 *
 * 3GPP TS 27.007: +CPIN/+CPIN2 (§8.3), +CLCK (§7.4), +CPWD (§7.5), +CGAUTH
 * (§10.1.31); Quectel +QICSGP (TCP/IP AT commands manual); Qualcomm $QCPDPP.
 */
const SECRET_COMMAND = /([+$](?:CPIN2?|CLCK|CPWD|CGAUTH|QICSGP|QCPDPP)\s*=)/i;

/**
 * AT+CPIN="1234" → AT+CPIN=***. Everything after the first secret-bearing
 * command's "=" is hidden, later commands of a compound line too: a password
 * may itself contain ';' or quotes, so no attempt is made to find its end.
 * Queries ("AT+CPIN?", "AT+CLCK=?") carry nothing and are kept.
 */
export function redactCommand(command: string): string {
  const m = SECRET_COMMAND.exec(command);
  if (!m) return command;
  const end = m.index + m[0].length;
  if (/^\s*\?\s*$/.test(command.slice(end))) return command;
  return command.slice(0, end) + "***";
}

/**
 * What PAP and CHAP share: the machine interface the session drives, the
 * credential verifier for the authenticator role, and timer settings.
 * Secrets stay inside the machines: outcomes carry only the method, result
 * and the peer's message text.
 */
export type AuthRole = "client" | "server";

/** Authenticator-side credential lookup (the virtual modem's user database). */
export interface AuthVerifier {
  /** The secret for `username`, or undefined when the user is unknown. */
  secretFor(username: string): string | undefined;
}

export interface AuthOutcome {
  result: "success" | "failure" | "timeout";
  /** The peer's message (client role) or the message we sent (server role). */
  message: string;
  /** Server role: the name the peer presented. */
  peerName?: string;
}

export interface AuthTimers {
  /** Retransmission interval for Authenticate-Request / Challenge (ms). */
  restartMs: number;
  /** Transmissions before giving up (auth-timeout). */
  maxRequests: number;
  /** How long the passive side waits for the other side to begin (ms). */
  waitMs: number;
}

/** pppd's defaults: 3 s retransmission, 10 transmissions; 30 s passive wait. */
export const DEFAULT_AUTH_TIMERS: AuthTimers = { restartMs: 3000, maxRequests: 10, waitMs: 30000 };

/** One PAP or CHAP conversation in one role. Packets in/out are the PPP Information field. */
export interface AuthMachine {
  readonly method: "pap" | "chap";
  readonly role: AuthRole;
  start(now: number): void;
  input(info: Uint8Array, now: number): void;
  poll(now: number): void;
  /** Next time poll() must be called, or null. */
  readonly deadline: number | null;
}

export interface AuthHost {
  send(info: Uint8Array): void;
  done(outcome: AuthOutcome): void;
  discarded?(why: string): void;
}

/** Compare without an early exit, so timing says nothing about the secret. */
export function equalSecret(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

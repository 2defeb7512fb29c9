/** Exit codes are a contract with init systems and scripts (documented in `--help` and the README). */
export const EXIT = {
  OK: 0,
  /** Runtime failure: the agent could not start (e.g. permission, port locked), or `status` found the link down. */
  FAILURE: 1,
  /** Bad configuration or bad command line; nothing touched the modem. */
  USAGE: 2,
  /** `status` could not reach the agent. */
  UNREACHABLE: 3,
} as const;

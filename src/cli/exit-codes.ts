/** Exit codes are a contract with init systems and scripts (documented in `--help` and the README). */
export const EXIT = {
  OK: 0,
  /** Runtime failure: the agent could not start (e.g. permission, port locked), or `status` found the link down. */
  FAILURE: 1,
  /** Bad configuration or bad command line; nothing touched the modem. */
  USAGE: 2,
  /** `status` could not reach the agent. */
  UNREACHABLE: 3,
  /**
   * run: cellkeep itself failed (an uncaught exception, an unhandled rejection,
   * the supervisor's loop threw). It was logged with the cause agent-crashed and
   * the agent stopped cleanly (hung up, interface removed) before exiting; the
   * service manager restarts it. 70 is EX_SOFTWARE of sysexits.h.
   */
  CRASH: 70,
} as const;

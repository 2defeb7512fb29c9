/**
 * The data link's traffic counters, as the status model shows them. They are
 * pulled when a snapshot is taken (not carried by events: they change with
 * every frame).
 */

import type { BearerCounters } from "../core/data-bearer.ts";

/**
 * The link counters under their contract name (the "ppp" block of /status and
 * cellkeep_ppp_* metrics): the running bearer's counters, summed since the agent
 * started by the data plane (Prometheus counters must not go backwards). One
 * shape, defined by the bearer seam in core/data-bearer.ts.
 */
export type PppCounters = BearerCounters;

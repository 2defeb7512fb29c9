/**
 * The data link's traffic counters, as the status model shows them. They are
 * pulled when a snapshot is taken (not carried by events: they change with
 * every frame).
 */

/**
 * PPP link counters. The agent fills them from the HDLC decoder/encoder and
 * the session. Totals since the agent started are preferred (Prometheus
 * counters must not go backwards; a reset is tolerated but shows as one).
 */
export interface PppCounters {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /**
   * Receive-side error counters by kind, camelCase keys, e.g. the HDLC
   * decoder's { badFcs, runts, oversize, aborted, malformed, noCarrier }.
   * Exposed as cellkeep_ppp_errors_total{kind="bad_fcs"} etc.
   */
  errors: Record<string, number>;
}

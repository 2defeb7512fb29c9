/**
 * The `usage` block of /status: data usage of the SIM in use in its billing
 * cycle, the caps and what they enforce, every SIM's cycle, and what health
 * probing costs. Pulled when a snapshot is taken (it changes with every
 * packet), like the link counters. ICCIDs are masked (src/core/mask.ts).
 * Field names are a contract: add, never rename.
 */
import type { ProbeTraffic, UsageCapAction } from "../core/agent-events.ts";

export interface UsageCycleView {
  start: string;
  end: string;
  bytesIn: number;
  bytesOut: number;
}

export interface UsageStatus {
  /** The SIM being counted, masked; null when the modem gave no ICCID. */
  sim: string | null;
  cycle: UsageCycleView & { day: number; timezone: string };
  bytesTotal: number;
  caps: Record<UsageCapAction, number | null>;
  /** Caps this cycle's traffic reached. */
  reached: UsageCapAction[];
  /** Caps a person lifted this cycle (POST /actions/usage-resume). */
  lifted: UsageCapAction[];
  /** What the caps do now: probes quiet, link held down. */
  enforcing: { quiet: boolean; stop: boolean };
  /** While the link is held down by the stop cap: when that ends by itself. */
  heldUntil: string | null;
  previousCycle: UsageCycleView | null;
  /** Every SIM seen, the one in use first (others as last counted). */
  sims: Array<{ sim: string | null; cycle: UsageCycleView }>;
  /** When the counts were last written to the usage file. */
  savedAt: string | null;
  probes: ProbeTraffic;
}

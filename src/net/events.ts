/** Events of the data plane. "link.interface" is the shared contract (src/core/agent-events.ts). */
import type { LinkInterfaceEvent } from "../core/agent-events.ts";
import type { EventBase } from "../core/events.ts";

export interface NetStaleCleanupEvent extends EventBase {
  type: "net.stale-cleanup";
  name: string;
  /** What was removed: "interface", "dns". */
  removed: string[];
}

export interface NetDefaultRouteEvent extends EventBase {
  type: "net.default-route";
  name: string;
  action: "added" | "kept-existing" | "replaced" | "failed" | "removed" | "restored";
  metric: number;
  detail?: string;
}

export type NetEvent = LinkInterfaceEvent | NetStaleCleanupEvent | NetDefaultRouteEvent;

/**
 * The supervisor's link states and the transitions between them, as a table.
 * The bring-up states follow the vendor procedure in order (DESIGN.md
 * "Bring-up procedure"); every bring-up state can fail into "waiting" (the
 * recovery policy decides what next) and anything can be stopped.
 */
import type { LinkState } from "../core/agent-events.ts";

export type { LinkState };

export const TRANSITIONS: Readonly<Record<LinkState, readonly LinkState[]>> = {
  starting: ["syncing", "recovering", "waiting", "stopped"],
  syncing: ["sim", "waiting", "stopped"],
  sim: ["registering", "waiting", "stopped"],
  registering: ["attaching", "waiting", "stopped"],
  attaching: ["dialing", "waiting", "stopped"],
  dialing: ["negotiating", "waiting", "stopped"],
  negotiating: ["connected", "waiting", "stopped"],
  // The link is known down the moment the hold ends: /status leaves "connected" before the hang-up runs.
  connected: ["hanging-up", "waiting", "stopped"],
  "hanging-up": ["waiting", "stopped"],
  waiting: ["recovering", "syncing", "stopped"],
  recovering: ["syncing", "waiting", "stopped"],
  stopped: ["starting"],
};

/** False for a transition the table does not allow (a bug: the supervisor logs it). */
export function isAllowedTransition(from: LinkState, to: LinkState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** States in which the data bearer owns the data port. */
export function inDataMode(s: LinkState): boolean {
  return s === "connected" || s === "negotiating";
}

/**
 * States in which the data call is the business at hand (negotiating it,
 * holding it, hanging it up): a request then waits for the call's end instead
 * of aborting commands in flight, and a redial request is taken when the call
 * is over. In the other (bring-up) states a request ends the current step.
 */
export function holdsCall(s: LinkState): boolean {
  return inDataMode(s) || s === "hanging-up";
}

/**
 * What a reload (SIGHUP, `systemctl reload`) does with a new config: which
 * sections changed, whether the link must be redialled for them, and when.
 * Pure: the agent applies the plan (swap the config object, tell the ladder,
 * redial).
 */
import type { Config } from "../config/schema.ts";

/**
 * Sections a bring-up reads: a change here is applied by redialling (a fixed
 * [radio] policy after radio-refused is retried at once). The
 * rest (log, http, health, link, recovery timings) takes effect when the agent
 * restarts.
 */
export const LINK_SECTIONS: ReadonlySet<keyof Config> = new Set<keyof Config>(["network", "auth", "ppp", "modem", "radio", "sim"]);

export interface ReloadPlan {
  /** Top-level sections whose values differ. */
  changed: Array<keyof Config>;
  /** New credentials, PIN, APN or PPP settings: the ladder's slow retry starts over. */
  linkChanged: boolean;
  /** Redial now: link settings changed and no network back-off runs. */
  redialNow: boolean;
  /** One line for the agent.reloaded event. */
  detail: string;
}

/**
 * `backoffUntil`: the end of a running network back-off (T3346/T3396), or null.
 * A back-off is waited out even for new settings: dialling through it is
 * futile, and a failure there would count toward a module reset, which a
 * back-off must never cause.
 */
export function planReload(prev: Config, next: Config, backoffUntil: number | null): ReloadPlan {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)] as Array<keyof Config>);
  const changed = [...keys].filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k]));
  const linkChanged = changed.some((k) => LINK_SECTIONS.has(k));
  const when = backoffUntil !== null ? `after the network's back-off ends at ${new Date(backoffUntil).toISOString()}` : "on the next bring-up or restart";
  return {
    changed,
    linkChanged,
    redialNow: linkChanged && backoffUntil === null,
    detail: changed.length ? `changed: ${changed.join(", ")} (applied ${when})` : "no changes",
  };
}

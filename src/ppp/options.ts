/**
 * Config → PppSessionOptions for the dialling (client) side. Keeps the
 * mapping of `[ppp]`, `[auth]` and `network.pdp_type` keys in one place.
 */
import type { Config } from "../config/schema.ts";
import { ncpsForPdpType, type PppSessionOptions } from "./session.ts";

export type PppConfigInput = Pick<Config, "network" | "auth" | "ppp">;

export function clientSessionOptions(cfg: PppConfigInput, random?: (n: number) => Uint8Array): PppSessionOptions {
  const p = cfg.ppp;
  const timers = { restartMs: p.restart_timer, maxConfigure: p.max_configure, maxFailure: p.max_failure, maxTerminate: p.max_terminate };
  return {
    role: "client",
    auth: { method: cfg.auth.method, username: cfg.auth.username, password: cfg.auth.password },
    mru: p.mru,
    lcp: timers,
    ncp: timers,
    echo: { intervalMs: p.echo_interval, failures: p.echo_failures, skipWhenBusy: p.echo_only_when_idle },
    ncps: ncpsForPdpType(cfg.network.pdp_type),
    ...(random ? { random } : {}),
  };
}

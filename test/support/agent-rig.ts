/**
 * What the harnesses that run the real agent share: test/agent/rig.ts (the
 * in-process virtual modem), test/e2e/harness.ts (the simulator on a pty),
 * the systemd and soak tests (a `cellkeep run` child, the bench driver).
 * Agent timings scaled to a modem time scale of a few hundredths, a config
 * as TOML text run through the real loader, and a recorder of a bus's events
 * that tests wait on instead of sleeping.
 */
import { loadConfigText, formatIssue } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import type { EventBase, EventBus } from "../../src/core/events.ts";
import type { SupervisorTiming } from "../../src/modem/supervisor.ts";

/**
 * Agent timings that match a modem time scale of a few hundredths (a 2 s
 * registration takes 40-100 ms). Rigs pick their own signal polling.
 */
export const SCALED_TIMING: Readonly<Partial<SupervisorTiming>> = {
  syncIntervalMs: 50,
  syncEscapeAfterMs: 1_000,
  simReadyTimeoutMs: 2_000,
  simPollMs: 100,
  registrationTimeoutMs: 4_000,
  registrationPollMs: 100,
  attachTimeoutMs: 4_000,
  attachPollMs: 100,
  negotiateTimeoutMs: 5_000,
  bearerStopTimeoutMs: 500,
  escapeGuardMs: 50,
  portReturnTimeoutMs: 4_000,
  portRetryMs: 100,
};

export type ConfigTable = "modem" | "network" | "auth" | "ppp" | "link" | "health" | "recovery" | "http" | "log";

export interface ConfigParts {
  port: string;
  stateFile: string;
  /** Extra TOML appended per table, e.g. { auth: 'method = "pap"' }. Tables are merged by name. */
  tables?: Partial<Record<ConfigTable, string>>;
  /** TOML after every table, for sub-tables such as [recovery.maintenance]. */
  tail?: string;
}

/**
 * A config as TOML text, so tests run the real loader. Defaults are fast:
 * echo every 1 s, PPP restart timer 200 ms, probes every 1 s, backoff 0/1/2 s.
 * A key given in `tables` replaces the default of the same name.
 */
export function configToml(p: ConfigParts): string {
  const t = p.tables ?? {};
  const table = (name: ConfigTable, defaults: Record<string, string>): string => {
    const extra = t[name] ?? "";
    const extraKeys = new Set([...extra.matchAll(/^\s*([a-z_]+)\s*=/gm)].map((m) => m[1]));
    const lines = Object.entries(defaults)
      // network.apns replaces the default network.apn (the two together are a config error).
      .filter(([k]) => !extraKeys.has(k) && !(k === "apn" && extraKeys.has("apns")))
      .map(([k, v]) => `${k} = ${v}`);
    return `[${name}]\n${lines.join("\n")}\n${extra}\n`;
  };
  return [
    table("modem", { port: JSON.stringify(p.port), control_port: '"none"', profile: '"auto"' }),
    table("network", { apn: '"internet.e2e"' }),
    table("auth", { method: '"auto"', username: '"e2e"', password: '"e2e-secret"' }),
    table("ppp", { echo_interval: '"1s"', echo_failures: "3", restart_timer: '"200ms"', max_configure: "5" }),
    table("link", { mode: '"none"' }),
    table("health", { every: '"1s"', timeout: '"500ms"', failures: "3", targets: '["8.8.8.8"]' }),
    table("recovery", { state_file: JSON.stringify(p.stateFile), backoff: '["0s", "1s", "2s"]', stable_after: '"30s"' }),
    table("http", { listen: '"127.0.0.1:18080"' }), // never bound: rigs use noHttp or the httpListen override
    table("log", { level: '"debug"', format: '"text"' }),
    ...(p.tail ? [p.tail] : []),
  ].join("\n");
}

/** The real loader on TOML text; throws with the issues and the text when it is invalid. */
export function parseConfig(toml: string, name = "test.toml"): Config {
  const r = loadConfigText(toml, name);
  if (!r.ok) throw new Error(`test config invalid:\n${r.issues.map((i) => formatIssue(name, i)).join("\n")}\n${toml}`);
  return r.config;
}

/** Every event of a bus from its start (history) on, with waiting helpers. */
export class EventRecorder<E extends EventBase = EventBase> {
  readonly all: E[] = [];
  private waiters = new Set<() => void>();
  private readonly off: () => void;
  constructor(bus: EventBus<E>) {
    this.all.push(...bus.recent());
    this.off = bus.on((e) => {
      this.all.push(e);
      for (const w of [...this.waiters]) w();
    });
  }

  /**
   * Resolves with the first event at index >= `from` that matches; rejects
   * with the event history after `timeoutMs` (a generous bound, not a speed check).
   */
  waitFor<T extends E>(pred: (e: E) => e is T, timeoutMs: number, from?: number): Promise<T>;
  waitFor(pred: (e: E) => boolean, timeoutMs: number, from?: number): Promise<E>;
  waitFor(pred: (e: E) => boolean, timeoutMs: number, from = 0): Promise<E> {
    return new Promise((resolve, reject) => {
      let i = from;
      const check = (): boolean => {
        for (; i < this.all.length; i++) {
          const e = this.all[i]!;
          if (pred(e)) {
            done();
            resolve(e);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching event within ${timeoutMs} ms; last events:\n${this.tail(40)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => void check();
      if (!check()) this.waiters.add(waiter);
    });
  }

  of<T extends E["type"]>(type: T): Array<Extract<E, { type: T }>> {
    return this.all.filter((e) => e.type === type) as Array<Extract<E, { type: T }>>;
  }

  tail(n: number): string {
    return this.all
      .slice(-n)
      .map((e) => JSON.stringify(e))
      .join("\n");
  }

  get length(): number {
    return this.all.length;
  }

  stop(): void {
    this.off();
    this.waiters.clear();
  }
}

/**
 * Polls `cond` every 20 ms until it holds or `ms` passed; returns its last
 * value. For conditions with no event to wait on (a bus's ring, a counter).
 */
export async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(20);
  return cond();
}

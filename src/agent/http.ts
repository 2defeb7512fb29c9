/**
 * The local HTTP endpoint: a view of the status model plus the operator's
 * actions (guarded by the recovery ladder). Refuses nothing itself; the
 * exposure warning only says when the listen address reaches past loopback.
 */
import type { Config } from "../config/schema.ts";
import type { Clock } from "../core/clock.ts";
import type { DataBearer } from "../core/data-bearer.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import type { RecoveryLadder } from "../health/ladder.ts";
import { createHttpApp, startHttpServer, type HttpApp, type HttpServerHandle } from "../http/index.ts";
import { listenExposureWarning } from "../http/host-check.ts";
import type { ModemSupervisor } from "../modem/supervisor.ts";
import type { StatusModel } from "../status/model.ts";
import type { OperatorActions } from "../status/actions.ts";
import { ladderGuardedActions } from "./actions.ts";

export interface HttpWiringDeps {
  config: Config;
  /** Overrides http.listen ("127.0.0.1:0" picks a free port). */
  listen?: string;
  /** Bearer token for the actions, read from http.token_file; null: actions refused. */
  token: string | null;
  events: EventBus<EventBase>;
  clock: Clock;
  status: StatusModel;
  supervisor: ModemSupervisor<DataBearer>;
  ladder: RecoveryLadder;
  log: Logger;
  /** POST /actions/usage-resume (src/agent/usage.ts); absent: the route answers 503. */
  resumeUsage?: OperatorActions["resumeUsage"];
}

export interface HttpWiring {
  app: HttpApp;
  server: HttpServerHandle;
  stop(): Promise<void>;
}

export function startHttp(d: HttpWiringDeps): HttpWiring {
  const log = d.log.child("http");
  const listen = d.listen ?? d.config.http.listen;
  const exposure = listenExposureWarning(listen);
  if (exposure) log.warn(exposure);
  const app = createHttpApp({
    events: d.events,
    clock: d.clock,
    status: d.status,
    actions: { ...ladderGuardedActions(d.supervisor, d.ladder, d.clock), ...(d.resumeUsage ? { resumeUsage: d.resumeUsage } : {}) },
    token: d.token,
    logger: log,
    listen,
    allowedHosts: d.config.http.allowed_hosts,
  });
  let server: HttpServerHandle;
  try {
    server = startHttpServer(app, listen);
  } catch (err) {
    app.close();
    throw err;
  }
  return {
    app,
    server,
    async stop() {
      await server.stop();
      app.close();
    },
  };
}

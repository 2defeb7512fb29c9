/** Public API of the HTTP area (see README "Status endpoint"). */
export { createHttpApp, type HttpApp, type HttpAppDeps, MAX_BODY_BYTES } from "./app.ts";
export { startHttpServer, type HttpServerHandle } from "./server.ts";
export { statusCommand, formatStatus, DEFAULT_STATUS_URL } from "./status-command.ts";
export { parseTokenFile, checkBearer, tokensEqual, readTokenFile, tokenFromConfig, MIN_TOKEN_LENGTH } from "./auth.ts";
export { allowedHosts, hostAllowed, listenExposureWarning } from "./host-check.ts";
export { StatusView, type StatusSnapshot, type StatusViewOptions } from "./status-view.ts";
export { renderMetrics } from "./metrics.ts";
export { maskId } from "../core/mask.ts";
export type { PppCounters, ActionResult, ActionOutcome, HttpActions, HttpDeps } from "./types.ts";

/** Public API of the HTTP area (see README "Status endpoint"). */
export { createHttpApp, type HttpApp, type HttpAppDeps, MAX_BODY_BYTES } from "./app.ts";
export { startHttpServer, type HttpServerHandle } from "./server.ts";
export { parseTokenFile, checkBearer, tokensEqual, readTokenFile, tokenFromConfig, MIN_TOKEN_LENGTH } from "./auth.ts";
export { allowedHosts, hostAllowed, listenExposureWarning } from "./host-check.ts";
export { renderMetrics } from "./metrics.ts";
export { maskId } from "../core/mask.ts";
export type { HttpDeps } from "./types.ts";

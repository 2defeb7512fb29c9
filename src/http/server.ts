/**
 * Bun.serve adapter for the HTTP app: TCP ("host:port", "[v6]:port") or a
 * unix socket path ("/run/cellkeep.sock" or "unix:/path"), parsed by the
 * config's parseListen. A stale socket file from a previous run is replaced;
 * the file is removed again on stop.
 */
import { lstatSync, unlinkSync } from "node:fs";
import { CellkeepError } from "../core/cause.ts";
import { parseListen } from "../config/schema.ts";
import { MAX_BODY_BYTES, type HttpApp } from "./app.ts";

export interface HttpServerHandle {
  /** "http://127.0.0.1:8080" or "unix:/run/cellkeep.sock". */
  url: string;
  /** The TCP port actually bound (useful with port 0 in tests); null for a unix socket. */
  port: number | null;
  stop(): Promise<void>;
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to remove
  }
}

/** "host:0" (any free port) is not a valid config value but is what tests and benchmarks need. */
function parseEphemeral(text: string): { kind: "tcp"; host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):0$/.exec(text);
  return m ? { kind: "tcp", host: m[1] ?? m[2]!, port: 0 } : null;
}

export function startHttpServer(app: HttpApp | { fetch: (req: Request, server?: unknown) => Response | Promise<Response> }, listen: string): HttpServerHandle {
  const where = parseListen(listen) ?? parseEphemeral(listen);
  if (!where) throw new CellkeepError("config-invalid", `http.listen: cannot parse "${listen}"`);
  const common = {
    fetch: (req: Request, server: unknown) => app.fetch(req, server),
    // Actions carry no body; Bun rejects anything larger before the app sees it.
    maxRequestBodySize: MAX_BODY_BYTES * 4,
    development: false,
  };
  let server: ReturnType<typeof Bun.serve>;
  let url: string;
  try {
    if (where.kind === "unix") {
      removeStaleSocket(where.path);
      server = Bun.serve({ ...common, unix: where.path });
      url = `unix:${where.path}`;
    } else {
      // idleTimeout (s): SSE keep-alives (8 s) arrive well within it. Unix sockets keep Bun's default (10 s).
      server = Bun.serve({ ...common, hostname: where.host, port: where.port, idleTimeout: 60 });
      const host = where.host.includes(":") ? `[${where.host}]` : where.host;
      url = `http://${host}:${server.port}`;
    }
  } catch (err) {
    // Port in use, address not on this host, no permission for the socket path: a named
    // cause, so `cellkeep run` exits 1 with a hint instead of an internal error.
    throw new CellkeepError("http-listen-failed", `${listen}: ${(err as Error).message}`);
  }
  let stopped = false;
  return {
    url,
    port: where.kind === "tcp" ? (server.port ?? null) : null,
    async stop() {
      if (stopped) return;
      stopped = true;
      if ("close" in app && typeof app.close === "function") app.close();
      await server.stop(true);
      if (where.kind === "unix") removeStaleSocket(where.path);
    },
  };
}

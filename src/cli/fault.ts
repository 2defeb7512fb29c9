/**
 * Process-level faults: an uncaught exception or an unhandled rejection.
 * src/main.ts installs the process listeners once. `cellkeep run` takes the
 * faults over while its agent runs (log with a cause, stop cleanly, exit 70:
 * src/cli/run.ts); with nobody taking them, main.ts's fallback prints one
 * redacted line and exits 70 at once.
 */
export type FaultOrigin = "uncaught exception" | "unhandled rejection";
export type FaultHandler = (err: unknown, origin: FaultOrigin) => void;

let taker: FaultHandler | null = null;

/** Route process faults to `fn` until the returned function is called. */
export function takeFaults(fn: FaultHandler): () => void {
  taker = fn;
  return () => {
    if (taker === fn) taker = null;
  };
}

/** Install the process listeners (once per process); `fallback` handles faults nobody took. */
export function installFaultHandlers(fallback: FaultHandler): void {
  const dispatch = (err: unknown, origin: FaultOrigin) => {
    const t = taker;
    if (t) {
      try {
        t(err, origin);
        return;
      } catch {
        // the taker itself failed: the fallback still ends the process
      }
    }
    fallback(err, origin);
  };
  process.on("uncaughtException", (err) => dispatch(err, "uncaught exception"));
  process.on("unhandledRejection", (reason) => dispatch(reason, "unhandled rejection"));
}

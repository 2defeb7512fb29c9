/**
 * How a bring-up step ends when it cannot go on: a StepFailure with a named
 * cause (DESIGN.md rule 5), or a NetworkBackoff when the network told us to
 * wait, which the supervisor waits out instead of resetting.
 */
import { cause, CellkeepError, type Cause } from "../core/cause.ts";
import type { Logger } from "../core/log.ts";

/** A step failed with a named cause. */
export class StepFailure extends CellkeepError {}

/** The network imposed a back-off: wait, don't reset. */
export class NetworkBackoff extends CellkeepError {
  constructor(readonly seconds: number, detail: string) {
    super("network-backoff", detail);
  }
}

/** The cause an error carries; anything that is not ours is a bug, logged and named init-failed. */
export function causeOf(err: unknown, log: Logger): Cause {
  if (err instanceof CellkeepError) return err.causeInfo;
  log.error("unexpected error in bring-up", { error: String(err) });
  return cause("init-failed", String(err));
}

/**
 * A bearer whose carrier is also reported out of band: with CMUX the module
 * signals DCD per DLCI in MSC messages (27.010 §5.4.6.3.7), and a DCD drop
 * on the data DLCI is the carrier gone, whether or not "NO CARRIER" ever
 * reaches the AT channel. This wraps any bearer factory: a drop while the
 * bearer runs ends it with carrier-lost (once), as NO CARRIER would.
 * The watch is structural (no import of cmux/): anything that reports a
 * carrier drop can feed it.
 */
import { cause, type Cause } from "../core/cause.ts";
import type { BearerHooks, CreateBearer, DataBearer } from "../core/data-bearer.ts";

export interface CarrierWatch {
  /** Calls `fn` when the carrier of this call drops; returns the unsubscribe. */
  onCarrierLost(fn: (detail: string) => void): () => void;
}

export function withCarrierWatch<B extends DataBearer>(create: CreateBearer<B>, watch: () => CarrierWatch | null): CreateBearer<B> {
  return (pipe, hooks) => {
    let ended = false;
    let off: () => void = () => {};
    const guarded: BearerHooks = {
      up: (info) => {
        if (!ended) hooks.up(info);
      },
      down: (c: Cause | null) => {
        if (ended) return;
        ended = true;
        off();
        hooks.down(c);
      },
    };
    const bearer = create(pipe, guarded);
    const w = watch();
    if (w) off = w.onCarrierLost((detail) => guarded.down(cause("carrier-lost", detail)));
    return bearer;
  };
}

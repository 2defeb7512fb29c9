/**
 * A service that listens to the modem's URCs (network time, SMS control):
 * started with the modem.urc events of the bus forwarded to it, stopped with
 * the subscription. Either port's URCs reach the bus as modem.urc events.
 */
import type { EventBase, EventBus } from "../core/events.ts";

export interface UrcService {
  onUrc(line: string): void;
  start(): void;
  stop(): void;
}

export function startUrcService<S extends UrcService>(events: EventBus<EventBase>, service: S): { service: S; stop(): void } {
  const off = events.on((e) => {
    if (e.type === "modem.urc") service.onUrc(String((e as EventBase & { line?: unknown }).line ?? ""));
  });
  service.start();
  return {
    service,
    stop() {
      off();
      service.stop();
    },
  };
}

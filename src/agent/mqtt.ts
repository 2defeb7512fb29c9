/**
 * Fleet telemetry: a view like HTTP. The publisher sees the status document
 * (the one status model), the event stream and the operator actions with
 * their refusal rules, nothing else.
 */
import type { Config } from "../config/schema.ts";
import type { Scheduler } from "../core/clock.ts";
import type { EventBase, EventBus } from "../core/events.ts";
import type { Logger } from "../core/log.ts";
import { MqttPublisher } from "../mqtt/publisher.ts";
import { mqttSettings } from "../mqtt/settings.ts";
import type { OperatorActions } from "../status/actions.ts";
import type { StatusModel } from "../status/model.ts";

export interface MqttWiringDeps {
  config: Config;
  scheduler: Scheduler;
  log: Logger;
  status: StatusModel;
  events: EventBus<EventBase>;
  actions: OperatorActions;
}

/** Starts the publisher when [mqtt] is configured; returns its stop, or null. */
export function startMqtt(d: MqttWiringDeps): (() => Promise<void>) | null {
  const settings = mqttSettings(d.config);
  if (!settings) return null;
  const publisher = new MqttPublisher({
    settings,
    scheduler: d.scheduler,
    log: d.log.child("mqtt"),
    status: () => d.status.snapshot(),
    events: d.events,
    actions: d.actions,
  });
  publisher.start();
  return () => publisher.stop();
}

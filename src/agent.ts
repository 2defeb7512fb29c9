/**
 * The composition root: the only module that knows all others (DESIGN.md).
 * Wiring only: it builds the event bus and the status model, the recovery
 * ladder with its state file, the modem side (src/agent/modem.ts), the data
 * plane, health and maintenance (src/agent/health.ts), the views (HTTP,
 * systemd) and tears them down in reverse order. Policy lives with its owner:
 * the ladder decides recovery and back-off, src/agent/reload.ts what a reload
 * changes, src/agent/liveness.ts when the agent counts as alive.
 */
import type { Config } from "./config/schema.ts";
import { cause, type Cause } from "./core/cause.ts";
import { RealScheduler, type Scheduler } from "./core/clock.ts";
import { EventBus, type EventBase } from "./core/events.ts";
import type { BytePipe } from "./core/pipe.ts";
import type { DataBearer } from "./core/data-bearer.ts";
import { redact, type Logger } from "./core/log.ts";
import type { LinkState } from "./core/agent-events.ts";
import { VERSION } from "./version.ts";
import { attachEventLog } from "./agent/event-log.ts";
import { serialPortOpeners } from "./agent/ports.ts";
import { DataPlane } from "./agent/dataplane.ts";
import { wireModem } from "./agent/modem.ts";
import { wireHealth } from "./agent/health.ts";
import { startHttp, type HttpWiring } from "./agent/http.ts";
import { startWatchdog } from "./agent/watchdog.ts";
import { startMqtt } from "./agent/mqtt.ts";
import { ladderGuardedActions } from "./agent/actions.ts";
import { UsageMeter } from "./agent/usage.ts";
import { planReload } from "./agent/reload.ts";
import { wireSms } from "./agent/sms.ts";
import { wireNetworkTime } from "./agent/time.ts";
import { Teardown } from "./agent/teardown.ts";
import type { ModemSupervisor, SupervisorTiming } from "./modem/supervisor.ts";
import { openRecoveryFromConfig } from "./health/persistent-ladder.ts";
import type { CronOptions } from "./health/schedule.ts";
import { tokenFromConfig } from "./http/auth.ts";
import { SdNotifier, watchdogIntervalMs, type Notifier } from "./systemd/notify.ts";
import { SystemdStatus } from "./systemd/status.ts";
import { StatusModel } from "./status/model.ts";
import type { StatusSnapshot } from "./status/status-view.ts";

/** Seams for the demo and tests: a different port, clock or listen address. */
export interface AgentOverrides {
  scheduler?: Scheduler;
  openPort?: () => Promise<BytePipe>;
  openControlPort?: () => Promise<BytePipe | null>;
  /** Replaces http.listen ("127.0.0.1:0" picks a free port). */
  httpListen?: string;
  /** Skip the HTTP server entirely. */
  noHttp?: boolean;
  notifier?: Notifier;
  timing?: Partial<SupervisorTiming>;
  cron?: CronOptions;
  /** tun mode: configure the interface inside this network namespace (tests). */
  netns?: string;
  /** Replaces clock_settime for time.set_system_clock (tests never step this machine's clock). */
  setClock?: (wallMs: number) => number;
}

export interface AgentOptions extends AgentOverrides {
  log: Logger;
  configFile?: string;
}

export interface Agent {
  readonly events: EventBus<EventBase>;
  readonly supervisor: ModemSupervisor;
  readonly dataPlane: DataPlane;
  /** The HTTP server's base URL, or null without HTTP. */
  readonly httpUrl: string | null;
  /** Resolves once the agent has fully stopped. */
  readonly stopped: Promise<void>;
  state(): LinkState;
  status(): StatusSnapshot;
  stop(reason?: string): Promise<void>;
  /** Set once the agent crashed (cause agent-crashed); `cellkeep run` then exits 70. */
  readonly crashCause: Cause | null;
  /**
   * cellkeep itself failed (an uncaught exception or unhandled rejection, or the
   * supervisor's loop threw): log it with the cause agent-crashed (or `known`,
   * the cause the supervisor already named) and stop cleanly (hang up, remove
   * the interface). Resolves once stopped.
   */
  crash(err: unknown, origin: string, known?: Cause): Promise<void>;
  /** Apply a new config. Parts that need a restart of the link are applied on the next bring-up. */
  reload(config: Config): Promise<void>;
}

export async function startAgent(initialConfig: Config, opts: AgentOptions): Promise<Agent> {
  const scheduler = opts.scheduler ?? new RealScheduler();
  const log = opts.log;
  const events = new EventBus<EventBase>(2000);
  const detachLog = attachEventLog(events, log);
  const emit = (e: EventBase) => events.emit(e);
  const startedAt = scheduler.now();
  const teardown = new Teardown();
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  // Replaced whole on reload, never mutated: the parts read at start keep theirs, the modem side
  // reads the one in force at each bring-up (src/agent/modem.ts).
  let config = initialConfig;

  try {
    // First: a short or unreadable token file is bad config, refused before the TUN device or the modem is touched.
    const httpToken = opts.noHttp ? null : tokenFromConfig(config);
    const notifier = opts.notifier ?? SdNotifier.fromEnv(process.env, log.child("systemd"));
    // The one status model: follows the bus from the first event; HTTP, STATUS= and status() read it.
    const statusModel = new StatusModel({
      clock: scheduler,
      version: VERSION,
      startedAt,
      counters: () => dataPlane.counters(),
      usage: () => usage.status(scheduler.now()),
      logger: log.child("status"),
    });
    teardown.add(statusModel.follow(events));
    const systemdStatus = new SystemdStatus(notifier, statusModel.view);

    const recovery = openRecoveryFromConfig(config, scheduler, emit);
    teardown.add(() => recovery.policy.stop());
    // Data usage per SIM and cycle: its stop cap wraps the ladder's policy and gates the dial.
    const usage = new UsageMeter(config, {
      scheduler,
      emit,
      log,
      policy: recovery.policy,
      markPlanned: (reason) => recovery.ladder.markNextForced("redial", reason),
      ...(opts.cron ? { cron: opts.cron } : {}),
    });

    const dataPlane = new DataPlane(config, { scheduler, log: log.child("net"), emit, ...(opts.netns ? { netns: opts.netns } : {}) });
    await dataPlane.open();
    teardown.add(() => dataPlane.close(null));

    const ports =
      opts.openPort !== undefined
        ? { openPort: opts.openPort, openControlPort: opts.openControlPort ?? (async () => null) }
        : serialPortOpeners(config, { clock: scheduler, emit, log: log.child("serial") });
    const { supervisor, commands } = wireModem({
      config: () => config,
      scheduler,
      log,
      emit,
      ports,
      recovery: { policy: usage.policy, ladder: recovery.ladder },
      holdDown: usage.holdDown,
      ...(opts.timing ? { timing: opts.timing } : {}),
    });
    teardown.add(() => commands.stop());
    teardown.add(usage.attach(supervisor, dataPlane, events));

    const health = wireHealth({ config, scheduler, log, emit, supervisor, dataPlane, ladder: recovery.ladder, quiet: usage.quiet, ...(opts.cron ? { cron: opts.cron } : {}) });
    teardown.add(() => health.stop());

    // One set of operator actions for every view that offers them (HTTP, MQTT), with the ladder's refusal rules.
    const actions = { ...ladderGuardedActions(supervisor, recovery.ladder, scheduler), resumeUsage: () => usage.resume() };
    // Out of band (issue 17): the network's time and SMS control, on the supervisor's side channel.
    const networkTime = wireNetworkTime({ config, scheduler, supervisor, events, log, ...(opts.setClock ? { setClock: opts.setClock } : {}) });
    teardown.add(() => networkTime.stop());
    const sms = wireSms({ config, scheduler, supervisor, recovery, status: statusModel, events, runCommand: (c) => commands.run(c), log });
    if (sms) teardown.add(() => sms.stop());

    let http: HttpWiring | null = null;
    if (!opts.noHttp) {
      http = startHttp({
        config,
        ...(opts.httpListen ? { listen: opts.httpListen } : {}),
        token: httpToken,
        events,
        clock: scheduler,
        status: statusModel,
        actions,
        log,
      });
      const h = http;
      teardown.add(() => h.stop());
    }
    // Fleet telemetry (when [mqtt] is configured): a view like HTTP.
    const stopMqtt = startMqtt({ config, scheduler, log, status: statusModel, events, actions });
    if (stopMqtt) teardown.add(stopMqtt);

    emit({ type: "agent.started", at: scheduler.now(), version: VERSION, detail: http ? `status on ${http.server.url}` : undefined } as EventBase);
    supervisor.start();
    health.start();

    // READY=1 first: systemd starts counting WatchdogSec from readiness.
    notifier.ready(systemdStatus.current);
    const wdInterval = watchdogIntervalMs();
    if (wdInterval !== null) {
      teardown.add(startWatchdog({ intervalMs: wdInterval, scheduler, notifier, events, supervisor, ladder: recovery.ladder, log, heldUntil: (now) => usage.heldUntil(now) }));
    }
    teardown.add(() => {
      notifier.stopping("shutting down");
      notifier.close();
    });

    let stopping: Promise<void> | null = null;
    let crashCause: Cause | null = null;
    // The supervisor's loop threw: it has hung up and closed its ports; the rest of the agent stops too.
    teardown.add(supervisor.onCrash((err, c) => void agent.crash(err, "supervisor", c)));
    const agent: Agent = {
      events,
      supervisor,
      dataPlane,
      httpUrl: http?.server.url ?? null,
      stopped,
      state: () => supervisor.state,
      status: () => statusModel.snapshot(),
      get crashCause() {
        return crashCause;
      },
      crash(err, origin, known) {
        const text = redact(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
        if (crashCause === null) {
          crashCause = known ?? cause("agent-crashed", `${origin}: ${text}`);
          log.error(`crashed: ${crashCause.code} (${crashCause.detail}); hint: ${crashCause.hint}`, err instanceof Error && err.stack ? { stack: err.stack } : undefined);
        } else {
          log.error(`another error while stopping after the crash (${origin}): ${text}`);
        }
        return agent.stop(`crashed: ${crashCause.detail ?? crashCause.code}`);
      },
      stop(reason = "stop requested") {
        stopping ??= (async () => {
          emit({ type: "agent.stopping", at: scheduler.now(), version: VERSION, detail: reason } as EventBase);
          health.stop();
          // A power-cycle or reboot command still running is killed with its process group: the
          // supervisor's recovery action then ends at once instead of holding up the shutdown.
          const supervisorStopped = supervisor.stop();
          await commands.stop();
          await supervisorStopped;
          await teardown.run(log);
          detachLog();
          resolveStopped();
        })();
        return stopping;
      },
      async reload(next) {
        const plan = planReload(config, next, recovery.ladder.networkBackoffUntil(scheduler.now()));
        emit({ type: "agent.reloaded", at: scheduler.now(), version: VERSION, detail: plan.detail } as EventBase);
        config = next;
        supervisor.useConfig(next);
        if (plan.linkChanged) {
          // New credentials, PIN or APN: a fault only a person could fix may be fixed now, so the
          // slow retry starts over and the next try is now.
          recovery.policy.onConfigChanged(scheduler.now());
          if (plan.redialNow) supervisor.requestRedial();
        }
      },
    };
    return agent;
  } catch (err) {
    await teardown.run(log);
    detachLog();
    resolveStopped();
    throw err;
  }
}

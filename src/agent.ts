/**
 * The composition root: the only module that knows all others (DESIGN.md).
 * It builds the event bus and its views (log, HTTP, systemd), the recovery
 * ladder with its state file, the modem supervisor with the PPP link factory,
 * the data plane, health monitoring and the maintenance window, and tears
 * them down in reverse order.
 */
import type { Config } from "./config/schema.ts";
import { cause, CellkeepError, type Cause } from "./core/cause.ts";
import { RealScheduler, type Scheduler } from "./core/clock.ts";
import { EventBus, type EventBase } from "./core/events.ts";
import type { BytePipe } from "./core/pipe.ts";
import { redact, type Logger } from "./core/log.ts";
import type { LinkState } from "./core/agent-events.ts";
import { VERSION } from "./version.ts";
import { attachEventLog } from "./agent/event-log.ts";
import { serialPortOpeners } from "./agent/ports.ts";
import { DataPlane } from "./agent/dataplane.ts";
import { ladderGuardedActions } from "./agent/actions.ts";
import { isAgentAlive } from "./agent/liveness.ts";
import { ModemSupervisor, type SupervisorTiming } from "./modem/supervisor.ts";
import { pppLinkFactory, type PppLinkHandle } from "./modem/ppp-link.ts";
import { openRecoveryFromConfig } from "./health/persistent-ladder.ts";
import { createHealthMonitor, createMaintenanceWindow } from "./health/setup.ts";
import type { HealthMonitor } from "./health/monitor.ts";
import type { MaintenanceWindow } from "./health/maintenance.ts";
import type { CronOptions } from "./health/schedule.ts";
import { createHttpApp, startHttpServer, type HttpApp, type HttpServerHandle, type StatusSnapshot } from "./http/index.ts";
import { tokenFromConfig } from "./http/auth.ts";
import { listenExposureWarning } from "./http/host-check.ts";
import { SdNotifier, SystemdWatchdog, watchdogIntervalMs, type Notifier } from "./systemd/notify.ts";
import { SystemdStatus } from "./systemd/status.ts";
import { registrationStatus, isRegistered } from "./modem/parse.ts";
import { CommandRunner } from "./sys/command.ts";
import { MqttPublisher } from "./mqtt/publisher.ts";
import { mqttSettings } from "./mqtt/settings.ts";

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
}

export interface AgentOptions extends AgentOverrides {
  log: Logger;
  configFile?: string;
}

export interface Agent {
  readonly events: EventBus<EventBase>;
  readonly supervisor: ModemSupervisor<PppLinkHandle>;
  readonly dataPlane: DataPlane;
  /** The HTTP server's base URL, or null without HTTP. */
  readonly httpUrl: string | null;
  /** Resolves once the agent has fully stopped. */
  readonly stopped: Promise<void>;
  state(): LinkState;
  status(): StatusSnapshot | null;
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

export async function startAgent(config: Config, opts: AgentOptions): Promise<Agent> {
  const scheduler = opts.scheduler ?? new RealScheduler();
  const log = opts.log;
  const events = new EventBus<EventBase>(2000);
  const detachLog = attachEventLog(events, log);
  const emit = (e: EventBase) => events.emit(e);
  const startedAt = scheduler.now();
  const teardown: Array<() => Promise<void> | void> = [];
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  try {
    // First: a short or unreadable token file is bad config, refused before the TUN device or the modem is touched.
    const httpToken = opts.noHttp ? null : tokenFromConfig(config);
    const notifier = opts.notifier ?? SdNotifier.fromEnv(process.env, log.child("systemd"));
    const systemdStatus = new SystemdStatus(notifier);
    teardown.push(events.on((e) => systemdStatus.observe(e)));

    const recovery = openRecoveryFromConfig(config, scheduler, emit);
    teardown.push(() => recovery.policy.stop());

    const dataPlane = new DataPlane(config, { scheduler, log: log.child("net"), emit, ...(opts.netns ? { netns: opts.netns } : {}) });
    await dataPlane.open();
    teardown.push(() => dataPlane.close(null));

    const ports =
      opts.openPort !== undefined
        ? { openPort: opts.openPort, openControlPort: opts.openControlPort ?? (async () => null) }
        : serialPortOpeners(config, { clock: scheduler, emit, log: log.child("serial") });

    // recovery.power_cycle / reboot_command: bounded by recovery.command_timeout, each in its own
    // process group, killed with its group on timeout and on stop (src/sys/command.ts).
    const commands = new CommandRunner({ timeoutMs: config.recovery.command_timeout, scheduler, log: log.child("recovery") });
    teardown.push(() => commands.stop());

    const supervisor = new ModemSupervisor<PppLinkHandle>({
      config,
      scheduler,
      openPort: ports.openPort,
      openControlPort: ports.openControlPort,
      policy: recovery.policy,
      emit,
      log: log.child("modem"),
      createPppLink: pppLinkFactory({ config, scheduler, onEvent: emit }),
      runCommand: (command) => commands.run(command, config.recovery.command_timeout),
      // A PIN the SIM rejected is remembered in the state file: never sent again, also after a restart.
      pinMemory: {
        rejected: () => recovery.ladder.rejectedPin(),
        remember: (p) => recovery.ladder.rememberRejectedPin(p, scheduler.now()),
      },
      ...(opts.timing ? { timing: opts.timing } : {}),
    });

    supervisor.onLinkUp((info) => {
      const handle = supervisor.pppLink;
      monitor.setLinkUp(true);
      // The first probe round runs as soon as the data plane is ready: a person watching the
      // bring-up sees the link carry traffic, not just negotiate.
      void (handle ? dataPlane.linkUp(handle.link, info) : Promise.resolve()).then(() => {
        if (supervisor.state === "connected" || supervisor.state === "negotiating") void monitor.runRound();
      });
    });
    supervisor.onLinkDown((c: Cause | null) => {
      monitor.setLinkUp(false);
      void dataPlane.linkDown(c);
    });

    const monitor: HealthMonitor = createHealthMonitor(
      config,
      {
        icmp: dataPlane.prober,
        lcpStatus: () => supervisor.pppLink?.session.status().echo ?? null,
        modemCheck: async () => {
          const r = await supervisor.pollModem();
          if (r.stat === null) return null; // cannot ask now (no control port while connected)
          return { registered: isRegistered(r.stat), status: registrationStatus(r.stat), signalDbm: r.rssi };
        },
        dnsServers: () => dataPlane.dnsServers,
        localAddress: () => dataPlane.localAddress,
        scheduler,
      },
      {
        scheduler,
        onUnhealthy: (c) => supervisor.linkLost(c),
        emit,
        log: log.child("health"),
        ...(opts.cron ? { cron: opts.cron } : {}),
      },
    );
    teardown.push(() => monitor.stop());

    const maintenance: MaintenanceWindow | null = createMaintenanceWindow(config, {
      scheduler,
      emit,
      ...(opts.cron ? { cron: opts.cron } : {}),
      onMaintenance: (rung) => {
        // Not during a network back-off (T3346/T3396): a module restart only restarts the network's
        // timer (TS 24.301 §6.5.1.4) and a dial through it is futile; the next window comes soon enough.
        const backoffUntil = recovery.ladder.networkBackoffUntil(scheduler.now());
        if (backoffUntil !== null) {
          log.child("recovery").warn(`maintenance ${rung} skipped: the network's back-off runs until ${new Date(backoffUntil).toISOString()}`);
          return;
        }
        recovery.ladder.markNextForced(rung, "maintenance window");
        if (rung === "redial") supervisor.requestRedial();
        else supervisor.requestModemReset();
      },
    });
    if (maintenance) teardown.push(() => maintenance.stop());

    let app: HttpApp | null = null;
    let server: HttpServerHandle | null = null;
    if (!opts.noHttp) {
      const listen = opts.httpListen ?? config.http.listen;
      const exposure = listenExposureWarning(listen);
      if (exposure) log.child("http").warn(exposure);
      app = createHttpApp({
        events,
        clock: scheduler,
        version: VERSION,
        startedAt,
        counters: () => dataPlane.counters(),
        actions: ladderGuardedActions(supervisor, recovery.ladder, scheduler),
        token: httpToken,
        logger: log.child("http"),
        listen,
        allowedHosts: config.http.allowed_hosts,
      });
      teardown.push(() => app?.close());
      server = startHttpServer(app, listen);
      teardown.push(() => server?.stop());
    }

    // Fleet telemetry: a view like HTTP; sees the status document, the event stream and the guarded actions only.
    const mqtt = mqttSettings(config);
    if (mqtt) {
      const publisher = new MqttPublisher({
        settings: mqtt,
        scheduler,
        log: log.child("mqtt"),
        status: () => app?.view.snapshot(scheduler.now(), { version: VERSION, startedAt, counters: dataPlane.counters() }) ?? null,
        events,
        actions: ladderGuardedActions(supervisor, recovery.ladder, scheduler),
      });
      publisher.start();
      teardown.push(() => publisher.stop());
    }

    emit({ type: "agent.started", at: scheduler.now(), version: VERSION, detail: server ? `status on ${server.url}` : undefined } as EventBase);
    supervisor.start();
    monitor.start();
    maintenance?.start();

    // READY=1 first: systemd starts counting WatchdogSec from readiness.
    notifier.ready(systemdStatus.current);
    const wdInterval = watchdogIntervalMs();
    if (wdInterval !== null) {
      // Progress is judged per state (src/agent/liveness.ts); the tick itself proves the event loop runs.
      let stateSince = scheduler.now();
      teardown.push(events.on((e) => {
        if (e.type === "modem.state") stateSince = e.at;
      }));
      let lastBytesIn = -1;
      let lastRxAt: number | null = null;
      const watchdog = new SystemdWatchdog({
        scheduler,
        notifier,
        intervalMs: wdInterval,
        isAlive: (now) => {
          const bytesIn = supervisor.pppLink?.link.counters().bytesIn ?? null;
          if (bytesIn !== null && bytesIn !== lastBytesIn) {
            lastBytesIn = bytesIn;
            lastRxAt = now;
          }
          return isAgentAlive(
            {
              state: supervisor.state,
              stateSince,
              lastRxAt,
              waitingUntil: recovery.ladder.pending()?.notBefore ?? null,
              echoIntervalMs: config.ppp.echo_interval,
              echoFailures: config.ppp.echo_failures,
            },
            now,
          );
        },
        log: log.child("systemd"),
      });
      watchdog.start();
      teardown.push(() => watchdog.stop());
    }
    teardown.push(() => {
      notifier.stopping("shutting down");
      notifier.close();
    });

    let stopping: Promise<void> | null = null;
    let crashCause: Cause | null = null;
    // The supervisor's loop threw: it has hung up and closed its ports; the rest of the agent stops too.
    teardown.push(supervisor.onCrash((err, c) => void agent.crash(err, "supervisor", c)));
    const agent: Agent = {
      events,
      supervisor,
      dataPlane,
      httpUrl: server?.url ?? null,
      stopped,
      state: () => supervisor.state,
      status: () => app?.view.snapshot(scheduler.now(), { version: VERSION, startedAt, counters: dataPlane.counters() }) ?? null,
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
          monitor.stop();
          maintenance?.stop();
          // A power-cycle or reboot command still running is killed with its process group: the
          // supervisor's recovery action then ends at once instead of holding up the shutdown.
          const supervisorStopped = supervisor.stop();
          await commands.stop();
          await supervisorStopped;
          await runTeardown(teardown, log);
          detachLog();
          resolveStopped();
        })();
        return stopping;
      },
      async reload(next) {
        // The log level/format and probe settings take effect on restart; say what changed.
        const changed = (Object.keys(next) as Array<keyof Config>).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]));
        // A network back-off (T3346/T3396) is waited out even so: dialling through it is futile and a
        // failure there would count toward a module reset, which a back-off must never cause.
        const backoffUntil = recovery.ladder.networkBackoffUntil(scheduler.now());
        const when = backoffUntil !== null ? `after the network's back-off ends at ${new Date(backoffUntil).toISOString()}` : "on the next bring-up or restart";
        emit({ type: "agent.reloaded", at: scheduler.now(), version: VERSION, detail: changed.length ? `changed: ${changed.join(", ")} (applied ${when})` : "no changes" } as EventBase);
        if (changed.some((k) => k === "network" || k === "auth" || k === "ppp" || k === "modem")) {
          Object.assign(config, next);
          // New credentials, PIN or APN: a fault only a person could fix may be fixed now, so the
          // slow retry starts over and the next try is now.
          recovery.policy.onConfigChanged(scheduler.now());
          if (backoffUntil === null) supervisor.requestRedial();
        }
      },
    };
    return agent;
  } catch (err) {
    await runTeardown(teardown, log);
    detachLog();
    resolveStopped();
    if (err instanceof CellkeepError) throw err;
    throw err;
  }
}

async function runTeardown(steps: Array<() => Promise<void> | void>, log: Logger): Promise<void> {
  for (const step of steps.splice(0).reverse()) {
    try {
      await step();
    } catch (err) {
      log.warn(`teardown step failed: ${(err as Error).message}`);
    }
  }
}

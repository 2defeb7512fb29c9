/**
 * Opening the modem's ports for the supervisor: resolve "auto" through USB
 * discovery every time (a reset may renumber ttyUSBn), open through the
 * serial binding, and report opens and vanishings as events.
 */
import type { Config } from "../config/schema.ts";
import { CellkeepError, type Cause } from "../core/cause.ts";
import type { Clock } from "../core/clock.ts";
import type { BytePipe } from "../core/pipe.ts";
import type { SerialPortEvent } from "../core/agent-events.ts";
import type { Logger } from "../core/log.ts";
import { openSerialPipe } from "../serial/port.ts";
import { portResolver } from "../serial/discovery.ts";
import type { DiscoveryOptions } from "../serial/discovery.ts";

export interface PortOpeners {
  openPort: () => Promise<BytePipe>;
  openControlPort: () => Promise<BytePipe | null>;
  /** A control port is configured and found now (modem.mux = "auto" uses CMUX only without one). */
  hasControlPort: () => boolean;
}

export function serialPortOpeners(
  config: Config,
  deps: { clock: Clock; emit: (e: SerialPortEvent) => void; log: Logger; discovery?: DiscoveryOptions },
): PortOpeners {
  const dataPath = portResolver(config.modem.port, { ...deps.discovery, role: "data" });
  const controlPath = config.modem.control_port === "none" ? () => null : portResolver(config.modem.control_port, { ...deps.discovery, role: "control" });
  let everOpened = false;

  const watch = (pipe: BytePipe, path: string) => {
    pipe.onClose((reason: Cause | null) => {
      if (reason) deps.emit({ type: "serial.vanished", at: deps.clock.now(), path, cause: reason });
    });
  };

  return {
    hasControlPort: () => controlPath() !== null,
    async openPort() {
      const path = dataPath();
      if (!path) throw new CellkeepError("port-not-found", config.modem.port === "auto" ? "no known modem found by USB discovery" : config.modem.port);
      const pipe = await openSerialPipe(path, { baudRate: config.modem.baud, rtscts: config.modem.rtscts });
      deps.emit({ type: everOpened ? "serial.reopened" : "serial.opened", at: deps.clock.now(), path, cause: null });
      everOpened = true;
      watch(pipe, path);
      return pipe;
    },
    async openControlPort() {
      const path = controlPath();
      if (!path) return null;
      try {
        const pipe = await openSerialPipe(path, { baudRate: config.modem.baud, rtscts: config.modem.rtscts });
        watch(pipe, path);
        return pipe;
      } catch (err) {
        deps.log.warn(`control port ${path} not usable; signal is polled on the data port between calls`, { error: (err as Error).message });
        return null;
      }
    },
  };
}

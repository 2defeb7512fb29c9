/**
 * `cellkeep fleet --broker URL`: subscribe to every gateway under a topic
 * prefix and show them in a live terminal table (state, cause, signal, last
 * seen, link uptime). For scripts: `--json` prints the fleet once the retained
 * messages have arrived; `--json --follow` prints one JSON line per message.
 *
 * Exit codes: 0 done (or interrupted), 2 bad command line, 3 the broker could
 * not be reached or refused the login (the cause is printed).
 */
import mqtt, { type MqttClient } from "mqtt";
import { parseDuration } from "../config/duration.ts";
import { readSecretFile } from "../config/files.ts";
import { clientOptions, connectionCause } from "./connect.ts";
import { FleetModel, renderTable, rowJson } from "./fleet.ts";

export const FLEET_USAGE = `usage: cellkeep fleet --broker URL [options]
  --broker URL          mqtt://host[:port] or mqtts://host[:port]
  --prefix P            topic prefix before the device id (default "cellkeep/")
  --username U          broker user name
  --password-file F     file holding the broker password
  --ca-file F           CA certificate (PEM) for mqtts://
  --cert-file F         client certificate (PEM); with --key-file
  --key-file F          client key (PEM)
  --json                print the fleet as JSON once the retained messages arrived, then exit
  --follow              with --json: one JSON line per message, until interrupted
  --wait D              --json: wait at most this long for retained messages (default "3s")
exit: 0 ok, 2 usage, 3 broker unreachable or login refused
`;

export interface FleetIo {
  out(text: string): void;
  err(text: string): void;
  now?: () => number;
  /** Ends --follow and the live table (default: SIGINT or SIGTERM). */
  signal?: AbortSignal;
  isTty?: boolean;
}

const EXIT_OK = 0;
const EXIT_USAGE = 2;
const EXIT_UNREACHABLE = 3;

interface FleetArgs {
  broker: string;
  prefix: string;
  username: string | null;
  passwordFile: string | null;
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  json: boolean;
  follow: boolean;
  waitMs: number;
}

const VALUE_OPTIONS: Record<string, keyof FleetArgs> = {
  "--broker": "broker",
  "--prefix": "prefix",
  "--username": "username",
  "--password-file": "passwordFile",
  "--ca-file": "caFile",
  "--cert-file": "certFile",
  "--key-file": "keyFile",
  "--wait": "waitMs",
};

export function parseFleetArgs(argv: readonly string[]): FleetArgs | { help: true } | string {
  const a: FleetArgs = { broker: "", prefix: "cellkeep/", username: null, passwordFile: null, caFile: null, certFile: null, keyFile: null, json: false, follow: false, waitMs: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") return { help: true };
    if (arg === "--json") a.json = true;
    else if (arg === "--follow") a.follow = true;
    else {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      const key = VALUE_OPTIONS[name];
      if (!key) return `unknown argument ${arg}`;
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === "") return `${name} needs a value`;
      if (key === "waitMs") {
        const ms = parseDuration(value);
        if (ms === null) return `--wait: expected a duration such as "3s", got "${value}"`;
        a.waitMs = ms;
      } else (a as unknown as Record<string, string>)[key] = value;
    }
  }
  if (!a.broker) return "fleet needs --broker URL";
  let url: URL;
  try {
    url = new URL(a.broker);
  } catch {
    return `--broker: expected mqtt://host[:port] or mqtts://host[:port], got "${a.broker}"`;
  }
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") return `--broker: expected mqtt:// or mqtts://, got "${url.protocol}//"`;
  if (/[+#]/.test(a.prefix)) return "--prefix must not contain the MQTT wildcards + or #";
  if (!a.prefix.endsWith("/")) a.prefix += "/";
  if ((a.certFile === null) !== (a.keyFile === null)) return "--cert-file and --key-file go together";
  if (a.follow && !a.json) return "--follow needs --json (the table follows by itself)";
  return a;
}

const stdio: FleetIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export async function fleetCommand(argv: readonly string[], io: FleetIo = stdio): Promise<number> {
  const parsed = parseFleetArgs(argv);
  if (typeof parsed === "string") {
    io.err(`cellkeep fleet: ${parsed}\n${FLEET_USAGE}`);
    return EXIT_USAGE;
  }
  if ("help" in parsed) {
    io.out(FLEET_USAGE);
    return EXIT_OK;
  }
  const a = parsed;
  const now = io.now ?? Date.now;
  let password: string | null = null;
  if (a.passwordFile !== null) {
    const read = readSecretFile(a.passwordFile, "password file");
    if (!read.ok) {
      io.err(`cellkeep fleet: ${read.message}\n`);
      return EXIT_USAGE;
    }
    password = new TextDecoder().decode(read.bytes).replace(/\r?\n$/, "");
  }
  let opts;
  try {
    opts = clientOptions({
      broker: a.broker,
      clientId: `cellkeep-fleet-${Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex")}`,
      username: a.username,
      password,
      caFile: a.caFile,
      certFile: a.certFile,
      keyFile: a.keyFile,
      keepaliveMs: 60_000,
      connectTimeoutMs: 10_000,
    });
  } catch (err) {
    io.err(`cellkeep fleet: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const model = new FleetModel(a.prefix);
  const client = mqtt.connect(opts);
  const stop = stopSignal(io.signal);
  try {
    const connected = await firstConnect(client);
    if (connected !== null) {
      const c = connectionCause(connected, a.broker);
      io.err(`cellkeep fleet: ${c.code}: ${c.detail ?? ""}\nhint: ${c.hint}\n`);
      return EXIT_UNREACHABLE;
    }
    // Connected once: from now on a dropped connection is retried (the table says so) instead of ending the view.
    client.on("error", () => undefined);
    client.options.reconnectPeriod = 2000;
    client.options.resubscribe = true;
    let lastMessageAt = now();
    let dirty = true;
    client.on("message", (topic, payload) => {
      const receivedAt = now();
      lastMessageAt = receivedAt;
      const update = model.apply(topic, payload, receivedAt);
      if (update === null) return;
      dirty = true;
      if (a.follow) {
        const row = rowJson(model.row(update.device), receivedAt);
        const line = update.kind === "event" ? { receivedAt, kind: update.kind, device: update.device, gateway: row, event: update.event } : update.kind === "duplicate" ? { receivedAt, kind: update.kind, device: update.device, seq: update.seq } : { receivedAt, kind: update.kind, device: update.device, gateway: row };
        io.out(JSON.stringify(line) + "\n");
      }
    });
    await client.subscribeAsync(["status", "presence", "metrics", "events"].map((k) => `${a.prefix}+/${k}`), { qos: 1 });
    if (a.json && !a.follow) {
      // Retained messages arrive in a burst right after subscribing; done when it has been quiet for a moment.
      const started = now();
      while (now() - started < a.waitMs && !stop.aborted) {
        if (model.size > 0 && now() - lastMessageAt > 300) break;
        await Bun.sleep(50);
      }
      io.out(JSON.stringify(model.gateways().map((r) => rowJson(r, now())), null, 2) + "\n");
      return EXIT_OK;
    }
    if (a.follow) {
      await stop.promise;
      return EXIT_OK;
    }
    const tty = io.isTty ?? process.stdout.isTTY === true;
    let lastDraw = 0;
    while (!stop.aborted) {
      const t = now();
      // Redraw on change (at most twice a second), and every second for the "ago" columns.
      if ((dirty && t - lastDraw >= 500) || t - lastDraw >= 1000) {
        io.out((tty ? "\x1b[H\x1b[2J" : "") + renderTable(model.gateways(), t) + (client.connected ? "" : "(reconnecting to the broker…)\n"));
        dirty = false;
        lastDraw = t;
      }
      await Promise.race([Bun.sleep(100), stop.promise]);
    }
    return EXIT_OK;
  } finally {
    stop.dispose();
    client.end(true);
  }
}

/** Null once connected; else the error of the first failed attempt. */
function firstConnect(client: MqttClient): Promise<unknown> {
  return new Promise((resolve) => {
    client.once("connect", () => resolve(null));
    client.once("error", (err) => resolve(err));
    client.once("close", () => resolve(client.connected ? null : { code: "ECONNREFUSED", message: "connection closed" }));
  });
}

function stopSignal(signal: AbortSignal | undefined): { promise: Promise<void>; readonly aborted: boolean; dispose(): void } {
  let done = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const fire = () => {
    done = true;
    resolve();
  };
  if (signal) {
    if (signal.aborted) fire();
    signal.addEventListener("abort", fire, { once: true });
    return { promise, get aborted() { return done; }, dispose: () => signal.removeEventListener("abort", fire) };
  }
  process.once("SIGINT", fire);
  process.once("SIGTERM", fire);
  return {
    promise,
    get aborted() {
      return done;
    },
    dispose: () => {
      process.off("SIGINT", fire);
      process.off("SIGTERM", fire);
    },
  };
}

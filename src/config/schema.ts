/**
 * The configuration schema: every key, its type, default and meaning. Names
 * here are a contract with users' config files; add keys, never rename.
 * Durations are strings in TOML and milliseconds (numbers) in the typed Config.
 */
import * as v from "valibot";
import { Cron } from "croner";
import { parseDuration } from "./duration.ts";
import { isSupportedBaudRate } from "../core/baud.ts";
import { parseByteSize } from "./byte-size.ts";

const str = (what = "a string") => v.string(`expected ${what}`);
const nonEmpty = () => v.pipe(str("a non-empty string"), v.trim(), v.minLength(1, "expected a non-empty string"));
const bool = () => v.boolean("expected true or false");
const int = (min: number, max: number) =>
  v.pipe(
    v.number("expected an integer"),
    v.integer("expected an integer"),
    v.minValue(min, `expected an integer from ${min} to ${max}`),
    v.maxValue(max, `expected an integer from ${min} to ${max}`),
  );
const oneOf = <const T extends readonly [string, ...string[]]>(options: T) =>
  v.picklist(options, `expected one of: ${options.map((o) => `"${o}"`).join(", ")}`);

/** "30s" → 30000, with a message that shows the accepted forms. */
const duration = (minMs = 0) =>
  v.pipe(
    str('a duration such as "500ms", "30s", "10m" or "1h"'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const ms = parseDuration(dataset.value);
      if (ms === null) {
        addIssue({ message: `expected a duration such as "500ms", "30s", "10m" or "1h", got "${dataset.value}"` });
        return NEVER;
      }
      if (ms < minMs) {
        addIssue({ message: `expected a duration of at least ${minMs} ms, got "${dataset.value}"` });
        return NEVER;
      }
      return ms;
    }),
  );

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const ipv4 = () => v.pipe(str("an IPv4 address"), v.regex(IPV4, "expected an IPv4 address such as 8.8.8.8"));

const cronPattern = () =>
  v.pipe(
    str("a cron pattern"),
    v.check((p) => {
      try {
        new Cron(p, { paused: true }).stop();
        return true;
      } catch {
        return false;
      }
    }, 'expected a cron pattern such as "*/5 * * * *" (minute hour day month weekday, optional seconds first)'),
  );

/** host:port, [v6]:port, or a unix socket path (absolute, or "unix:" prefixed). */
export function parseListen(text: string): { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string } | null {
  if (text.startsWith("unix:")) return text.length > 5 ? { kind: "unix", path: text.slice(5) } : null;
  if (text.startsWith("/")) return { kind: "unix", path: text };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { kind: "tcp", host: m[1] ?? m[2]!, port };
}

const listen = () =>
  v.pipe(
    str("a listen address"),
    v.check((s) => parseListen(s) !== null, 'expected "host:port" (e.g. "127.0.0.1:8080"), "[::1]:8080" or a unix socket path'),
  );

export const PROFILES = ["auto", "quectel-bg77", "quectel-bg95", "quectel-bg96", "quectel-bg600l", "quectel-ec25", "generic"] as const;

const modem = v.strictObject({
  /** "auto" (USB discovery) or a device path. */
  port: v.optional(nonEmpty(), "auto"),
  /** Second AT port for polling while PPP owns the data port: "auto", a path, or "none". */
  control_port: v.optional(nonEmpty(), "auto"),
  // Only the kernel's standard rates can be set through termios (src/serial/termios.ts); any other value would pass
  // here and then fail every port open at runtime.
  baud: v.optional(
    v.pipe(
      int(300, 4_000_000),
      v.check(isSupportedBaudRate, "expected a standard baud rate such as 9600, 57600, 115200, 230400, 460800, 921600 or 3000000"),
    ),
    115200,
  ),
  /** RTS/CTS hardware flow control (UARTs). */
  rtscts: v.optional(bool(), false),
  /** Send AT+IPR=<baud>;&W once at start (only meaningful on a UART). */
  set_baud: v.optional(bool(), false),
  profile: v.optional(oneOf(PROFILES), "auto"),
  /**
   * 27.010 CMUX on the one port (docs/cmux.md): "cmux" always, "auto" when no
   * control port is found and the modem takes AT+CMUX, "none" never.
   */
  mux: v.optional(oneOf(["none", "cmux", "auto"] as const), "none"),
  pin: v.optional(v.pipe(str("a SIM PIN"), v.regex(/^\d{4,8}$/, "expected a SIM PIN of 4 to 8 digits"))),
  init: v.optional(v.array(nonEmpty(), "expected a list of AT command strings"), []),
}, "expected a table");

const network = v.strictObject({
  /** One APN; or network.apns for a list (one of the two is required: src/config/load.ts). */
  apn: v.optional(nonEmpty()),
  /** APNs tried in order when the network rejects one (apn-rejected, pdp-rejected): src/modem/apn-failover.ts. */
  apns: v.optional(v.pipe(v.array(nonEmpty(), "expected a list of APN strings"), v.minLength(1, "expected at least one APN"))),
  pdp_type: v.optional(oneOf(["IP", "IPV6", "IPV4V6"] as const), "IP"),
  cid: v.optional(int(1, 24), 1),
  dial: v.optional(nonEmpty(), "ATD*99#"),
}, "expected a table");

const auth = v.strictObject({
  method: v.optional(oneOf(["none", "pap", "chap", "auto"] as const), "none"),
  username: v.optional(str("a string"), ""),
  password: v.optional(str("a string")),
  password_file: v.optional(nonEmpty()),
}, "expected a table");

const ppp = v.strictObject({
  mru: v.optional(int(128, 16384), 1500),
  echo_interval: v.optional(duration(1000), "30s"),
  echo_failures: v.optional(int(1, 100), 4),
  /** true: LCP echo only after one echo_interval with no frame from the peer; false: also every interval while traffic flows (round trip). Any frame resets the failure count either way (RFC 1661 allows both). */
  echo_only_when_idle: v.optional(bool(), false),
  restart_timer: v.optional(duration(100), "3s"),
  max_configure: v.optional(int(1, 100), 10),
  max_failure: v.optional(int(1, 100), 5),
  max_terminate: v.optional(int(1, 100), 2),
  pcap: v.optional(nonEmpty()),
  /** false: the pcap holds only the control protocols (LCP, PAP, CHAP, IPCP, IPV6CP...), no IPv4/IPv6 datagram. */
  pcap_payload: v.optional(bool(), true),
}, "expected a table");

const link = v.strictObject({
  mode: v.optional(oneOf(["tun", "none"] as const), "none"),
  interface: v.optional(v.pipe(nonEmpty(), v.regex(/^[A-Za-z0-9_.-]{1,15}$/, "expected an interface name of 1 to 15 letters, digits, _ . -")), "cell0"),
  default_route: v.optional(bool(), true),
  route_metric: v.optional(int(0, 0x7fffffff), 700),
  /** Replace an existing default route that has a better (lower) metric. */
  replace_default: v.optional(bool(), false),
  /** "none", "resolvconf", or a file path for a resolv.conf fragment. */
  dns: v.optional(nonEmpty(), "none"),
}, "expected a table");

const health = v.strictObject({
  schedule: v.optional(cronPattern()),
  every: v.optional(duration(1000)),
  targets: v.optional(v.array(ipv4(), "expected a list of IPv4 addresses"), ["8.8.8.8", "1.1.1.1"]),
  timeout: v.optional(duration(100), "5s"),
  failures: v.optional(int(1, 100), 3),
  /** Optional DNS name to resolve through the link (tun mode). */
  dns_query: v.optional(nonEmpty()),
  /** Optional URL to GET through the link (tun mode). */
  http_url: v.optional(v.pipe(nonEmpty(), v.url("expected a URL such as http://example.com/"))),
  /** Also check registration and signal on each probe. */
  modem_check: v.optional(bool(), true),
}, "expected a table");

const maintenance = v.strictObject({
  schedule: cronPattern(),
  action: v.optional(oneOf(["redial", "reset-modem"] as const), "redial"),
}, "expected a table");

const recovery = v.strictObject({
  backoff: v.optional(v.pipe(v.array(duration(0), "expected a list of durations"), v.minLength(1, "expected at least one duration")), ["0s", "10m", "30m", "1h"]),
  /** Consecutive failed dials before a module reset (vendor rule: 3). */
  dial_failures: v.optional(int(1, 100), 3),
  /** A connection that stays up this long resets the ladder. */
  stable_after: v.optional(duration(0), "10m"),
  /** Redials are spaced 0, 5 s, 15 s, 30 s, 60 s, then this (never a burst). */
  redial_max: v.optional(duration(100), "5m"),
  /** Credentials, SIM or subscription faults: the first slow retry; it doubles up to operator_retry_max. */
  operator_retry: v.optional(duration(100), "1m"),
  operator_retry_max: v.optional(duration(1000), "1h"),
  /** While waiting to retry, registration is polled this often (URCs are seen at once); at most 30 s. */
  registration_poll: v.optional(
    v.pipe(
      duration(500),
      v.maxValue(30_000, 'expected a duration of at most "30s"'),
    ),
    "10s",
  ),
  power_cycle: v.optional(nonEmpty()),
  reboot_command: v.optional(nonEmpty()),
  /** Limit for power_cycle / reboot_command; past it the command's process group is killed. */
  command_timeout: v.optional(duration(1000), "60s"),
  state_file: v.optional(nonEmpty(), "/var/lib/cellkeep/recovery.json"),
  maintenance: v.optional(maintenance),
}, "expected a table");

/** An http.allowed_hosts entry: name, IPv4 or [IPv6], optionally ":port" (the Host header forms; src/http/host-check.ts). */
const hostName = () =>
  v.pipe(
    str("a host name"),
    v.check((s) => {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::(\d{1,5}))?$/.exec(s);
      if (!m || (m[2] !== undefined && !(Number(m[2]) >= 1 && Number(m[2]) <= 65535))) return false;
      return !m[1]!.startsWith("[") || URL.canParse(`http://${m[1]}/`);
    }, 'expected a host name or address, optionally with ":port", e.g. "gateway.lan", "192.168.1.5:8080" or "[fd00::1]"'),
  );

const http = v.strictObject({
  listen: v.optional(listen(), "127.0.0.1:8080"),
  token_file: v.optional(nonEmpty()),
  /** Host header values served besides the listen address and the loopback names (DNS-rebinding guard). */
  allowed_hosts: v.optional(v.array(hostName(), "expected a list of host names"), []),
}, "expected a table");

const log = v.strictObject({
  level: v.optional(oneOf(["debug", "info", "warn", "error"] as const), "info"),
  format: v.optional(oneOf(["text", "json"] as const), "text"),
}, "expected a table");

/** An MQTT broker: mqtt://host[:port] or mqtts://host[:port]; credentials go in their own keys, never in the URL. */
const brokerUrl = () =>
  v.pipe(
    str("a broker URL"),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      let u: URL;
      try {
        u = new URL(dataset.value);
      } catch {
        addIssue({ message: 'expected a broker URL such as "mqtts://broker.example.com:8883" or "mqtt://10.0.0.1:1883"' });
        return;
      }
      if (u.protocol !== "mqtt:" && u.protocol !== "mqtts:") addIssue({ message: `expected a broker URL starting with mqtt:// or mqtts://, got "${u.protocol}//"` });
      else if (u.hostname === "") addIssue({ message: "expected a broker URL with a host name" });
      else if (u.username !== "" || u.password !== "") addIssue({ message: "put the user name in mqtt.username and the password in mqtt.password_file, not in the URL" });
      else if ((u.pathname !== "" && u.pathname !== "/") || u.search !== "" || u.hash !== "") addIssue({ message: "expected a broker URL without a path, query or fragment" });
    }),
  );

/** Text that becomes topic levels: no MQTT wildcards (+ #), no NUL, and only the placeholders `names`. */
const topicTemplate = (what: string, names: readonly string[], oneLevel: boolean) =>
  v.pipe(
    nonEmpty(),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const text = dataset.value;
      const unknown = [...text.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((n) => !names.includes(n));
      if (unknown.length > 0) addIssue({ message: `unknown placeholder {${unknown[0]}} in the ${what}; known: ${names.map((n) => `{${n}}`).join(", ")}` });
      else if (/[+#\u0000]/.test(text)) addIssue({ message: `the ${what} must not contain the MQTT wildcards + or #` });
      else if (oneLevel && !/^[A-Za-z0-9._:{}-]+$/.test(text)) addIssue({ message: `expected a ${what} of letters, digits and . _ : - (it is one topic level)` });
      else if (!oneLevel && (text.startsWith("$") || text.startsWith("/") || text.includes("//"))) addIssue({ message: `expected a ${what} such as "cellkeep/{client_id}/" (no leading $ or /, no empty level)` });
    }),
  );

/** Fleet telemetry over MQTT (docs/mqtt.md); absent: no MQTT at all. */
const mqtt = v.strictObject({
  broker: brokerUrl(),
  /** The MQTT client id and the gateway's name in the fleet: {hostname} and {imei} are filled in. */
  client_id: v.optional(topicTemplate("client id", ["hostname", "imei"], true), "{hostname}"),
  /** Every topic starts with this; a missing trailing "/" is added. */
  topic_prefix: v.optional(
    v.pipe(topicTemplate("topic prefix", ["client_id", "hostname", "imei"], false), v.transform((p) => (p.endsWith("/") ? p : `${p}/`))),
    "cellkeep/{client_id}/",
  ),
  username: v.optional(nonEmpty()),
  /** The broker password, read from this file at load (like auth.password_file); never logged. */
  password_file: v.optional(nonEmpty()),
  /** PEM files for mqtts://: the CA that signed the broker's certificate, and an optional client certificate and key. */
  ca_file: v.optional(nonEmpty()),
  cert_file: v.optional(nonEmpty()),
  key_file: v.optional(nonEmpty()),
  /** MQTT keep-alive; each one costs a PINGREQ/PINGRESP on the cellular link. At most 65535 s (the protocol's limit). */
  keepalive: v.optional(v.pipe(duration(5000), v.maxValue(65_535_000, 'expected a duration of at most "18h"')), "2m"),
  /** Compact metrics (signal, counters, link uptime) this often; not queued while offline. */
  metrics_interval: v.optional(duration(1000), "5m"),
  /** The retained status is published on every change (merged within status_holdoff) and refreshed this often. */
  status_interval: v.optional(duration(1000), "1h"),
  status_holdoff: v.optional(duration(0), "5s"),
  /** Reconnect waits: doubling from reconnect_min up to reconnect_max, with jitter (a fleet must not reconnect in step). */
  reconnect_min: v.optional(duration(100), "2s"),
  reconnect_max: v.optional(duration(1000), "5m"),
  /** QoS of events, status and presence (0: at most once; 1: at least once, de-duplicated by queue id). */
  qos: v.optional(v.picklist([0, 1, 2] as const, "expected 0, 1 or 2"), 1),
  /** Accept cmd/redial, cmd/reset-modem and cmd/status from the broker. */
  commands: v.optional(bool(), false),
  /** Events kept on disk (in the state directory) while the broker is unreachable; past it the oldest are dropped and counted. */
  queue_max: v.optional(int(10, 1_000_000), 10_000),
}, "expected a table");

// ── radio policy and SIM failover (src/modem/radio-policy.ts, src/modem/sim-failover.ts) ──

/** Radio access technologies radio.technologies may name, in the operator's words. */
export const RADIO_TECHNOLOGIES = ["lte-m", "nb-iot", "gsm", "lte", "umts"] as const;

const radio = v.strictObject({
  /** Technologies in scan order; unset leaves the modem's own setting alone. */
  technologies: v.optional(
    v.pipe(
      v.array(oneOf(RADIO_TECHNOLOGIES), `expected a list of technologies from: ${RADIO_TECHNOLOGIES.map((t) => `"${t}"`).join(", ")}`),
      v.minLength(1, "expected at least one technology"),
      v.check((l) => new Set(l).size === l.length, "expected each technology once"),
    ),
  ),
  /** LTE band numbers (LTE-M, NB-IoT, LTE) the modem may use; unset leaves the modem's setting alone. */
  bands: v.optional(
    v.pipe(
      v.array(int(1, 128), "expected a list of LTE band numbers such as [3, 8, 20]"),
      v.minLength(1, "expected at least one band"),
      v.check((l) => new Set(l).size === l.length, "expected each band once"),
    ),
  ),
  /** "deny": never dial while registered roaming (stat 5); wait for the home network. Unset: the modem's setting, roaming dialled. */
  roaming: v.optional(oneOf(["allow", "deny"] as const)),
  /** "auto" (the modem picks) or the MCC+MNC of the one network to use, e.g. "26201"; unset: the modem's setting. */
  operator: v.optional(v.pipe(str('"auto" or an MCC+MNC'), v.regex(/^(auto|\d{5,6})$/, 'expected "auto" or an MCC+MNC of 5 or 6 digits such as "26201"'))),
}, "expected a table");

const sim = v.strictObject({
  /** Switch to the other SIM slot (AT+QDSIM) after this long without a connected link; unset = never. */
  failover_after: v.optional(duration(60_000)),
}, "expected a table");

// ── [usage]: data usage per SIM and billing cycle, caps, quiet liveness (issue 17) ──

/** A data amount: a whole number of bytes or a string such as "500MB", "1.5GB", "100MiB". */
const byteSize = () =>
  v.pipe(
    v.union([v.number(), v.string()], 'expected a data amount such as "500MB", "1GB" or a number of bytes'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const raw = dataset.value;
      const n = typeof raw === "number" ? (Number.isSafeInteger(raw) ? raw : null) : parseByteSize(raw);
      if (n === null || n < 1) {
        addIssue({ message: `expected a data amount such as "500MB", "1GB", "100MiB" or a whole number of bytes, got ${JSON.stringify(raw)}` });
        return NEVER;
      }
      return n;
    }),
  );

/** An IANA time zone name the runtime knows ("Europe/Berlin", "UTC"). */
const timeZone = () =>
  v.pipe(
    str("a time zone name"),
    v.check((tz) => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'expected an IANA time zone name such as "Europe/Berlin" or "UTC"'),
  );

const usage = v.pipe(
  v.strictObject({
    /** The day of the month a billing cycle starts (local midnight); 29–31 mean the month's last day in shorter months. */
    cycle_day: v.optional(int(1, 31), 1),
    /** The zone whose midnight starts a cycle; default: the host's local zone. */
    timezone: v.optional(timeZone()),
    /** Default: usage.json beside recovery.state_file (the state directory). */
    state_file: v.optional(nonEmpty()),
    /** How often the counters are written while they change; a kill -9 or power loss loses at most this much traffic. */
    save_every: v.optional(duration(10_000), "5m"),
    /** Bytes (in + out) in a cycle after which a warning event is raised. */
    warn_at: v.optional(byteSize()),
    /** ... after which active probes (ICMP, DNS, HTTP) stop for the rest of the cycle. */
    quiet_at: v.optional(byteSize()),
    /** ... after which the link is hung up until the next cycle or POST /actions/usage-resume. */
    stop_at: v.optional(byteSize()),
    /** Skip the active probe round when data was received through the link since the previous round. */
    quiet_liveness: v.optional(bool(), false),
  }, "expected a table"),
  v.forward(
    v.partialCheck([["warn_at"], ["stop_at"]], (u) => u.warn_at === undefined || u.stop_at === undefined || u.warn_at < u.stop_at, "expected usage.warn_at below usage.stop_at (a warning after the hang-up comes too late)"),
    ["warn_at"],
  ),
  v.forward(
    v.partialCheck([["quiet_at"], ["stop_at"]], (u) => u.quiet_at === undefined || u.stop_at === undefined || u.quiet_at < u.stop_at, "expected usage.quiet_at below usage.stop_at"),
    ["quiet_at"],
  ),
);

// ── [time] and [sms] (issue 17: modem time, SMS control) ─────────────────────

const time = v.strictObject({
  /** Set the system clock from the network's time when it is unset (before 2024) or off by more than max_offset. */
  set_system_clock: v.optional(bool(), false),
  /** How far the system clock may be from the network's time before it counts as far off (the network's time has 1 s resolution). */
  max_offset: v.optional(duration(10_000), "2m"),
  /** Read the network's time (AT+QLTS, AT+CCLK?) this often; "0s": only when a NITZ URC announces it. */
  poll_interval: v.optional(
    v.pipe(
      duration(0),
      v.check((ms) => ms === 0 || ms >= 60_000, 'expected "0s" (off) or a duration of at least "1m"'),
    ),
    "6h",
  ),
}, "expected a table");

/** An SMS sender as the modem shows it: international "+<digits>" (spaces and dashes allowed, "00" for "+"). */
const phoneNumber = () =>
  v.pipe(
    str("a phone number"),
    v.check((s) => /^(\+|00)[0-9][0-9 -]{4,19}$/.test(s.trim()), 'expected an international phone number such as "+491701234567"'),
  );

const sms = v.strictObject({
  /** Senders whose SMS may run a command; empty: SMS control is off. */
  allow_from: v.optional(v.array(phoneNumber(), "expected a list of phone numbers"), []),
  /** The word an SMS must start with. Prefer secret_file. */
  secret: v.optional(v.pipe(str("a secret"), v.regex(/^\S{8,64}$/, "expected a secret of 8 to 64 characters without spaces"))),
  secret_file: v.optional(nonEmpty()),
  /** Commands (from allowed senders) taken per hour; more are deleted unanswered. */
  max_per_hour: v.optional(int(1, 60), 6),
  /** An SMS older than this (service-centre time) is deleted without running: e.g. a "reboot" queued while the gateway was off. */
  max_age: v.optional(duration(60_000), "15m"),
  /** Read the SMS store this often besides on +CMTI (a URC can be missed while PPP holds the only port). */
  poll_interval: v.optional(duration(5_000), "1m"),
  /** SMS parts a reply may take at most (each 153 characters; numbered "1/3"). */
  max_reply_parts: v.optional(int(1, 5), 3),
}, "expected a table");

export const ConfigSchema = v.strictObject({
  modem: v.optional(modem, {}),
  network,
  auth: v.optional(auth, {}),
  ppp: v.optional(ppp, {}),
  link: v.optional(link, {}),
  health: v.optional(health, {}),
  recovery: v.optional(recovery, {}),
  http: v.optional(http, {}),
  log: v.optional(log, {}),
  mqtt: v.optional(mqtt),
  radio: v.optional(radio, {}),
  sim: v.optional(sim, {}),
  usage: v.optional(usage, {}),
  time: v.optional(time, {}),
  sms: v.optional(sms, {}),
}, "expected a table");

type Parsed = v.InferOutput<typeof ConfigSchema>;

/** The [mqtt] table with the broker password read from mqtt.password_file (null without one). */
export type MqttConfig = NonNullable<Parsed["mqtt"]> & { password: string | null };

/** The typed configuration. `auth.password` is resolved from password_file at load, `mqtt.password` likewise. */
export type Config = Parsed & {
  auth: Parsed["auth"] & { password: string };
  /** `apn` is network.apn or the first of network.apns; `apns` the whole list (one item for network.apn). */
  network: Parsed["network"] & { apn: string; apns: string[] };
} & { mqtt?: MqttConfig };

/** Known keys per table, for unknown-key errors with suggestions. */
export function knownKeys(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (schema: unknown, prefix: string) => {
    let s = schema as { type?: string; entries?: Record<string, unknown>; wrapped?: unknown; pipe?: unknown[] };
    while (s.type === "optional" && s.wrapped) s = s.wrapped as typeof s;
    if (s.type !== "strict_object" || !s.entries) return;
    out.set(prefix, Object.keys(s.entries));
    for (const [k, child] of Object.entries(s.entries)) walk(child, prefix ? `${prefix}.${k}` : k);
  };
  walk(ConfigSchema, "");
  return out;
}

/** Keys whose TOML value is a duration string (for printing the effective config). */
export const DURATION_KEYS = new Set([
  "ppp.echo_interval",
  "ppp.restart_timer",
  "health.every",
  "health.timeout",
  "recovery.backoff",
  "recovery.stable_after",
  "recovery.redial_max",
  "recovery.operator_retry",
  "recovery.operator_retry_max",
  "recovery.registration_poll",
  "recovery.command_timeout",
  "mqtt.keepalive",
  "mqtt.metrics_interval",
  "mqtt.status_interval",
  "mqtt.status_holdoff",
  "mqtt.reconnect_min",
  "mqtt.reconnect_max",
  "sim.failover_after",
  "usage.save_every",
  "time.max_offset",
  "time.poll_interval",
  "sms.max_age",
  "sms.poll_interval",
]);

/**
 * Config loading: TOML text → valibot → typed Config, with every error naming
 * the file, the line and the key path, all errors at once (DESIGN.md rule 6).
 * Nothing here touches a modem; the CLI exits 2 on any error.
 */
import * as v from "valibot";
import { parse as parseToml, stringify as stringifyToml, TomlError } from "smol-toml";
import { basename } from "node:path";
import { ConfigSchema, DURATION_KEYS, knownKeys, type Config, type MqttConfig } from "./schema.ts";
import { KeyLines } from "./lines.ts";
import { MAX_FILE_BYTES, decodeUtf8, permissionWarning, readBounded, readSecretFile, tooLargeMessage } from "./files.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { registerSecret } from "../core/log.ts";
import { commandSecrets, redactCommand } from "../core/redact.ts";
import { registerSmsSecret, resolveSmsSecret } from "./sms-secret.ts";

export interface ConfigIssue {
  /** Dotted key path, e.g. "network.apn"; "" for file-level problems. */
  path: string;
  line: number;
  column?: number;
  message: string;
}

export type LoadResult =
  | { ok: true; config: Config; warnings: string[]; file: string }
  | { ok: false; issues: ConfigIssue[]; file: string };

/**
 * `cellkeep.toml:14: network.apn: expected a non-empty string`; line 0 is a
 * problem with the whole file (`cellkeep.toml: the config file is too large...`).
 * A huge key or value from a hostile file is shortened, so one error stays one line.
 */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === 0 ? file : issue.column !== undefined ? `${file}:${issue.line}:${issue.column}` : `${file}:${issue.line}`;
  const message = clip(issue.message, 500);
  return issue.path ? `${where}: ${clip(issue.path, 200)}: ${message}` : `${where}: ${message}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/**
 * Read (at most 1 MiB, stat first), decode (strict UTF-8), parse and validate a
 * config file; warn when it holds a secret and other users can read it.
 */
export function loadConfigFile(path: string): LoadResult {
  const read = readBounded(path);
  if (!read.ok) {
    const message = read.reason === "too-large" ? tooLargeMessage("the config file", read.size) : `cannot read the config file: ${read.message}`;
    return { ok: false, file: path, issues: [{ path: "", line: 0, message }] };
  }
  const result = loadConfigBytes(read.bytes, path);
  if (result.ok) {
    const held = inlineSecrets(result.config);
    const warning = held.length > 0 ? permissionWarning(path, joinWords(held), read.stat) : null;
    if (warning) result.warnings.push(warning);
  }
  return result;
}

/** Config file contents as bytes: over 1 MiB or not UTF-8 is a config error; then as loadConfigText. */
export function loadConfigBytes(bytes: Uint8Array, file = "cellkeep.toml"): LoadResult {
  if (bytes.length > MAX_FILE_BYTES) return { ok: false, file, issues: [{ path: "", line: 0, message: tooLargeMessage("the config file", bytes.length) }] };
  const decoded = decodeUtf8(bytes);
  if (!decoded.ok) return { ok: false, file, issues: [{ path: "", line: decoded.line, column: decoded.column, message: decoded.message }] };
  return loadConfigText(decoded.text, file);
}

/** The secrets written in the config text itself (a password from password_file is not). */
function inlineSecrets(config: Config): string[] {
  const held: string[] = [];
  if (config.auth.password_file === undefined && config.auth.password !== "") held.push("auth.password");
  if (config.modem.pin !== undefined) held.push("modem.pin");
  if (config.sms.secret_file === undefined && config.sms.secret !== undefined) held.push("sms.secret");
  if (urlPassword(config.health.http_url) !== null) held.push("a password in health.http_url");
  return held;
}

function joinWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

/** Parse and validate config text. `file` is used for messages and relative paths only. */
export function loadConfigText(text: string, file = "cellkeep.toml"): LoadResult {
  // The same cap as for the file (a UTF-16 code unit is at most 3 UTF-8 bytes: short texts need no count).
  const size = text.length * 3 > MAX_FILE_BYTES ? Buffer.byteLength(text, "utf8") : text.length;
  if (size > MAX_FILE_BYTES) return { ok: false, file, issues: [{ path: "", line: 0, message: tooLargeMessage("the config file", size) }] };
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split("\n")[0] ?? err.message;
      return { ok: false, file, issues: [{ path: "", line: err.line, column: err.column, message: `TOML syntax error: ${first}` }] };
    }
    return { ok: false, file, issues: [{ path: "", line: 1, message: `TOML syntax error: ${(err as Error).message}` }] };
  }

  const lines = new KeyLines(text);
  const issues: ConfigIssue[] = [...unknownKeyIssues(raw, lines)];

  const parsed = v.safeParse(ConfigSchema, raw, { abortEarly: false });
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      if (issue.type === "strict_object" && issue.expected === "never") continue; // reported above, with a suggestion
      const path = v.getDotPath(issue) ?? "";
      const missing = issue.input === undefined;
      const message = missing ? `${expectationOf(path) ?? issue.message} (required key is missing)` : issue.message;
      issues.push({ path, line: lines.lineOf(path), message });
    }
  }
  const at = (path: string) => lines.lineOf(path);
  // Cross-key rules run on the raw tables so they are reported together with type errors.
  const rawAuth = table(raw, "auth");
  const rawHealth = table(raw, "health");
  if (rawAuth.password !== undefined && rawAuth.password_file !== undefined) {
    issues.push({ path: "auth.password_file", line: at("auth.password_file"), message: "set either auth.password or auth.password_file, not both" });
  }
  if ((rawAuth.method === "pap" || rawAuth.method === "chap") && (rawAuth.username === undefined || rawAuth.username === "")) {
    issues.push({ path: "auth.username", line: at("auth.username"), message: `auth.method = "${rawAuth.method}" needs a username` });
  }
  issues.push(...mqttKeyIssues(table(raw, "mqtt"), at));
  if (rawHealth.schedule !== undefined && rawHealth.every !== undefined) {
    issues.push({ path: "health.every", line: at("health.every"), message: "set either health.schedule or health.every, not both" });
  }
  const rawNetwork = table(raw, "network");
  if (rawNetwork.apn === undefined && rawNetwork.apns === undefined && raw.network === rawNetwork) {
    issues.push({ path: "network.apn", line: at("network.apn"), message: "expected a non-empty string (required key is missing; or set network.apns)" });
  }
  if (rawNetwork.apn !== undefined && rawNetwork.apns !== undefined) {
    issues.push({ path: "network.apns", line: at("network.apns"), message: "set either network.apn or network.apns, not both" });
  }
  if (!parsed.success) return { ok: false, file, issues: sortIssues(issues) };

  const out = parsed.output;
  if (out.recovery.backoff.some((ms, i, all) => i > 0 && ms < all[i - 1]!)) {
    issues.push({ path: "recovery.backoff", line: at("recovery.backoff"), message: "expected durations that never decrease (the ladder only waits longer)" });
  }
  let password = out.auth.password ?? "";
  const fileWarnings: string[] = [];
  // Files that hold a secret: read bounded (1 MiB, stat first), and checked for modes other users can read.
  if (out.auth.password_file !== undefined && issues.length === 0) {
    const pwFile = out.auth.password_file;
    const read = readSecretFile(pwFile, "password file");
    if (!read.ok) {
      issues.push({ path: "auth.password_file", line: at("auth.password_file"), message: read.message });
    } else {
      const text = decodeUtf8(read.bytes);
      if (!text.ok) {
        // No line, column or byte value: they would tell something about the password.
        issues.push({ path: "auth.password_file", line: at("auth.password_file"), message: `the password file ${pwFile} is not valid UTF-8 text` });
      } else {
        password = text.text.replace(/\r?\n$/, "");
        const warning = permissionWarning(pwFile, "the PPP password (auth.password_file)", read.stat);
        if (warning) fileWarnings.push(warning);
      }
    }
  }
  if (out.http.token_file !== undefined) {
    const tokenFile = out.http.token_file;
    const read = readSecretFile(tokenFile, "token file");
    if (!read.ok) {
      issues.push({ path: "http.token_file", line: at("http.token_file"), message: read.message });
    } else {
      const warning = permissionWarning(tokenFile, "the HTTP action token (http.token_file)", read.stat);
      if (warning) fileWarnings.push(warning);
    }
  }
  let mqttPassword: string | null = null;
  if (out.mqtt !== undefined) {
    const m = readMqttFiles(out.mqtt, at);
    issues.push(...m.issues);
    fileWarnings.push(...m.warnings);
    mqttPassword = m.password;
  }
  const smsSecret = resolveSmsSecret(out.sms);
  for (const i of smsSecret.issues) issues.push({ ...i, line: at(i.path) });
  fileWarnings.push(...smsSecret.warnings);
  if (issues.length > 0) return { ok: false, file, issues: sortIssues(issues) };

  out.sms.secret = smsSecret.secret;
  registerSmsSecret(smsSecret.secret);
  registerSecret(password);
  registerSecret(mqttPassword);
  // The PIN only ever travels in AT+CPIN="<pin>" (masked by redactCommand as well). Registered
  // in that form: four bare digits would also match counters, cell ids and timestamps.
  if (out.modem.pin !== undefined) registerSecret(`CPIN="${out.modem.pin}"`);
  // ...and as a whole value (a quoted "1234", pin=1234), never as bare digits (src/core/log.ts).
  if (out.modem.pin !== undefined) registerSecret(out.modem.pin, { wholeValueOnly: true });
  // Credentials inside modem.init (AT+CGAUTH, AT+QICSGP, AT+CLCK...) are secrets too: the commands
  // are masked by shape, the values registered so an echo in any other shape is masked as well.
  for (const c of out.modem.init) for (const s of commandSecrets(c)) registerSecret(s.value, { wholeValueOnly: s.kind === "pin" });
  registerSecret(urlPassword(out.health.http_url));
  if (out.health.schedule === undefined && out.health.every === undefined) out.health.every = 60_000;
  const { mqtt: mqttTable, ...tables } = out;
  const apns = out.network.apns ?? [out.network.apn!];
  const config: Config = {
    ...tables,
    auth: { ...out.auth, password },
    network: { ...out.network, apn: apns[0]!, apns },
    ...(mqttTable ? { mqtt: { ...mqttTable, password: mqttPassword } } : {}),
  };
  const warnings: string[] = [...fileWarnings];
  if (config.recovery.backoff.at(-1) === 0) {
    // Valid (tests and labs use it), but on a gateway it is the "watchdog that resets every few minutes" the vendor warns against.
    warnings.push(
      `recovery.backoff ends with 0s: once the list is used up, every ${config.recovery.dial_failures} failed dials reset the module (or run power_cycle/reboot_command) again without a pause; the module vendor advises 10m, 30m, 1h`,
    );
  }
  return { ok: true, file, config, warnings };
}

/** [mqtt] rules across keys, on the raw table so they are reported with type errors. */
function mqttKeyIssues(m: Record<string, unknown>, at: (path: string) => number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (m.password_file !== undefined && m.username === undefined) {
    issues.push({ path: "mqtt.password_file", line: at("mqtt.password_file"), message: "mqtt.password_file needs mqtt.username (MQTT sends a password only with a user name)" });
  }
  if ((m.cert_file === undefined) !== (m.key_file === undefined)) {
    const set = m.cert_file !== undefined ? "mqtt.cert_file" : "mqtt.key_file";
    issues.push({ path: set, line: at(set), message: "set both mqtt.cert_file and mqtt.key_file (a client certificate needs its key)" });
  }
  const tlsKey = ["ca_file", "cert_file", "key_file"].find((k) => m[k] !== undefined);
  if (tlsKey !== undefined && typeof m.broker === "string" && m.broker.startsWith("mqtt://")) {
    issues.push({ path: `mqtt.${tlsKey}`, line: at(`mqtt.${tlsKey}`), message: "TLS files need an mqtts:// broker URL; with mqtt:// they would not be used" });
  }
  if (typeof m.reconnect_min === "string" && typeof m.reconnect_max === "string") {
    const lo = parseDuration(m.reconnect_min);
    const hi = parseDuration(m.reconnect_max);
    if (lo !== null && hi !== null && hi < lo) issues.push({ path: "mqtt.reconnect_max", line: at("mqtt.reconnect_max"), message: "expected mqtt.reconnect_max of at least mqtt.reconnect_min" });
  }
  return issues;
}

/**
 * The broker password from mqtt.password_file (bounded read, warned when other users can read it), and a check
 * that the TLS files can be read now, so `cellkeep check` names a wrong path instead of the first connect.
 */
function readMqttFiles(m: Omit<MqttConfig, "password">, at: (path: string) => number): { password: string | null; issues: ConfigIssue[]; warnings: string[] } {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  let password: string | null = null;
  if (m.password_file !== undefined) {
    const read = readSecretFile(m.password_file, "MQTT password file");
    if (!read.ok) issues.push({ path: "mqtt.password_file", line: at("mqtt.password_file"), message: read.message });
    else {
      const text = decodeUtf8(read.bytes);
      if (!text.ok) issues.push({ path: "mqtt.password_file", line: at("mqtt.password_file"), message: `the MQTT password file ${m.password_file} is not valid UTF-8 text` });
      else password = text.text.replace(/\r?\n$/, "");
      const warning = permissionWarning(m.password_file, "the MQTT password (mqtt.password_file)", read.stat);
      if (warning) warnings.push(warning);
    }
  }
  for (const key of ["ca_file", "cert_file", "key_file"] as const) {
    const path = m[key];
    if (path === undefined) continue;
    const read = key === "key_file" ? readSecretFile(path, "MQTT client key") : readBounded(path);
    if (!read.ok) {
      issues.push({ path: `mqtt.${key}`, line: at(`mqtt.${key}`), message: "message" in read ? `cannot read ${path}: ${read.message}` : tooLargeMessage(path, read.size) });
    } else if (key === "key_file") {
      const warning = permissionWarning(path, "the MQTT client key (mqtt.key_file)", read.stat);
      if (warning) warnings.push(warning);
    }
  }
  return { password, issues, warnings };
}

/** The password in a URL (https://user:pw@host/), decoded, or null. */
function urlPassword(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const pw = new URL(url).password;
    return pw === "" ? null : decodeURIComponent(pw);
  } catch {
    return null;
  }
}

/** The "expected ..." message a key's schema declares, for reporting a missing key. */
function expectationOf(path: string): string | null {
  type Node = { type?: string; entries?: Record<string, Node>; wrapped?: Node; message?: unknown };
  let node = ConfigSchema as unknown as Node;
  for (const part of path.split(".")) {
    while (node.type === "optional" && node.wrapped) node = node.wrapped;
    const next = node.entries?.[part];
    if (!next) return null;
    node = next;
  }
  return typeof node.message === "string" ? node.message : null;
}

function table(raw: Record<string, unknown>, name: string): Record<string, unknown> {
  const t = raw[name];
  return t !== null && typeof t === "object" && !Array.isArray(t) ? (t as Record<string, unknown>) : {};
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.path.localeCompare(b.path));
}

function unknownKeyIssues(raw: Record<string, unknown>, lines: KeyLines): ConfigIssue[] {
  const known = knownKeys();
  const issues: ConfigIssue[] = [];
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    const allowed = known.get(prefix);
    if (!allowed) return;
    for (const [key, value] of Object.entries(obj)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!allowed.includes(key)) {
        const guess = closest(key, allowed);
        const where = prefix ? `in [${prefix}]` : "at the top level";
        issues.push({ path, line: lines.lineOf(path), message: `unknown key ${where}${guess ? `; did you mean "${guess}"?` : ""}` });
      } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        walk(value as Record<string, unknown>, path);
      }
    }
  };
  walk(raw, "");
  return issues;
}

/** The allowed key nearest to a typo (Levenshtein distance ≤ 3), if any. */
export function closest(word: string, options: readonly string[]): string | null {
  let best: string | null = null;
  let bestDist = Math.min(3, Math.max(1, Math.floor(word.length / 2)));
  const lower = word.toLowerCase();
  for (const o of options) {
    // The length difference is a lower bound of the distance: a megabyte key costs nothing here.
    if (Math.abs(lower.length - o.length) > bestDist) continue;
    const d = editDistance(lower, o.toLowerCase());
    if (d <= bestDist && (best === null || d < bestDist)) {
      best = o;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The effective config as TOML, durations readable, secrets as "***". */
export function renderEffectiveConfig(config: Config): string {
  const view = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const key of DURATION_KEYS) {
    const [table, name] = key.split(".") as [string, string];
    const t = view[table];
    if (!t || t[name] === undefined) continue;
    const value = t[name];
    t[name] = Array.isArray(value) ? value.map((ms: number) => formatDuration(ms)) : formatDuration(value as number);
  }
  // One APN prints as network.apn, a list as network.apns: both at once would not load again.
  const network = view.network!;
  if (Array.isArray(network.apns) && network.apns.length > 1) delete network.apn;
  else delete network.apns;
  const auth = view.auth!;
  if (auth.password !== undefined && auth.password !== "") auth.password = "***";
  else delete auth.password;
  if (view.modem!.pin !== undefined) view.modem!.pin = "***";
  if (view.sms!.secret !== undefined) view.sms!.secret = "***";
  const health = view.health!;
  if (typeof health.http_url === "string" && urlPassword(health.http_url)) {
    const u = new URL(health.http_url);
    u.password = "***";
    health.http_url = u.toString();
  }
  const mqtt = view.mqtt;
  if (mqtt) {
    if (typeof mqtt.password === "string") mqtt.password = "***";
    else delete mqtt.password;
  }
  // modem.init may carry credentials (AT+CGAUTH, AT+QICSGP, AT+CLCK...): shown masked like every AT trace.
  if (Array.isArray(view.modem!.init)) view.modem!.init = (view.modem!.init as string[]).map(redactCommand);
  return stringifyToml(view);
}

export function configLabel(file: string): string {
  return basename(file);
}

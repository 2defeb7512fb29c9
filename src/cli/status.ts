/**
 * `cellkeep status [--url URL] [--json]`: fetch /status from a running agent
 * and print it for a person in a terminal.
 *
 * Exit codes (src/cli/exit-codes.ts):
 *   0  the link is connected
 *   1  the agent answered but the link is not connected
 *   2  bad command line
 *   3  the agent could not be reached, or did not answer with a status document
 *
 * URL forms: http://host:port (default http://127.0.0.1:8080), and for an
 * agent listening on a unix socket: unix:/run/cellkeep.sock or /run/cellkeep.sock.
 */
import { EXIT } from "./exit-codes.ts";
import type { StatusSnapshot } from "../status/status-view.ts";
import { formatByteSize } from "../config/byte-size.ts";
import { maskId } from "../core/mask.ts";

export const DEFAULT_STATUS_URL = "http://127.0.0.1:8080";

export interface StatusCommandIo {
  out(text: string): void;
  err(text: string): void;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** For relative times; defaults to Date.now. */
  now?: () => number;
  timeoutMs?: number;
}

const defaultIo: StatusCommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

const USAGE = `usage: cellkeep status [--url URL] [--json]
  --url URL   agent address: http://HOST:PORT (default ${DEFAULT_STATUS_URL}),
              unix:/path/to.sock or /path/to.sock
  --json      print the raw /status JSON
exit: 0 connected, 1 not connected, 2 usage, 3 agent unreachable
`;

interface Args {
  url: string;
  json: boolean;
  help: boolean;
}

function parse(argv: readonly string[]): Args | string {
  const a: Args = { url: DEFAULT_STATUS_URL, json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") a.json = true;
    else if (arg === "--help" || arg === "-h") a.help = true;
    else if (arg === "--url") {
      const v = argv[++i];
      if (v === undefined) return "--url needs a value";
      a.url = v;
    } else if (arg.startsWith("--url=")) a.url = arg.slice(6);
    else return `unknown argument ${arg}`;
  }
  if (!a.url) return "--url needs a value";
  return a;
}

/** Resolve the URL forms to a fetch target. */
export function statusTarget(url: string): { href: string; unix?: string } | null {
  const base = url.replace(/\/+$/, "");
  if (base.startsWith("unix:") || base.startsWith("/")) {
    const path = base.startsWith("unix:") ? base.slice(5) : base;
    return path ? { href: "http://localhost/status", unix: path } : null;
  }
  try {
    const u = new URL(base);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return { href: `${base}${u.pathname.endsWith("/status") ? "" : "/status"}` };
  } catch {
    return null;
  }
}

export async function statusCommand(argv: readonly string[], io: StatusCommandIo = defaultIo): Promise<number> {
  const args = parse(argv);
  if (typeof args === "string") {
    io.err(`cellkeep status: ${args}\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (args.help) {
    io.out(USAGE);
    return EXIT.OK;
  }
  const target = statusTarget(args.url);
  if (!target) {
    io.err(`cellkeep status: cannot use URL "${args.url}"\n${USAGE}`);
    return EXIT.USAGE;
  }
  const doFetch = io.fetch ?? fetch;
  let status: StatusSnapshot;
  try {
    const init: RequestInit & { unix?: string } = {
      signal: AbortSignal.timeout(io.timeoutMs ?? 5000),
      headers: { accept: "application/json" },
    };
    if (target.unix) init.unix = target.unix;
    const res = await doFetch(target.href, init);
    if (!res.ok) {
      // 421: the agent's DNS-rebinding guard did not recognise the name in --url.
      const hint = res.status === 421 ? " (misdirected request: add this URL's host name to http.allowed_hosts in the agent's config)" : "";
      io.err(`cellkeep status: ${args.url} answered HTTP ${res.status}${hint}\n`);
      return EXIT.UNREACHABLE;
    }
    status = (await res.json()) as StatusSnapshot;
    if (!status || typeof status.state !== "string") throw new Error("not a cellkeep status document");
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    io.err(`cellkeep status: cannot reach the agent at ${args.url}: ${msg}\nIs cellkeep running? Check http.listen in the config.\n`);
    return EXIT.UNREACHABLE;
  }
  io.out(args.json ? JSON.stringify(status, null, 2) + "\n" : formatStatus(status, (io.now ?? Date.now)()));
  return status.state === "connected" ? EXIT.OK : EXIT.FAILURE;
}

function dur(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function ago(iso: string | null, now: number): string {
  if (!iso) return "";
  const d = (now - Date.parse(iso)) / 1000;
  return d >= 0 ? `${dur(d)} ago` : `in ${dur(-d)}`;
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

const join = (parts: (string | null | undefined | false)[], sep = ", ") => parts.filter(Boolean).join(sep);

/** The human summary (exported for tests). */
export function formatStatus(s: StatusSnapshot, now: number): string {
  const rows: [string, string][] = [];
  const row = (k: string, v: string) => rows.push([k, v || "—"]);
  row("State", join([s.state, s.since && `since ${s.since.replace("T", " ").replace(/\.\d+Z$/, "Z")} (${ago(s.since, now)})`], " "));
  row("Cause", s.cause ? `${s.cause.code}: ${s.cause.hint}${s.cause.detail ? ` (${s.cause.detail})` : ""}` : "");
  const p = s.ppp;
  row(
    "Link",
    join([
      p.ipv4 && `${p.ipv4.local} peer ${p.ipv4.remote}`,
      p.ipv4 && p.ipv4.dns.length > 0 && `DNS ${p.ipv4.dns.join(" ")}`,
      p.ipv6 && `IPv6 ${p.ipv6.local}`,
      p.mru !== null && `MRU ${p.mru}`,
      `PPP ${p.phase}`,
      s.link.interface && `${s.link.interface} ${s.link.up ? "up" : "down"}${s.link.defaultRoute ? " (default route)" : ""}`,
    ]),
  );
  if (p.bytesIn !== null) {
    const errs = p.errors ? Object.entries(p.errors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`) : [];
    row("Traffic", `in ${bytes(p.bytesIn)} (${p.packetsIn} pkts), out ${bytes(p.bytesOut ?? 0)} (${p.packetsOut} pkts); errors: ${errs.length ? errs.join(", ") : "none"}`);
  }
  // CMUX (absent from an older agent's /status: the field was added later).
  const x = s.mux;
  if (x && x.state !== "off") {
    const dl = x.dlcis.map((d) => `DLCI ${d.dlci} ${d.use} ${d.state}${d.dcd === null ? "" : d.dcd ? " DCD on" : " DCD off"}`);
    const c = x.counts;
    const bad = c ? [c.badFcs && `bad FCS ${c.badFcs}`, c.malformed && `malformed ${c.malformed}`, c.garbageBytes && `garbage ${c.garbageBytes} B`].filter(Boolean) : [];
    row("Mux", join([`CMUX ${x.state}`, x.frameSize !== null && `N1 ${x.frameSize}`, dl.join(", "), c && `frames in ${c.framesIn} out ${c.framesOut}`, bad.length > 0 && bad.join(", "), x.lastFault && `last fault ${x.lastFault.code}`]));
  }
  const m = s.modem;
  row("Modem", join([join([m.manufacturer, m.model], " "), m.firmware && `firmware ${m.firmware}`, m.imei && `IMEI ${m.imei}`, m.port]));
  row("SIM", join([m.imsi && `IMSI ${m.imsi}`, m.iccid && `ICCID ${m.iccid}`]));
  const r = s.registration;
  row("Network", join([r.status, r.act, r.operator, r.band, r.tac && `TAC ${r.tac}`, r.cell && `cell ${r.cell}`]));
  const g = s.signal;
  row(
    "Signal",
    join([
      g.rssi !== null && `RSSI ${g.rssi} dBm`,
      g.rsrp !== null && `RSRP ${g.rsrp} dBm`,
      g.rsrq !== null && `RSRQ ${g.rsrq} dB`,
      g.sinr !== null && `SINR ${g.sinr} dB`,
    ]),
  );
  const h = s.health;
  row(
    "Health",
    h.at
      ? `last probe ${h.ok ? "ok" : "FAILED"}${h.rttMs !== null ? `, ${h.rttMs} ms` : ""} (${join([h.probe, h.target], " ")}, ${ago(h.at, now)})${h.consecutiveFailures ? `, ${h.consecutiveFailures} consecutive failures` : ""}`
      : "no probe yet",
  );
  const rc = s.recovery;
  row(
    "Recovery",
    join([
      rc.rung ? `rung ${rc.rung}` : "idle",
      `${rc.consecutiveFailures} consecutive failures`,
      rc.nextActionAt && `next action ${ago(rc.nextActionAt, now)}`,
      rc.waitingReason && `waiting: ${rc.waitingReason}`,
    ]),
  );
  const u = s.usage;
  if (u) {
    const capOf = u.caps.stop !== null ? ` of ${formatByteSize(u.caps.stop)} (${Math.min(100, Math.round((u.bytesTotal * 100) / u.caps.stop))} %)` : "";
    const caps = (["warn", "quiet", "stop"] as const)
      .filter((a) => u.caps[a] !== null)
      .map((a) => `${a} ${formatByteSize(u.caps[a]!)}${u.reached.includes(a) ? (u.lifted.includes(a) ? " reached, resumed" : " REACHED") : ""}`);
    row(
      "Usage",
      join([
        `${formatByteSize(u.bytesTotal)}${capOf} this cycle (in ${formatByteSize(u.cycle.bytesIn)}, out ${formatByteSize(u.cycle.bytesOut)})`,
        u.sim && `SIM ${u.sim}`,
        `cycle ends ${ago(u.cycle.end, now)}`,
        caps.length > 0 && `caps: ${caps.join(", ")}`,
        u.heldUntil && `LINK HELD DOWN until ${u.heldUntil} (POST /actions/usage-resume to lift)`,
        u.enforcing.quiet && "active probes off (quiet cap)",
      ]),
    );
    const p = u.probes;
    row(
      "Probe traffic",
      join([
        `${formatByteSize(p.bytesLast24h)} in 24 h`,
        p.bytesPerDayEstimate !== null && `${formatByteSize(p.bytesPerDayEstimate)}/day if every round probes`,
        `${p.roundsActive} rounds probed, ${p.roundsSkipped} skipped${p.quiet ? ` (quiet: ${p.quiet})` : ""}`,
        !p.bytesComplete && "HTTP probe bytes not counted",
      ]),
    );
  }
  // Issue 17's rows come last and only when they have something to say, so the lines
  // above keep their order and padding (labels no longer than "Recovery") for scripts
  // that parse them; an older agent's /status lacks these fields altogether.
  const radio = radioRow(s.radio, now);
  if (radio) row("Radio", radio);
  const failover = failoverRow(s.failover, now);
  if (failover) row("Failover", failover);
  const time = timeRow(s.time, now);
  if (time) row("Time", time);
  const sms = smsRow(s.sms, now);
  if (sms) row("SMS", sms);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return `cellkeep ${s.version}, up ${dur(s.uptime)}\n` + rows.map(([k, v]) => `${k.padEnd(width)}${v}`).join("\n") + "\n";
}

/** A duration in ms for a person: "250 ms", "1.5 s", "3 min". */
function msText(ms: number): string {
  const a = Math.abs(ms);
  if (a < 1000) return `${a} ms`;
  if (a < 90_000) return `${(a / 1000).toFixed(1)} s`;
  return dur(a / 1000);
}

/** The radio policy the last bring-up applied; null before any policy (or from an older agent). */
function radioRow(r: StatusSnapshot["radio"] | undefined, now: number): string | null {
  if (!r || (r.policy === null && !r.roamingDenied)) return null;
  const changed = r.settings.filter((x) => x.result !== "unchanged").map((x) => `${x.name} ${x.result}${x.detail ? ` (${x.detail})` : ""}`);
  const unchanged = r.settings.length - changed.length;
  return join([
    r.policy === "applied" && `policy applied${r.at ? ` ${ago(r.at, now)}` : ""}`,
    r.policy === "refused" && `policy REFUSED${r.at ? ` ${ago(r.at, now)}` : ""}`,
    changed.length > 0 && changed.join(", "),
    unchanged > 0 && `${unchanged} unchanged`,
    `${r.writes} NVRAM writes since start`,
    r.notes.length > 0 && `notes: ${r.notes.join("; ")}`,
    r.roamingDenied && "ROAMING DENIED: waiting for the home network, no dialling",
  ]);
}

/** APN and SIM slot failover; null while there is nothing to fail over to and nothing happened. */
function failoverRow(f: StatusSnapshot["failover"] | undefined, now: number): string | null {
  if (!f) return null;
  const apnList = f.apnCount !== null && f.apnCount > 1;
  if (!apnList && f.apnFailovers === 0 && f.simSwitches === 0 && f.dualSim === null) return null;
  return join([
    f.apn !== null && `APN ${f.apn}${apnList && f.apnIndex !== null ? ` (${f.apnIndex + 1} of ${f.apnCount})` : ""}`,
    `${f.apnFailovers} APN failovers`,
    f.simSlot !== null && `SIM slot ${f.simSlot}`,
    f.dualSim === false && "one SIM slot (no SIM failover)",
    f.dualSim !== false && (f.dualSim !== null || f.simSwitches > 0) && `${f.simSwitches} SIM switches${f.lastSimSwitchAt ? `, last ${ago(f.lastSimSwitchAt, now)}` : ""}`,
  ]);
}

/** The network's time and the system clock; null until the network's time was read or the clock moved. */
function timeRow(t: StatusSnapshot["time"] | undefined, now: number): string | null {
  if (!t || (t.network === null && t.systemClockResult === null && !t.clockStepMs)) return null;
  return join([
    t.network !== null && `network ${t.network}${t.source || t.readAt ? ` (${join([t.source, t.readAt && `read ${ago(t.readAt, now)}`])})` : ""}`,
    t.offsetMs !== null && (t.offsetMs === 0 ? "system clock in step" : `system clock ${msText(t.offsetMs)} ${t.offsetMs > 0 ? "ahead" : "behind"}`),
    t.clockStepMs !== 0 && `clock stepped ${t.clockStepMs > 0 ? "+" : "-"}${msText(t.clockStepMs)} since start`,
    t.systemClockResult === "set" && `system clock set by cellkeep ${ago(t.systemClockSetAt, now)}`,
    t.systemClockResult === "failed" && `setting the system clock FAILED${t.systemClockCause ? ` (${t.systemClockCause.code})` : ""}`,
  ]);
}

/** SMS control counts and the last command; null until an SMS was handled. */
function smsRow(m: StatusSnapshot["sms"] | undefined, now: number): string | null {
  if (!m || (m.commands === 0 && m.rejected === 0 && m.replies === 0 && m.replyFailures === 0 && m.last === null)) return null;
  const by = Object.entries(m.rejectedBy).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`);
  const l = m.last;
  return join([
    `${m.commands} commands`,
    `${m.rejected} rejected${by.length > 0 ? ` (${by.join(", ")})` : ""}`,
    `${m.replies} replies sent${m.replyFailures ? `, ${m.replyFailures} failed` : ""}`,
    // The sender is masked by the agent already; masking again keeps a number out of the terminal whatever sent the document.
    l && `last: ${l.command}${l.force ? " (forced)" : ""} from ${maskId(l.from) ?? "?"}: ${l.outcome}${l.message ? ` — ${l.message}` : ""}${l.at ? ` (${ago(l.at, now)})` : ""}`,
  ]);
}

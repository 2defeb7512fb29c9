/**
 * Fault scenarios for the virtual modem: named, combinable, parameterised.
 *
 * A scenario spec is `name` or `name:value` or `name:key=value,key=value`
 * (e.g. "drop-after:30", "hang:after=3,recover=60"). `resolveBehaviour` folds
 * a list of specs into one SimBehaviour: plain data the modem core reads.
 * Every duration here is in *modem time* (what a real BG96 would take) and is
 * multiplied by the time scale once, here, so the core only sees scaled ms.
 */
import { CellkeepError } from "../core/cause.ts";

export const SCENARIO_NAMES = [
  "healthy",
  "slow-registration",
  "sim-missing",
  "sim-pin",
  "registration-denied",
  "dial-before-attach",
  "wrong-credentials",
  "no-ip",
  "hang",
  "drop-after",
  "dead-peer",
  "garbage",
  "reboot-loop",
  "port-vanish",
  "network-backoff",
  "apn-rejected",
  "t3396",
  "reboot-mid-call",
  "nocarrier-payload",
  "network-drop",
  "roaming",
  "dual-sim",
  "radio-refuse",
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One-line description of each scenario (README, `cellkeep simulate --help`). */
export const SCENARIO_HELP: Readonly<Record<ScenarioName, string>> = {
  healthy: "SIM ready, registers on the home network after 2 s, attaches, dials, PPP up with 10.64.0.x",
  "slow-registration": "registration takes N s (default 30) instead of 2 s  [slow-registration:SECONDS]",
  "sim-missing": "no SIM: AT+CPIN? answers +CME ERROR: 10, the modem never registers",
  "sim-pin": "SIM asks for a PIN (default 1234); AT+CPIN=\"PIN\" unlocks it, 3 wrong PINs give SIM PUK  [sim-pin:PIN]",
  "registration-denied": "the network denies registration (CEREG/CGREG/CREG stat 3), for good or for S s from power-on, then registers; cause=N shows EMM reject cause N with AT+CEREG=3  [registration-denied:for=S,cause=N]",
  "dial-before-attach": "no automatic packet attach: dialling before AT+CGATT=1 connects, PAP succeeds, then the network sends LCP Terminate-Request",
  "wrong-credentials": "the network rejects every PAP/CHAP login (PAP Nak / CHAP Failure)",
  "no-ip": "IPCP never assigns an address (the network Naks with 0.0.0.0 and never acks one)",
  hang: "after N answered commands (default 3) the AT interpreter stops answering, CFUN=1,1 included; with call=S instead the whole module freezes S s after CONNECT (no PPP, no AT, +++ and DTR ignored); recovers on power cycle, pty close, or after recover=S  [hang:N | hang:after=N,recover=S | hang:call=S]",
  "drop-after": "every data call drops after N s (default 30) with NO CARRIER  [drop-after:SECONDS]",
  "dead-peer": "N s (default 0) after IPCP opens the network stops answering anything, LCP echo included; the line stays up  [dead-peer:SECONDS]",
  garbage: "random bytes and URC storms on the line between commands every N s (default 2)  [garbage:SECONDS]",
  "reboot-loop": "the module reboots by itself N s (default 15) after every boot  [reboot-loop:SECONDS | reboot-loop:every=S,times=K]",
  "port-vanish": "every reboot makes the pty disappear until the module has booted again, then it comes back at the same path  [port-vanish:SECONDS also reboots N s after CONNECT]",
  "network-backoff": "first registration rejected (stat 3, EMM cause 22 congestion) with a back-off timer of N s (default 60), readable via AT+QNWCFG=\"backoff\"; then it registers  [network-backoff:SECONDS]",
  "apn-rejected": "the network accepts only APN (default \"internet\"): a dial with another APN gets NO CARRIER at once and AT+CEER reports ESM cause 27  [apn-rejected:APN]",
  t3396: "session back-off: the first dial is rejected (NO CARRIER, AT+CEER: ESM cause 26 with T3396) and so is every dial for N s after it; registration stays home  [t3396:SECONDS]",
  "reboot-mid-call": "the module reboots by itself N s (default 20) after CONNECT, once (times=K for more): silence, no NO CARRIER, then RDY  [reboot-mid-call:SECONDS | reboot-mid-call:after=S,times=K]",
  "nocarrier-payload": "while a call is up, every N s (default 1) the network sends the gateway a UDP datagram full of \"\\r\\nNO CARRIER\\r\\n\" (bytes=B, default 100); the call stays up  [nocarrier-payload:SECONDS | nocarrier-payload:every=S,bytes=B]",
  roaming: "the only network is a roaming partner: registration stat 5 (roaming); with home=S the home network appears S s after power-on (stat 1, with URCs)  [roaming | roaming:home=S]",
  "dual-sim": "two SIM slots (AT+QDSIM? / AT+QDSIM=<0|1>, taken at the next CFUN=1 or boot): slot 1 is the scenario's SIM, slot 2 (sim2=ready|missing|denied|roaming, default ready) has its own IMSI and ICCID  [dual-sim | dual-sim:sim2=missing]",
  "radio-refuse": "the module refuses one AT+QCFG setting (NAME: nwscanseq, nwscanmode, iotopmode, band, roamservice): how=error answers +CME ERROR: 4, how=ignore answers OK and keeps the old value  [radio-refuse:NAME | radio-refuse:what=NAME,how=ignore]",
  "network-drop": "N s (default 20) after CONNECT the network is lost: NO CARRIER, registration searching (stat 2) with URCs, back home after back=S2 s (default 10); every call (times=K to limit)  [network-drop:SECONDS,back=S2,times=K]",
};

export interface ScenarioSpec {
  name: ScenarioName;
  /** The bare value of "name:value", if any. */
  value?: string;
  /** key=value pairs of "name:k=v,k=v". */
  params: Record<string, string>;
}

export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(s);
}

/** Parse "name[:value | :k=v,k=v]". Throws CellkeepError("config-invalid") on unknown names. */
export function parseScenario(text: string): ScenarioSpec {
  const colon = text.indexOf(":");
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  if (!isScenarioName(name)) {
    throw new CellkeepError("config-invalid", `unknown simulator scenario "${name}"; known: ${SCENARIO_NAMES.join(", ")}`);
  }
  const spec: ScenarioSpec = { name, params: {} };
  if (colon >= 0) {
    const rest = text.slice(colon + 1).trim();
    if (rest.includes("=")) {
      const parts = rest.split(",");
      for (const [i, part] of parts.entries()) {
        const eq = part.indexOf("=");
        // "name:VALUE,k=v": a bare first part is the value (e.g. "network-drop:20,back=5").
        if (eq < 0 && i === 0 && part.trim() !== "") {
          spec.value = part.trim();
          continue;
        }
        if (eq < 0) throw new CellkeepError("config-invalid", `scenario "${text}": expected key=value, got "${part}"`);
        spec.params[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
      }
    } else if (rest !== "") {
      spec.value = rest;
    }
  }
  return spec;
}

/** Accepts specs, strings, or comma-free lists of both. */
export function parseScenarios(items: readonly (string | ScenarioSpec)[]): ScenarioSpec[] {
  return items.map((x) => (typeof x === "string" ? parseScenario(x) : x));
}

export interface Credentials {
  username: string;
  password: string;
}

/** Everything the modem core needs to know about its world. Durations are scaled ms. */
export interface SimBehaviour {
  model: "BG96" | "BG77";
  /** Power-on to RDY. */
  bootMs: number;
  /** Radio on (CFUN=1 with SIM ready) to registered. */
  registrationMs: number;
  /** Registered to packet-service attached (automatic attach or AT+CGATT=1). */
  attachMs: number;
  /** Limit for AT+CGATT=1 waiting for registration (BG96 manual: 140 s max response time). */
  attachTimeoutMs: number;
  /** +++ guard time (S12, 1 s). */
  guardMs: number;
  sim: "ready" | "pin" | "missing";
  pin: string;
  registration: "home" | "denied" | "backoff";
  /** registration-denied:for=S: the denial ends this long after power-on (null: for good). */
  deniedForMs: number | null;
  /** EMM reject cause shown with a denial (AT+CEREG=3); null shows none. */
  denyCause: number | null;
  backoffMs: number;
  /** Does the module attach by itself once registered (LTE default) or wait for AT+CGATT=1. */
  autoAttach: boolean;
  /** Expected PPP credentials: null accepts any login; "reject" refuses every login. */
  auth: Credentials | null | "reject";
  /** IPCP hands out an address. */
  assignAddress: boolean;
  /** First address of the pool handed out over IPCP. */
  poolStart: string;
  /** Our (the network's) side of the link, also reachable by ping. */
  peerAddress: string;
  dns: [string, string];
  /** Addresses that answer ICMP echo (the peer address is added automatically). */
  reachable: string[];
  /** Name the DNS responder answers, and the address it returns. */
  probeName: string;
  probeAddress: string;
  /** afterConnectMs: hang S s after CONNECT (in data mode) instead of after N commands. */
  hang: { afterCommands: number; recoverMs: number | null; afterConnectMs: number | null } | null;
  dropAfterMs: number | null;
  deadPeerAfterMs: number | null;
  garbageEveryMs: number | null;
  rebootLoop: { everyMs: number; times: number } | null;
  portVanish: { afterConnectMs: number | null } | null;
  /** reboot-mid-call: the module reboots by itself this long after CONNECT, for the first `times` calls. */
  rebootMidCall: { afterConnectMs: number; times: number } | null;
  /** apn-rejected: the only APN the network accepts (case-insensitive); null accepts any. */
  acceptApn: string | null;
  /** t3396: the first dial starts the ESM back-off timer T3396 of this long; dials until it expires are rejected. */
  t3396Ms: number | null;
  /** nocarrier-payload: while IPCP is open, a UDP datagram of `bytes` "\r\nNO CARRIER\r\n" bytes every `everyMs`. */
  noCarrierPayload: { everyMs: number; bytes: number } | null;
  /** network-drop: `afterConnectMs` after CONNECT the network is lost (NO CARRIER, stat 2) for `backMs`, for the first `times` calls. */
  networkDrop: { afterConnectMs: number; backMs: number; times: number } | null;
  /** roaming: registration is roaming (stat 5), until homeAfterMs after power-on when set. */
  roaming: { homeAfterMs: number | null } | null;
  /** dual-sim: the second slot's card (slot 1 is `sim` / `registration`); null: one slot, no AT+QDSIM. */
  sim2: SlotCard | null;
  /** radio-refuse: AT+QCFG settings the module refuses (error) or silently keeps (ignore). */
  radioRefuse: { name: string; how: "error" | "ignore" }[];
  /** Seed for the garbage generator, so runs are reproducible. */
  seed: number;
}

/** The card in the second slot of a dual-sim module and how the network treats it. */
export type SlotCard = "ready" | "missing" | "denied" | "roaming";

export interface BehaviourOverrides extends Partial<Omit<SimBehaviour, "dns">> {
  dns?: [string, string];
}

function seconds(spec: ScenarioSpec, key: string, dflt: number): number {
  const raw = spec.params[key] ?? (key === "value" ? spec.value : undefined);
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new CellkeepError("config-invalid", `scenario "${spec.name}": "${raw}" is not a number of seconds`);
  return n;
}

/** A whole count parameter (times=K, bytes=B); `dflt` when absent. */
function count(spec: ScenarioSpec, key: string, dflt: number): number {
  const raw = spec.params[key];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new CellkeepError("config-invalid", `scenario "${spec.name}": ${key}="${raw}" is not a whole number`);
  return n;
}

/**
 * Fold scenario specs into one behaviour. Later specs override earlier ones
 * where they touch the same knob; `overrides` (already in scaled ms) win last.
 */
export function resolveBehaviour(
  items: readonly (string | ScenarioSpec)[],
  timeScale = 1,
  overrides: BehaviourOverrides = {},
): SimBehaviour {
  if (!(timeScale > 0)) throw new CellkeepError("config-invalid", `time scale must be > 0, got ${timeScale}`);
  const ms = (s: number) => Math.max(0, Math.round(s * 1000 * timeScale));
  const b: SimBehaviour = {
    model: "BG96",
    bootMs: ms(1),
    registrationMs: ms(2),
    attachMs: ms(0.5),
    attachTimeoutMs: ms(140),
    guardMs: ms(1),
    sim: "ready",
    pin: "1234",
    registration: "home",
    deniedForMs: null,
    denyCause: null,
    backoffMs: ms(60),
    autoAttach: true,
    auth: null,
    assignAddress: true,
    poolStart: "10.64.0.2",
    peerAddress: "10.64.0.1",
    dns: ["10.64.0.53", "10.64.0.54"],
    reachable: ["8.8.8.8", "1.1.1.1"],
    probeName: "probe.cellkeep.test",
    probeAddress: "10.64.0.80",
    hang: null,
    dropAfterMs: null,
    deadPeerAfterMs: null,
    garbageEveryMs: null,
    rebootLoop: null,
    portVanish: null,
    rebootMidCall: null,
    acceptApn: null,
    t3396Ms: null,
    noCarrierPayload: null,
    networkDrop: null,
    roaming: null,
    sim2: null,
    radioRefuse: [],
    seed: 0x5eed,
  };
  for (const spec of parseScenarios(items)) {
    switch (spec.name) {
      case "healthy":
        break;
      case "slow-registration":
        b.registrationMs = ms(seconds(spec, "value", 30));
        break;
      case "sim-missing":
        b.sim = "missing";
        break;
      case "sim-pin":
        b.sim = "pin";
        if (spec.value) b.pin = spec.value;
        if (spec.params.pin) b.pin = spec.params.pin;
        break;
      case "registration-denied": {
        b.registration = "denied";
        const forS = spec.params.for !== undefined ? seconds(spec, "for", 0) : spec.value !== undefined ? seconds(spec, "value", 0) : null;
        b.deniedForMs = forS === null ? null : ms(forS);
        if (spec.params.cause !== undefined) b.denyCause = Math.floor(seconds(spec, "cause", 0));
        break;
      }
      case "dial-before-attach":
        b.autoAttach = false;
        break;
      case "wrong-credentials":
        b.auth = "reject";
        break;
      case "no-ip":
        b.assignAddress = false;
        break;
      case "hang": {
        const after = spec.value !== undefined ? seconds(spec, "value", 3) : seconds(spec, "after", 3);
        const recover = spec.params.recover !== undefined ? ms(seconds(spec, "recover", 0)) : null;
        const call = spec.params.call !== undefined ? ms(seconds(spec, "call", 0)) : null;
        b.hang = { afterCommands: Math.floor(after), recoverMs: recover, afterConnectMs: call };
        break;
      }
      case "drop-after":
        b.dropAfterMs = ms(seconds(spec, "value", 30));
        break;
      case "dead-peer":
        b.deadPeerAfterMs = ms(seconds(spec, "value", 0));
        break;
      case "garbage":
        b.garbageEveryMs = Math.max(1, ms(seconds(spec, "value", 2)));
        if (spec.params.seed) b.seed = Number(spec.params.seed) | 0;
        break;
      case "reboot-loop": {
        const every = spec.value !== undefined ? seconds(spec, "value", 15) : seconds(spec, "every", 15);
        const times = spec.params.times !== undefined ? Math.floor(seconds(spec, "times", 0)) : Number.POSITIVE_INFINITY;
        b.rebootLoop = { everyMs: Math.max(1, ms(every)), times };
        break;
      }
      case "port-vanish":
        b.portVanish = { afterConnectMs: spec.value !== undefined ? ms(seconds(spec, "value", 0)) : null };
        break;
      case "network-backoff":
        b.registration = "backoff";
        b.backoffMs = ms(seconds(spec, "value", 60));
        break;
      case "apn-rejected":
        b.acceptApn = spec.value ?? spec.params.apn ?? "internet";
        break;
      case "t3396":
        b.t3396Ms = Math.max(1, ms(spec.value !== undefined ? seconds(spec, "value", 60) : seconds(spec, "for", 60)));
        break;
      case "reboot-mid-call": {
        const after = spec.value !== undefined ? seconds(spec, "value", 20) : seconds(spec, "after", 20);
        b.rebootMidCall = { afterConnectMs: ms(after), times: count(spec, "times", 1) };
        break;
      }
      case "nocarrier-payload": {
        const every = spec.value !== undefined ? seconds(spec, "value", 1) : seconds(spec, "every", 1);
        b.noCarrierPayload = { everyMs: Math.max(1, ms(every)), bytes: Math.max(1, Math.min(1400, count(spec, "bytes", 100))) };
        break;
      }
      case "roaming":
        b.roaming = { homeAfterMs: spec.params.home !== undefined ? ms(seconds(spec, "home", 0)) : null };
        break;
      case "dual-sim": {
        const card = spec.params.sim2 ?? spec.value ?? "ready";
        if (!["ready", "missing", "denied", "roaming"].includes(card)) {
          throw new CellkeepError("config-invalid", `scenario "${spec.name}": sim2="${card}" is not one of ready, missing, denied, roaming`);
        }
        b.sim2 = card as SlotCard;
        break;
      }
      case "radio-refuse": {
        const name = spec.params.what ?? spec.value;
        const how = spec.params.how ?? "error";
        if (!name || (how !== "error" && how !== "ignore")) {
          throw new CellkeepError("config-invalid", `scenario "${spec.name}": expected radio-refuse:NAME or radio-refuse:what=NAME,how=error|ignore`);
        }
        b.radioRefuse = [...b.radioRefuse, { name: name.toLowerCase(), how }];
        break;
      }
      case "network-drop": {
        const after = spec.value !== undefined ? seconds(spec, "value", 20) : seconds(spec, "after", 20);
        b.networkDrop = { afterConnectMs: ms(after), backMs: Math.max(1, ms(seconds(spec, "back", 10))), times: count(spec, "times", Number.POSITIVE_INFINITY) };
        break;
      }
    }
  }
  return { ...b, ...overrides } as SimBehaviour;
}

/**
 * Test harness: the virtual modem's AT core (src/sim/modem-core.ts) on the far
 * end of an in-memory pipe, driven by a ManualScheduler, plus a tiny stand-in
 * for PPP on both sides of CONNECT so supervisor tests exercise the data-mode
 * hand-off without the PPP stack. Fake time only: runUntil() jumps from timer
 * to timer and lets queued microtasks (pipe deliveries) settle in between.
 */
import { ManualScheduler, type CancelTimer } from "../../src/core/clock.ts";
import { cause, CellkeepError, type Cause } from "../../src/core/cause.ts";
import { createPipePair, type BytePipe } from "../../src/core/pipe.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { ModemCore } from "../../src/sim/modem-core.ts";
import type { DataSession, DataSessionContext, DataSessionFactory } from "../../src/sim/data-session.ts";
import type { SimEvent } from "../../src/sim/events.ts";
import { resolveBehaviour, type BehaviourOverrides } from "../../src/sim/scenario.ts";
import type { CreateBearer, DataBearer } from "../../src/core/data-bearer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Advance fake time timer by timer until `cond()` holds or `maxMs` passed. */
export async function runUntil(sched: ManualScheduler, cond: () => boolean, maxMs: number): Promise<boolean> {
  const end = sched.now() + maxMs;
  for (let i = 0; i < 200_000; i++) {
    await flush();
    await flush();
    if (cond()) return true;
    const next = sched.nextDeadline();
    if (next === null || next > end) {
      sched.advanceTo(end);
      await flush();
      return cond();
    }
    sched.advanceTo(next);
  }
  return cond();
}

export function testConfig(toml = ""): Config {
  const r = loadConfigText(`[network]\napn = "internet"\n${toml}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** Modem-side stand-in output as a "frame": between two flags. */
function frameText(text: string): Uint8Array {
  return enc.encode(`~${text}~`);
}

/**
 * Stand-in for the PPP server behind CONNECT: the DTE's "HELLO" gets "UP"
 * when the call was placed attached, else "TERMINATED" (what dial-before-attach
 * does to real PPP: auth passes, then LCP Terminate); "BYE" ends the call.
 * Each answer goes out between flags (0x7e) like an HDLC frame: the AT
 * channel takes NO CARRIER only after a flag (RFC 1662 §4.2), as from real PPP.
 */
class FakeDataSession implements DataSession {
  private out: Uint8Array[] = [];
  private text = "";
  ended = false;
  ipUp = false;
  private dead = false;
  constructor(private readonly ctx: DataSessionContext, private readonly auth: "accept" | "reject", private readonly noIp: boolean) {}
  input(data: Uint8Array): void {
    if (this.dead) return;
    this.text += dec.decode(data);
    if (this.text.includes("HELLO\n")) {
      this.text = this.text.replace("HELLO\n", "");
      if (!this.ctx.attached) {
        this.out.push(frameText("TERMINATED\n"));
        this.ended = true;
      } else if (this.auth === "reject") this.out.push(frameText("AUTHFAIL\n"));
      else if (this.noIp) this.out.push(frameText("NOIP\n"));
      else {
        this.ipUp = true;
        this.out.push(frameText("UP\n"));
      }
    }
    if (this.text.includes("BYE\n")) this.ended = true;
  }
  poll(): void {}
  takeOutput(): Uint8Array[] {
    const o = this.out;
    this.out = [];
    return o;
  }
  takeEvents(): SimEvent[] {
    return [];
  }
  nextDeadline(): number | null {
    return null;
  }
  hangUp(): void {
    this.ended = true;
  }
  setDead(dead: boolean): void {
    this.dead = dead;
  }
}

/**
 * A bearer that carries no IP: `start` and `stop` are the test's; sends are
 * refused, counters stay zero, no keepalive.
 */
export function stubBearer(kind: string, start: () => void, stop: () => Promise<void> = async () => {}): DataBearer {
  return {
    kind,
    start,
    stop,
    ip: { sendIp: () => false, onIp: () => () => {} },
    counters: () => ({ bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, errors: {} }),
    keepalive: () => null,
  };
}

/** A bearer that is up the moment it starts (no addresses), for tests of what happens around the call. */
export const upAtOnce: CreateBearer = (_pipe, hooks) => stubBearer("up-at-once", () => hooks.up({ ipv4: null, ipv6: null, mtu: 1500 }));

/** The DTE side of the stand-in PPP. */
export const fakePppBearer: CreateBearer = (pipe, hooks) => {
  let text = "";
  let done = false;
  const finish = (c: Cause | null) => {
    if (done) return;
    done = true;
    hooks.down(c);
  };
  const offData = pipe.onData((d) => {
    text += dec.decode(d);
    if (text.includes("UP\n") && !text.includes("TERMINATED")) {
      text = "";
      hooks.up({ ipv4: { local: "10.64.0.2", remote: "10.64.0.1", dns: ["10.64.0.53"] }, ipv6: null, mtu: 1500 });
    }
    if (text.includes("TERMINATED\n")) finish(cause("terminated-after-auth"));
    if (text.includes("AUTHFAIL\n")) finish(cause("auth-rejected"));
    if (text.includes("NOIP\n")) finish(cause("ipcp-no-address"));
  });
  pipe.onClose((reason) => finish(reason ?? cause("carrier-lost")));
  return stubBearer(
    "fake-ppp",
    () => pipe.write(enc.encode("HELLO\n")),
    async () => {
      if (!done) pipe.write(enc.encode("BYE\n"));
      done = true;
      offData();
    },
  );
};

export interface TestModemOptions {
  scenarios?: string[];
  booted?: boolean;
  timeScale?: number;
  overrides?: BehaviourOverrides;
  auth?: "accept" | "reject";
  noIp?: boolean;
  /** What runs behind CONNECT instead of the stand-in PPP (auth and noIp then do not apply). */
  dataSession?: DataSessionFactory;
}

/** The sim's modem core on a fake-time pipe, with USB-style port vanishing. */
export class TestModem {
  readonly core: ModemCore;
  readonly events: SimEvent[] = [];
  readonly received: string[] = [];
  private modemEnd: BytePipe | null = null;
  private cancel: CancelTimer | null = null;
  present = true;
  opens = 0;

  constructor(
    readonly sched: ManualScheduler,
    opts: TestModemOptions = {},
  ) {
    const behaviour = resolveBehaviour(opts.scenarios ?? ["healthy"], opts.timeScale ?? 1, opts.overrides ?? {});
    this.core = new ModemCore({
      behaviour,
      now: sched.now(),
      booted: opts.booted ?? true,
      dataSession: opts.dataSession ?? ((ctx) => new FakeDataSession(ctx, opts.auth ?? "accept", opts.noIp ?? false)),
    });
    this.pump();
  }

  /** SupervisorDeps.openPort */
  openPort = async (): Promise<BytePipe> => {
    if (!this.present) throw new CellkeepError("port-not-found", "the test modem's port is gone");
    this.modemEnd?.close();
    const [agent, modem] = createPipePair();
    this.modemEnd = modem;
    this.opens++;
    modem.onData((d) => {
      this.received.push(dec.decode(d));
      this.core.input(d, this.sched.now());
      this.pump();
    });
    // Pty-like modem lines: DTR reaches the modem core.
    (agent as BytePipe & { setLines?: unknown }).setLines = async (lines: { dtr?: boolean }) => {
      if (lines.dtr !== undefined) {
        this.core.setDtr(lines.dtr, this.sched.now());
        this.pump();
      }
    };
    return agent;
  };

  /** All command lines the modem received, in order. */
  commands(): string[] {
    return this.events.filter((e): e is Extract<SimEvent, { type: "sim.command" }> => e.type === "sim.command").map((e) => e.line);
  }

  /** Push out whatever the core produced and re-arm its timer. */
  pump(): void {
    for (const e of this.core.takeEvents()) {
      this.events.push(e);
      if (e.type === "sim.port") {
        this.present = e.present;
        if (!e.present) {
          const m = this.modemEnd;
          this.modemEnd = null;
          void m?.close();
        }
      }
    }
    const out = this.core.takeOutput();
    if (out.length > 0 && this.modemEnd?.isOpen) this.modemEnd.write(out);
    this.cancel?.();
    this.cancel = null;
    const at = this.core.nextDeadline();
    if (at !== null) {
      this.cancel = this.sched.setTimer(at, () => {
        this.cancel = null;
        this.core.poll(this.sched.now());
        this.pump();
      });
    }
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
    void this.modemEnd?.close();
  }
}

/** A rule of a scripted modem: a command pattern and its answer (null = silence). */
export type ScriptRule = [RegExp, string | null | ((cmd: string) => string | null)];

/**
 * A scripted modem for causes the virtual modem has no scenario for: every
 * command line gets the first matching rule's answer (CR LF framed), default OK.
 * Answers are written after `delayMs` of fake time.
 */
export class ScriptedModem {
  readonly commands: string[] = [];
  private modemEnd: BytePipe | null = null;
  private buf = "";
  opens = 0;
  constructor(
    readonly sched: ManualScheduler,
    public rules: ScriptRule[],
    private readonly delayMs = 5,
  ) {}

  openPort = async (): Promise<BytePipe> => {
    const [agent, modem] = createPipePair();
    this.modemEnd = modem;
    this.opens++;
    modem.onData((d) => {
      this.buf += dec.decode(d);
      let i: number;
      while ((i = this.buf.indexOf("\r")) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (line) this.answer(line);
      }
    });
    return agent;
  };

  /** Put raw bytes on the line now (URC storms, garbage). */
  inject(text: string | Uint8Array): void {
    this.modemEnd?.write(typeof text === "string" ? enc.encode(text) : text);
  }

  private answer(cmd: string): void {
    this.commands.push(cmd);
    const rule = this.rules.find(([re]) => re.test(cmd));
    const a = rule ? (typeof rule[1] === "function" ? rule[1](cmd) : rule[1]) : "OK";
    if (a === null) return;
    this.sched.setTimer(this.sched.now() + this.delayMs, () => this.modemEnd?.write(enc.encode(`\r\n${a.split("\n").join("\r\n")}\r\n`)));
  }

  stop(): void {
    void this.modemEnd?.close();
  }
}

/** Rules of a healthy modem up to CONNECT; put specific rules first. */
export const HEALTHY_RULES: ScriptRule[] = [
  [/^ATI$/, "Quectel\nBG96\nRevision: BG96MAR02A07M1G\nOK"],
  [/^AT\+CGMM$/, "BG96\nOK"],
  [/^AT\+CGSN$/, "867698040000001\nOK"],
  [/^AT\+CIMI$/, "262011234567890\nOK"],
  [/^AT\+QCCID$/, "+QCCID: 89490200001234567890\nOK"],
  [/^AT\+CPIN\?$/, "+CPIN: READY\nOK"],
  [/^AT\+CEREG\?$/, '+CEREG: 3,1,"1A2B","01A2B3C4",8\nOK'],
  [/^AT\+CGREG\?$/, "+CGREG: 2,1\nOK"],
  [/^AT\+CREG\?$/, "+CREG: 2,1\nOK"],
  [/^AT\+CGATT\?$/, "+CGATT: 1\nOK"],
  [/^AT\+CSQ$/, "+CSQ: 20,99\nOK"],
  [/^AT\+QCSQ$/, '+QCSQ: "eMTC",-65,-90,150,-10\nOK'],
  [/^AT\+QNWINFO$/, '+QNWINFO: "eMTC","26201","LTE BAND 20",6300\nOK'],
  [/^AT\+COPS\?$/, '+COPS: 0,0,"Telekom.de",8\nOK'],
  [/^ATD/, "CONNECT 150000000"],
];

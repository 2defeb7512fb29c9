/**
 * The supervisor with the real PPP stack against the virtual modem (its AT
 * personality and its PPP server) in-process, on fake time.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { Cause } from "../../src/core/cause.ts";
import { AlwaysRedial, type RecoveryDecision, type RecoveryPolicy } from "../../src/core/recovery-policy.ts";
import { ModemSupervisor } from "../../src/modem/supervisor.ts";
import { pppBearerFactory, type PppBearer } from "../../src/bearer/ppp.ts";
import type { ModemEvent } from "../../src/modem/events.ts";
import { createInProcessModem, type InProcessModem } from "../../src/sim/in-process.ts";
import { runUntil, testConfig } from "./harness.ts";

class Recorder extends AlwaysRedial implements RecoveryPolicy {
  failures: Cause[] = [];
  lost: Cause[] = [];
  connected = 0;
  override onBringUpFailure(c: Cause, now: number): RecoveryDecision {
    this.failures.push(c);
    return super.onBringUpFailure(c, now);
  }
  override onLinkLost(c: Cause, now: number): RecoveryDecision {
    this.lost.push(c);
    return super.onLinkLost(c, now);
  }
  override onConnected(): void {
    this.connected++;
  }
}

const fixedRandom = (n: number) => new Uint8Array(n).map((_, i) => (i * 37 + 11) & 0xff);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

function rig(scenarios: string[], toml = "") {
  const sched = new ManualScheduler();
  const im: InProcessModem = createInProcessModem({ scheduler: sched, scenarios, booted: true, random: fixedRandom });
  const config = testConfig(toml.includes("[auth]") ? toml : `${toml}\n[auth]\nmethod = "auto"\nusername = "user"\npassword = "pass"\n`);
  const events: ModemEvent[] = [];
  const policy = new Recorder(1000);
  const sup = new ModemSupervisor<PppBearer>({
    config,
    scheduler: sched,
    openPort: async () => im.reopen(),
    policy,
    emit: (e) => events.push(e),
    createBearer: pppBearerFactory({ config, scheduler: sched, random: (n) => fixedRandom(n).map((b) => b ^ 0x5a) }),
  });
  cleanups.push(async () => {
    const p = sup.stop();
    await runUntil(sched, () => sup.state === "stopped", 60_000);
    await p;
    await im.stop();
  });
  return { sched, im, sup, events, policy };
}

describe("supervisor + PPP + virtual modem (in-process)", () => {
  test("healthy: connected with an IPv4 address from IPCP; stop() terminates LCP and verifies AT", async () => {
    const r = rig(["healthy"]);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    const up = r.events.find((e) => e.type === "ppp.up") as { ipv4: { local: string; remote: string } } | undefined;
    expect(up?.ipv4.local).toMatch(/^10\.64\.0\.\d+$/);
    expect(r.sup.bearer?.session.status().phase).toBe("open");
    const p = r.sup.stop();
    await runUntil(r.sched, () => r.sup.state === "stopped", 60_000);
    await p;
    const hang = r.events.find((e) => e.type === "modem.hangup") as { method: string; verified: boolean } | undefined;
    expect(hang?.verified).toBe(true);
    expect(r.im.modem.core.modeState).toBe("command");
  });

  test("dial-before-attach: connected without a terminated-after-auth loop", async () => {
    const r = rig(["dial-before-attach"]);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 200_000)).toBe(true);
    expect(r.policy.failures).toEqual([]);
  });

  test("wrong-credentials: auth-rejected from PPP reaches the policy", async () => {
    const r = rig(["wrong-credentials"], '[auth]\nmethod = "pap"\nusername = "u"\npassword = "secret-pw"\n');
    r.sup.start();
    await runUntil(r.sched, () => r.policy.failures.length > 0, 120_000);
    expect(r.policy.failures[0]?.code).toBe("auth-rejected");
    expect(JSON.stringify(r.events)).not.toContain("secret-pw");
  });

  test("dead-peer: LCP echo failures end the link as peer-dead and it is redialled", async () => {
    const r = rig(["dead-peer:5"], '[ppp]\necho_interval = "5s"\necho_failures = 3\n');
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    await runUntil(r.sched, () => r.policy.lost.length > 0, 120_000);
    expect(r.policy.lost[0]?.code).toBe("peer-dead");
  });

  test("drop-after: NO CARRIER in the PPP stream is carrier-lost; the next call connects", async () => {
    const r = rig(["drop-after:20"]);
    r.sup.start();
    await runUntil(r.sched, () => r.sup.state === "connected", 60_000);
    await runUntil(r.sched, () => r.policy.lost.length > 0, 60_000);
    expect(r.policy.lost[0]?.code).toBe("carrier-lost");
    expect(await runUntil(r.sched, () => r.policy.connected >= 2, 60_000)).toBe(true);
  });
});

describe("field reports with the real PPP stack", () => {
  test("a naive dial before attach ends terminated-after-auth; the supervisor then connects", async () => {
    const r = rig(["dial-before-attach"]);
    await runUntil(r.sched, () => r.im.modem.core.registrationStat === 1, 30_000);
    const { AtChannel } = await import("../../src/at/channel.ts");
    const pipe = r.im.reopen();
    const ch = new AtChannel(pipe, r.sched);
    const dial = ch.command("ATD*99#", 60_000);
    await runUntil(r.sched, () => ch.mode === "data", 10_000);
    expect((await dial).status).toBe("connect");
    let down: Cause | null = null;
    const config = testConfig('[auth]\nmethod = "auto"\nusername = "user"\npassword = "pass"\n');
    const naive = pppBearerFactory({ config, scheduler: r.sched })(ch.dataPipe!, { up: () => {}, down: (c) => (down = c) });
    naive.start();
    await runUntil(r.sched, () => down !== null, 60_000);
    expect(down!.code).toBe("terminated-after-auth");
    await naive.stop();
    await runUntil(r.sched, () => ch.mode === "command", 10_000);
    ch.detach();
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 200_000)).toBe(true);
  });

  test("port-vanish after CONNECT: port-vanished, the port is reopened when it is back, connected again", async () => {
    const r = rig(["port-vanish:10"]);
    r.sup.start();
    expect(await runUntil(r.sched, () => r.sup.state === "connected", 60_000)).toBe(true);
    await runUntil(r.sched, () => r.policy.lost.length > 0, 60_000);
    expect(r.policy.lost[0]?.code).toBe("port-vanished");
    expect(await runUntil(r.sched, () => r.policy.connected >= 2, 120_000)).toBe(true);
  });
});

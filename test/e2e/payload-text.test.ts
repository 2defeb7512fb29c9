/**
 * "Frames are never modem text", end to end (root; skipped otherwise). The
 * whole agent in link.mode = "tun" dials the virtual modem over a real pty;
 * its TUN lives in namespace A. `ping -p` fills ICMP echo payloads with
 * "\r\nNO CARRIER\r\n"; the sim's network echoes the payload back, so the
 * text crosses the serial line inside PPP frames both ways, unescaped
 * (ACCM 0, RFC 1662 §7.1). The link must stay up and every reply arrive.
 * Then the modem really hangs up (DTR drop with AT&D2: it prints
 * NO CARRIER after the last frame), and that must still end the link as
 * carrier-lost.
 *
 *   ns A: ping → TUN (agent) ─ agent ─ pty ─ virtual modem ─ sim network (echo)
 *
 * Every namespace, interface, process, pty and file is removed in afterEach,
 * pass or fail. Traffic is bounded (-c). Waits are on events and on the
 * ping process, never sleeps.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { LinkInterfaceEvent, ModemStateEvent, PppDownEvent } from "../../src/core/agent-events.ts";
import type { EventBase } from "../../src/core/events.ts";
import { PppBearer } from "../../src/bearer/ppp.ts";
import { canUseNetns, NetnsHarness, run, uniqueName } from "../support/netns.ts";
import { cleanupNetnsRigs, is, startRig, tempDir, type Rig } from "./harness.ts";

const enabled = canUseNetns() && Bun.which("ping") !== null;

/** The sim's PPP peer address (its network answers ping there). */
const PEER = "10.64.0.1";
/** "\r\nNO CARRIER\r\n" as a ping -p pattern (14 of the 16 pad octets ping allows). */
const PATTERN = "0d0a4e4f20434152524945520d0a";
const TEXT = "\r\nNO CARRIER\r\n";
const COUNT = 5;

const h = new NetnsHarness();
const links = new Set<string>();

afterEach(() => cleanupNetnsRigs("payload-text e2e", h, links, run), 30_000);

const ifaceUp =
  (name: string) =>
  (e: EventBase): e is LinkInterfaceEvent =>
    e.type === "link.interface" && (e as LinkInterfaceEvent).name === name && (e as LinkInterfaceEvent).up;

const ifaceDown =
  (name: string) =>
  (e: EventBase): e is LinkInterfaceEvent =>
    e.type === "link.interface" && (e as LinkInterfaceEvent).name === name && !(e as LinkInterfaceEvent).up;

const pppDown = (e: EventBase): e is PppDownEvent => e.type === "ppp.down";
const carrierLost = (e: EventBase): boolean => (e.type === "ppp.down" || e.type === "modem.state") && (e as PppDownEvent | ModemStateEvent).cause?.code === "carrier-lost";

/** What the agent wrote to the modem while in data mode (the pty master's side). */
function recordToModem(rig: Rig): { text: () => string; stop: () => void } {
  const line = rig.sim.modem.line;
  if (!line) throw new Error("the sim has no line");
  const dec = new TextDecoder("latin1");
  let text = "";
  const off = line.onData((d) => {
    text += dec.decode(d, { stream: true });
  });
  return { text: () => text, stop: off };
}

describe.skipIf(!enabled)("agent in tun mode: payload text is never taken for modem text", () => {
  test("ping -p '\\r\\nNO CARRIER\\r\\n' both ways keeps the link up and every reply arrives; the modem's real NO CARRIER ends it as carrier-lost", async () => {
    const nsA = await h.create("ckP");
    const name = uniqueName("ckp");
    links.add(name);
    h.trackLink(name);
    const rig = await startRig({
      scenarios: ["healthy"],
      dir: tempDir("cellkeep-payload-"),
      tables: { link: `mode = "tun"\ninterface = "${name}"` },
      overrides: { netns: nsA },
    });
    const up = await rig.events.waitFor(ifaceUp(name), 20_000);
    const upIndex = rig.events.all.indexOf(up);
    expect(rig.agent.state()).toBe("connected");

    // cellkeep and the network agreed on ACCM 0 both ways: CR and LF inside
    // frames are not escaped, which is what made the text dangerous.
    const bearer = rig.agent.supervisor.bearer;
    expect(bearer).toBeInstanceOf(PppBearer);
    const handle = bearer as PppBearer;
    expect(handle.session.txFraming().accm).toBe(0);
    expect(handle.session.rxFraming().accm).toBe(0);

    const wire = recordToModem(rig);
    const echoesBefore = rig.sim.modem.network.counters.echoReplies;
    const ipInBefore = handle.link.counters().packetsIn;
    // 100 octets of ICMP data: ping's timestamp, then the pattern over and over.
    const r = await h.exec(nsA, ["ping", "-n", "-c", String(COUNT), "-i", "0.2", "-W", "3", "-s", "100", "-p", PATTERN, PEER], { timeoutMs: 20_000 });
    wire.stop();
    const out = r.stdout + r.stderr;
    expect(out).toContain(`PATTERN: 0x${PATTERN}`);
    expect(out).toContain(`${COUNT} packets transmitted, ${COUNT} received`);
    // The sim's network answered every request: the text went modem-ward inside
    // frames, and came back inside frames (echo replies carry the same data).
    expect(rig.sim.modem.network.counters.echoReplies - echoesBefore).toBeGreaterThanOrEqual(COUNT);
    expect(handle.link.counters().packetsIn - ipInBefore).toBeGreaterThanOrEqual(COUNT);
    // On the line itself: raw CR LF "NO CARRIER" CR LF, not escaped.
    expect(wire.text().split(TEXT).length - 1).toBeGreaterThanOrEqual(COUNT);

    // Through all that: no carrier-lost, no ppp.down, still the same call.
    const since = rig.events.all.slice(upIndex);
    expect(since.filter(pppDown)).toEqual([]);
    expect(since.filter(carrierLost)).toEqual([]);
    expect(rig.agent.state()).toBe("connected");
    expect(rig.agent.supervisor.bearer).toBe(handle);
    expect(rig.simEvents.of("sim.mode").filter((e) => e.mode === "command")).toEqual([]);

    // Now the modem really hangs up: DTR drop with AT&D2 (set by bring-up)
    // makes it print NO CARRIER after the last frame.
    rig.sim.modem.setDtr(false);
    rig.sim.modem.setDtr(true);
    const down = await rig.events.waitFor(pppDown, 10_000, upIndex);
    expect(down.cause?.code).toBe("carrier-lost");
    expect(rig.simEvents.of("sim.mode").some((e) => e.mode === "command" && e.reason === "dtr")).toBe(true);
    await rig.events.waitFor(is.cause("carrier-lost"), 10_000, upIndex);
    // The interface went down with the call (the agent then redials on its own).
    const ifDown = await rig.events.waitFor(ifaceDown(name), 10_000, upIndex);
    expect(ifDown).toMatchObject({ ipv4: null, defaultRoute: false });
  }, 60_000);
});

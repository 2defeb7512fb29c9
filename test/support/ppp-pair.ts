/**
 * Test helpers: two PppLinks (client and server role) joined by byte pipes,
 * and small waits. Shared by the link, pty and slirp tests.
 */
import type { Scheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { PppLink, type PppLinkEvent } from "../../src/ppp/link.ts";
import type { PcapSink } from "../../src/ppp/pcap.ts";
import { PppSession, type PppSessionOptions } from "../../src/ppp/session.ts";

export const SERVER_V4 = { localIPv4: "10.0.0.1", peerIPv4: "10.0.0.2", dns: ["10.0.0.53", "10.0.0.54"] };
export const USERS: Record<string, string> = { alice: "s3cret-pass" };

export type AuthKind = "none" | "pap" | "chap";

export function clientOptions(auth: AuthKind, password = USERS.alice!): PppSessionOptions {
  return {
    role: "client",
    ...(auth === "none" ? {} : { auth: { method: auth, username: "alice", password } }),
  };
}

export function serverOptions(auth: AuthKind): PppSessionOptions {
  return {
    role: "server",
    ...(auth === "none" ? {} : { auth: { method: auth, name: "cellkeep-test", verifier: { secretFor: (u: string) => USERS[u] } } }),
    server: SERVER_V4,
  };
}

export interface LinkUnderTest {
  link: PppLink;
  events: PppLinkEvent[];
  ip: { version: 4 | 6; packet: Uint8Array }[];
}

export function makeLink(pipe: BytePipe, opts: PppSessionOptions, scheduler: Scheduler, pcap?: PcapSink): LinkUnderTest {
  const link = new PppLink({ pipe, session: new PppSession(opts), scheduler, ...(pcap ? { pcap } : {}) });
  const events: PppLinkEvent[] = [];
  const ip: { version: 4 | 6; packet: Uint8Array }[] = [];
  link.onEvent((e) => events.push(e));
  link.onIp((version, packet) => ip.push({ version, packet }));
  return { link, events, ip };
}

/** Let queued microtasks and I/O callbacks run. */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Poll `cond` on the real event loop until true or `ms` passes. */
export async function waitFor(cond: () => boolean, ms: number, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise<void>((r) => setTimeout(r, 2));
  }
}

export function hasEvent(events: PppLinkEvent[], type: string): boolean {
  return events.some((e) => e.type === type);
}

/** Fake time for a PPP pair: settle microtasks, advance `stepMs`, until `cond` or `steps` steps (then the caller asserts). */
export async function advanceUntil(sched: { advance(ms: number): void }, cond: () => boolean, steps = 40, stepMs = 100): Promise<boolean> {
  for (let i = 0; i < steps && !cond(); i++) {
    await settle(5);
    sched.advance(stepMs);
  }
  return cond();
}

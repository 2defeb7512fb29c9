/**
 * Our client role against our own server role over a real pty: the client's
 * PppLink on the slave (opened like a modem tty), the server's on the master,
 * both in this process. PAP and CHAP.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RealScheduler } from "../../src/core/clock.ts";
import { FdPipe } from "../../src/serial/fd-pipe.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";
import * as libc from "../../src/sys/libc.ts";
import { icmpEcho, parseIcmpEcho } from "../support/ip.ts";
import { type AuthKind, SERVER_V4, type LinkUnderTest, clientOptions, hasEvent, makeLink, serverOptions, waitFor } from "../support/ppp-pair.ts";

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function overPty(auth: AuthKind, password?: string): Promise<{ client: LinkUnderTest; server: LinkUnderTest; pair: PtyPair }> {
  const pair = openPtyPair({ raw: true });
  const slaveFd = libc.check(libc.open(pair.slavePath, libc.O.RDWR | libc.O.NOCTTY | libc.O.NONBLOCK | libc.O.CLOEXEC), "open", pair.slavePath);
  const slavePipe = new FdPipe(slaveFd, { label: `pty slave ${pair.slavePath}`, ownsFd: true });
  const scheduler = new RealScheduler();
  const server = makeLink(ptyMasterPipe(pair), serverOptions(auth), scheduler);
  const client = makeLink(slavePipe, clientOptions(auth, password), scheduler);
  cleanup.push(async () => {
    client.link.stop();
    server.link.stop();
    await slavePipe.close();
    pair.close();
  });
  server.link.start();
  client.link.start();
  await waitFor(() => hasEvent(client.events, "ppp.open") || hasEvent(client.events, "ppp.dead"), 8000, "client ppp.open");
  return { client, server, pair };
}

describe("client against server role over a real pty", () => {
  for (const auth of ["pap", "chap"] as const) {
    test(`${auth}: both sides open; the client gets the assigned address and DNS; ICMP both ways`, async () => {
      const { client, server } = await overPty(auth);
      await waitFor(() => hasEvent(server.events, "ppp.open"), 3000, "server ppp.open");
      const cs = client.link.status();
      expect(cs.auth).toMatchObject({ method: auth, result: "success" });
      expect(cs.ipv4).toMatchObject({ local: SERVER_V4.peerIPv4, remote: SERVER_V4.localIPv4, dns: SERVER_V4.dns });
      const authEv = server.events.find((e) => e.type === "ppp.auth");
      expect(authEv && "peerName" in authEv ? authEv.peerName : undefined).toBe("alice");

      const data = new Uint8Array(1400).map((_, i) => i & 0xff); // every octet value, control chars included
      client.link.sendIp(4, icmpEcho(SERVER_V4.peerIPv4, SERVER_V4.localIPv4, 9, 1, data));
      await waitFor(() => server.ip.length > 0, 3000, "server got the packet");
      expect(parseIcmpEcho(server.ip[0]!.packet)?.data).toEqual(data);
      server.link.sendIp(4, icmpEcho(SERVER_V4.localIPv4, SERVER_V4.peerIPv4, 10, 1, data));
      await waitFor(() => client.ip.length > 0, 3000, "client got the packet");
      expect(parseIcmpEcho(client.ip[0]!.packet)?.id).toBe(10);
      expect(client.link.counters().decoder.badFcs).toBe(0);
      expect(server.link.counters().decoder.badFcs).toBe(0);
    });
  }

  test("chap with a wrong password: auth-rejected on the client, failure on the server", async () => {
    const { client, server } = await overPty("chap", "not-the-password");
    const down = client.events.find((e) => e.type === "ppp.dead");
    expect(down && "cause" in down ? down.cause?.code : undefined).toBe("auth-rejected");
    const authEv = server.events.find((e) => e.type === "ppp.auth");
    expect(authEv && "result" in authEv ? authEv.result : undefined).toBe("failure");
  });
});

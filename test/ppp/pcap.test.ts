import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createPipePair } from "../../src/core/pipe.ts";
import { PppLink } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";
import { LINKTYPE_PPP_WITH_DIR, PcapBuffer, PcapFile, pcapGlobalHeader, pcapRecord, redactPap } from "../../src/ppp/pcap.ts";
import { PROTO } from "../../src/ppp/types.ts";
import { USERS, clientOptions, hasEvent, makeLink, serverOptions, settle } from "../support/ppp-pair.ts";
import { icmpEcho } from "../support/ip.ts";

const dir = mkdtempSync(join(tmpdir(), "cellkeep-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(args: string[]): { out: string; err: string; code: number } {
  const r = Bun.spawnSync(["tshark", ...args], { env: { ...process.env, HOME: dir }, stderr: "pipe" });
  // tshark warns on stderr when run as root; keep stderr apart so line counts hold.
  return { out: r.stdout.toString(), err: r.stderr.toString(), code: r.exitCode ?? -1 };
}

describe("pcap core", () => {
  test("global header: magic, version 2.4, link type 204", () => {
    const h = new DataView(pcapGlobalHeader().buffer);
    expect(h.getUint32(0, true)).toBe(0xa1b2c3d4);
    expect([h.getUint16(4, true), h.getUint16(6, true)]).toEqual([2, 4]);
    expect(h.getUint32(20, true)).toBe(LINKTYPE_PPP_WITH_DIR);
  });

  test("record: timestamp, lengths, direction octet, ff 03, protocol, info", () => {
    const rec = pcapRecord("out", PROTO.IPCP, new Uint8Array([1, 2, 0, 4]), 1_700_000_000_123);
    const v = new DataView(rec.buffer);
    expect(v.getUint32(0, true)).toBe(1_700_000_000);
    expect(v.getUint32(4, true)).toBe(123_000);
    expect(v.getUint32(8, true)).toBe(9);
    expect(v.getUint32(12, true)).toBe(9);
    expect([...rec.subarray(16)]).toEqual([1, 0xff, 0x03, 0x80, 0x21, 1, 2, 0, 4]);
    expect(pcapRecord("in", PROTO.IPV4, new Uint8Array(0), 0)[16]).toBe(0);
  });

  test("PAP Authenticate-Request password is masked, same length", () => {
    const user = new TextEncoder().encode("bob");
    const pw = new TextEncoder().encode("hunter2");
    const info = new Uint8Array([1, 1, 0, 6 + user.length + pw.length, user.length, ...user, pw.length, ...pw]);
    const red = redactPap(info);
    expect(red.length).toBe(info.length);
    expect(new TextDecoder().decode(red.subarray(5, 8))).toBe("bob");
    expect(new TextDecoder().decode(red.subarray(9))).toBe("*******");
    // truncated / other codes do not throw
    expect(() => redactPap(new Uint8Array([1, 1, 0, 9, 200]))).not.toThrow();
    const ack = new Uint8Array([2, 1, 0, 5, 0]);
    expect(redactPap(ack)).toBe(ack);
  });

  test("a PAP Authenticate-Request quoted back in an LCP Protocol-Reject is masked too", () => {
    const user = new TextEncoder().encode("bob");
    const pw = new TextEncoder().encode("hunter2");
    const pap = [1, 1, 0, 6 + user.length + pw.length, user.length, ...user, pw.length, ...pw];
    // RFC 1661 §5.7: code 8, id, length, rejected protocol, rejected information.
    const rej = new Uint8Array([8, 7, 0, 6 + pap.length, 0xc0, 0x23, ...pap]);
    const rec = pcapRecord("in", PROTO.LCP, rej, 0);
    expect(new TextDecoder().decode(rec)).not.toContain("hunter2");
    expect(new TextDecoder().decode(rec)).toContain("bob");
    expect(rec.length).toBe(16 + 5 + rej.length);
  });
});

describe("pcap file read by tshark", () => {
  for (const auth of ["pap", "chap"] as const) {
    test(`${auth} session: tshark decodes LCP, ${auth.toUpperCase()}, IPCP and ICMP with no malformed packets`, async () => {
      const path = join(dir, `session-${auth}.pcap`);
      const sched = new ManualScheduler();
      const [a, b] = createPipePair();
      const file = new PcapFile(path);
      const client = makeLink(a, clientOptions(auth), sched, file);
      const server = makeLink(b, serverOptions(auth), sched);
      server.link.start();
      client.link.start();
      for (let i = 0; i < 40 && !hasEvent(client.events, "ppp.open"); i++) {
        await settle(5);
        sched.advance(100);
      }
      expect(hasEvent(client.events, "ppp.open")).toBe(true);
      client.link.sendIp(4, icmpEcho("10.0.0.2", "10.0.0.1", 1, 1, new Uint8Array(16)));
      await settle();
      client.link.close("test done");
      await settle();
      client.link.stop();
      server.link.stop();
      expect(file.records).toBeGreaterThan(6);

      const raw = readFileSync(path);
      expect(raw.includes(Buffer.from(USERS.alice!))).toBe(false);

      const r = tshark(["-r", path, "-V"]);
      expect(r.code).toBe(0);
      expect(r.out + r.err).not.toMatch(/Malformed|Expert Info \(Warn|Expert Info \(Error/i);
      expect(r.out).toContain("PPP Link Control Protocol");
      expect(r.out).toContain("PPP IP Control Protocol");
      expect(r.out).toContain(auth === "pap" ? "PPP Password Authentication Protocol" : "PPP Challenge Handshake Authentication Protocol");
      expect(r.out).toContain("Internet Control Message Protocol");
      // Direction pseudo-header: our first frame is an LCP Configure-Request we sent.
      expect(r.out).toContain("Point-to-Point Direction: Sent");
      expect(r.out).toContain("Point-to-Point Direction: Received");
      const fields = tshark(["-r", path, "-T", "fields", "-e", "ppp.protocol"]);
      expect(fields.code).toBe(0);
      const protocols = fields.out.trim().split("\n");
      expect(protocols.length).toBe(file.records);
      expect(protocols[0]).toBe("0xc021");
    });
  }

  test("appending to an existing file keeps one global header", () => {
    const path = join(dir, "append.pcap");
    const f1 = new PcapFile(path);
    f1.record("out", PROTO.LCP, new Uint8Array([1, 1, 0, 4]), Date.now());
    f1.close();
    const f2 = new PcapFile(path);
    f2.record("in", PROTO.LCP, new Uint8Array([2, 1, 0, 4]), Date.now());
    f2.close();
    const r = tshark(["-r", path]);
    expect(r.code).toBe(0);
    expect(r.out.trim().split("\n").length).toBe(2);
    expect(r.out + r.err).not.toMatch(/Malformed/i);
    const mem = new PcapBuffer();
    mem.record("in", PROTO.LCP, new Uint8Array([2, 1, 0, 4]), 0);
    expect(mem.bytes().length).toBe(24 + 16 + 9);
  });

  test("PppLink with a pcap path: records across a restart of the link; a bad path is an event, not a failure", async () => {
    const path = join(dir, "link-restart.pcap");
    const sched = new ManualScheduler();
    const [a, b] = createPipePair();
    const client = new PppLink({ pipe: a, session: new PppSession(clientOptions("none")), scheduler: sched, pcap: path });
    const opened: string[] = [];
    client.onEvent((e) => e.type === "ppp.open" && opened.push(e.type));
    const server = makeLink(b, serverOptions("none"), sched);
    server.link.start();
    for (let run = 1; run <= 2; run++) {
      client.start();
      for (let i = 0; i < 40 && opened.length < run; i++) {
        await settle(5);
        sched.advance(100);
      }
      expect(opened.length).toBe(run);
      client.stop();
    }
    server.link.stop();
    const r = tshark(["-r", path, "-Y", "lcp", "-T", "fields", "-e", "ppp.code"]);
    expect(r.code).toBe(0);
    // Each run opens with Configure-Requests both ways: two runs, one file.
    const lcpCodes = r.out.trim().split("\n");
    expect(lcpCodes.filter((c) => c === "1").length).toBeGreaterThanOrEqual(4); // ConfReq both ways, twice
    expect(r.out + r.err).not.toMatch(/Malformed/i);

    const [c2] = createPipePair();
    const bad = new PppLink({ pipe: c2, session: new PppSession(clientOptions("none")), scheduler: sched, pcap: join(dir, "no-such-dir", "x.pcap") });
    const evs: string[] = [];
    bad.onEvent((e) => evs.push(e.type));
    expect(() => bad.start()).not.toThrow();
    expect(evs[0]).toBe("ppp.link.pcap-error");
    expect(bad.counters().framesOut).toBe(1); // LCP went ahead without recording
    bad.stop();
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import { createPipePair } from "../../src/core/pipe.ts";
import { PppLink } from "../../src/ppp/link.ts";
import { PppSession } from "../../src/ppp/session.ts";
import { LINKTYPE_PPP_WITH_DIR, PcapBuffer, PcapFile, isControlProtocol, pcapGlobalHeader, pcapRecord, redactPap } from "../../src/ppp/pcap.ts";
import { loadConfigText } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { pppBearerFactory } from "../../src/bearer/ppp.ts";
import { PROTO } from "../../src/ppp/types.ts";
import { USERS, clientOptions, hasEvent, makeLink, serverOptions, settle, advanceUntil } from "../support/ppp-pair.ts";
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

describe("pcap file safety: no symlinks, mode 0600", () => {
  test("a symlink at the path is refused with a clear error; its target is not touched", () => {
    const target = join(dir, "target.txt");
    writeFileSync(target, "precious\n");
    chmodSync(target, 0o644);
    const link = join(dir, "link.pcap");
    symlinkSync(target, link);
    expect(() => new PcapFile(link)).toThrow(/symbolic link/);
    expect(readFileSync(target, "utf8")).toBe("precious\n");
    expect(statSync(target).mode & 0o777).toBe(0o644);
    // A dangling symlink is refused too (O_CREAT would otherwise create its target).
    const dangling = join(dir, "dangling.pcap");
    symlinkSync(join(dir, "would-be-created.pcap"), dangling);
    expect(() => new PcapFile(dangling)).toThrow(/symbolic link/);
    expect(existsSync(join(dir, "would-be-created.pcap"))).toBe(false);
  });

  test("PppLink with a symlinked pcap path: a pcap-error event naming the symlink, the link runs without recording", () => {
    const link = join(dir, "link2.pcap");
    symlinkSync(join(dir, "target2.pcap"), link);
    const [a] = createPipePair();
    const l = new PppLink({ pipe: a, session: new PppSession(clientOptions("none")), scheduler: new ManualScheduler(), pcap: link });
    const evs: { type: string; detail?: string }[] = [];
    l.onEvent((e) => evs.push(e as { type: string; detail?: string }));
    expect(() => l.start()).not.toThrow();
    expect(evs[0]).toMatchObject({ type: "ppp.link.pcap-error", path: link });
    expect(evs[0]!.detail).toMatch(/symbolic link/);
    expect(l.counters().framesOut).toBe(1);
    l.stop();
    expect(existsSync(join(dir, "target2.pcap"))).toBe(false);
  });

  test("an existing 0644 file is set to 0600 and appended to; a new file is 0600 whatever the umask", () => {
    const path = join(dir, "existing.pcap");
    const first = new PcapFile(path);
    first.record("out", PROTO.LCP, new Uint8Array([1, 1, 0, 4]), 0);
    first.close();
    chmodSync(path, 0o644);
    const size = statSync(path).size;
    const again = new PcapFile(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    again.record("in", PROTO.LCP, new Uint8Array([2, 1, 0, 4]), 0);
    again.close();
    expect(statSync(path).size).toBe(size + 16 + 9);

    const old = process.umask(0);
    try {
      const fresh = join(dir, "fresh.pcap");
      new PcapFile(fresh).close();
      expect(statSync(fresh).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  test("a path that is not a regular file (a FIFO) is refused without blocking or chmod", () => {
    const fifo = join(dir, "fifo.pcap");
    expect(Bun.spawnSync(["mkfifo", "-m", "0644", fifo]).exitCode).toBe(0);
    expect(() => new PcapFile(fifo)).toThrow(/not a regular file/);
    expect(statSync(fifo).mode & 0o777).toBe(0o644);
  });
});

describe("ppp.pcap_payload = false: control protocols only", () => {
  test("core: which protocols are control (RFC 1661 §2: 0x8000 and up)", () => {
    for (const p of [PROTO.LCP, PROTO.PAP, PROTO.CHAP, PROTO.IPCP, PROTO.IPV6CP, 0x80fd]) expect(isControlProtocol(p)).toBe(true);
    for (const p of [PROTO.IPV4, PROTO.IPV6, 0x002d, 0x4021]) expect(isControlProtocol(p)).toBe(false);
    const mem = new PcapBuffer({ payload: false });
    mem.record("out", PROTO.IPV4, new Uint8Array(20), 0);
    mem.record("out", PROTO.LCP, new Uint8Array([9, 1, 0, 8, 0, 0, 0, 0]), 0);
    expect(mem.records).toBe(1);
    expect(mem.skipped).toBe(1);
  });

  test("an LCP Protocol-Reject quoting an IP packet keeps its length, the quoted packet is zeroed", () => {
    const ip = icmpEcho("10.0.0.2", "10.0.0.1", 1, 1, new TextEncoder().encode("private payload!"));
    const rej = new Uint8Array([8, 3, 0, 6 + ip.length, 0x00, 0x21, ...ip]);
    const mem = new PcapBuffer({ payload: false });
    mem.record("in", PROTO.LCP, rej, 0);
    const rec = mem.bytes().subarray(24);
    expect(rec.length).toBe(16 + 5 + rej.length);
    expect([...rec.subarray(16 + 5, 16 + 5 + 6)]).toEqual([8, 3, 0, 6 + ip.length, 0x00, 0x21]);
    expect(rec.subarray(16 + 5 + 6).every((b) => b === 0)).toBe(true);
    // With payload recording on, the quoted packet is kept as it was.
    const full = new PcapBuffer();
    full.record("in", PROTO.LCP, rej, 0);
    expect(new TextDecoder().decode(full.bytes())).toContain("private payload!");
  });

  test("the config key: default true, false accepted, anything else named", () => {
    expect(cfg("").ppp.pcap_payload).toBe(true);
    expect(cfg("[ppp]\npcap_payload = false\n").ppp.pcap_payload).toBe(false);
    const bad = loadConfigText(`[network]\napn = "internet"\n[ppp]\npcap_payload = "no"\n`);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]!.path).toBe("ppp.pcap_payload");
  });

  test("a session through pppBearerFactory with pcap_payload = false: tshark sees LCP, PAP, IPCP and no IP frame", async () => {
    const path = join(dir, "control-only.pcap");
    const sched = new ManualScheduler();
    const [a, b] = createPipePair();
    const config = cfg(`[auth]\nmethod = "pap"\nusername = "alice"\npassword = "${USERS.alice}"\n[ppp]\npcap = "${path}"\npcap_payload = false\n`);
    let up = false;
    const handle = pppBearerFactory({ config, scheduler: sched })(a, { up: () => (up = true), down: () => {} });
    const server = makeLink(b, serverOptions("pap"), sched);
    server.link.start();
    handle.start();
    expect(await advanceUntil(sched, () => up)).toBe(true);
    const secret = new TextEncoder().encode("private payload!");
    handle.link.sendIp(4, icmpEcho("10.0.0.2", "10.0.0.1", 1, 1, secret));
    server.link.sendIp(4, icmpEcho("10.0.0.1", "10.0.0.2", 1, 2, secret));
    await settle();
    expect(handle.link.counters().packetsOut).toBe(1);
    expect(handle.link.counters().packetsIn).toBe(1);
    const stopping = handle.stop();
    for (let i = 0; i < 40; i++) {
      await settle(5);
      sched.advance(100);
    }
    await stopping;
    server.link.stop();

    const raw = readFileSync(path);
    expect(raw.includes(Buffer.from("private payload!"))).toBe(false);
    expect(raw.includes(Buffer.from(USERS.alice!))).toBe(false);
    const r = tshark(["-r", path, "-T", "fields", "-e", "ppp.protocol"]);
    expect(r.code).toBe(0);
    const protocols = new Set(r.out.trim().split("\n"));
    expect(protocols).toEqual(new Set(["0xc021", "0xc023", "0x8021"]));
    const all = tshark(["-r", path, "-V"]);
    expect(all.out + all.err).not.toMatch(/Malformed|Expert Info \(Error/i);
    expect(all.out).not.toContain("Internet Control Message Protocol");
  });
});

describe("CHAP in the pcap", () => {
  test("a CHAP Response value is masked (same length), the name and the Challenge are kept", () => {
    const name = new TextEncoder().encode("alice");
    const value = new Uint8Array(16).fill(0xab);
    const resp = new Uint8Array([2, 7, 0, 5 + 16 + name.length, 16, ...value, ...name]);
    const rec = pcapRecord("out", PROTO.CHAP, resp, 0);
    expect(rec.length).toBe(16 + 5 + resp.length);
    const info = rec.subarray(16 + 5);
    expect([...info.subarray(0, 5)]).toEqual([2, 7, 0, resp.length, 16]);
    expect(info.subarray(5, 21).every((b) => b === 0x2a)).toBe(true);
    expect(new TextDecoder().decode(info.subarray(21))).toBe("alice");
    const challenge = new Uint8Array([1, 7, 0, 5 + 16 + 3, 16, ...value, 0x73, 0x72, 0x76]);
    expect([...pcapRecord("in", PROTO.CHAP, challenge, 0).subarray(16 + 5)]).toEqual([...challenge]);
    // Quoted back in an LCP Protocol-Reject: masked as well.
    const rej = new Uint8Array([8, 1, 0, 6 + resp.length, 0xc2, 0x23, ...resp]);
    const quoted = pcapRecord("in", PROTO.LCP, rej, 0).subarray(16 + 5 + 6);
    expect(quoted.subarray(5, 21).every((b) => b === 0x2a)).toBe(true);
    // Truncated packets do not throw.
    expect(() => pcapRecord("out", PROTO.CHAP, new Uint8Array([2, 1, 0, 30, 200, 1]), 0)).not.toThrow();
  });

  test("in a real CHAP session the response tshark shows is all '*'", () => {
    const r = tshark(["-r", join(dir, "session-chap.pcap"), "-Y", "chap.code == 2", "-T", "fields", "-e", "chap.value"]);
    expect(r.code).toBe(0);
    const values = r.out.trim().split("\n");
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(v.replace(/:/g, "")).toBe("2a".repeat(16));
  });
});

function cfg(toml: string): Config {
  const r = loadConfigText(`[network]\napn = "internet"\n${toml}`);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

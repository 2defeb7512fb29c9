import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeControl, mscValue, SIGNALS_READY } from "../../src/cmux/control.ts";
import { encodeFrame } from "../../src/cmux/frame.ts";
import { LINKTYPE_MUX27010, MuxPcapFile, muxPcapPath } from "../../src/cmux/pcap.ts";

const none = new Uint8Array(0);

function record(path: string) {
  const f = new MuxPcapFile(path);
  f.record("out", encodeFrame({ dlci: 0, cr: true, type: "SABM", pf: true, info: none }), 1_700_000_000_000);
  f.record("in", encodeFrame({ dlci: 0, cr: true, type: "UA", pf: true, info: none }), 1_700_000_000_001);
  f.record("out", encodeFrame({ dlci: 0, cr: true, type: "UIH", pf: false, info: encodeControl("MSC", true, mscValue(2, SIGNALS_READY)) }), 1_700_000_000_002);
  f.record("out", encodeFrame({ dlci: 1, cr: true, type: "UIH", pf: false, info: new TextEncoder().encode('AT+CPIN="1234"\r') }), 1_700_000_000_003);
  f.close();
  return f;
}

describe("CMUX pcap (link type 236)", () => {
  test("global header names MUX27010; AT payloads are zeroed, the control channel is kept", () => {
    const dir = mkdtempSync(join(tmpdir(), "cmux-pcap-"));
    try {
      const path = join(dir, "x.pcap");
      expect(record(path).records).toBe(4);
      const bytes = readFileSync(path);
      expect(bytes.readUInt32LE(20)).toBe(LINKTYPE_MUX27010);
      expect(bytes.includes(Buffer.from("1234"))).toBe(false);
      expect(bytes.includes(Buffer.from([0xe3, 0x05, 0x0b, 0x8d]))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("tshark dissects the records as MUX27010 with the right directions and DLCIs", () => {
    if (!Bun.which("tshark")) return; // the dissector check needs Wireshark's tshark
    const dir = mkdtempSync(join(tmpdir(), "cmux-pcap-"));
    try {
      const path = join(dir, "x.pcap");
      record(path);
      const r = Bun.spawnSync(["tshark", "-r", path, "-T", "fields", "-e", "mux27010.direction", "-e", "mux27010.address.dlciaddress", "-e", "mux27010.control.frametype"]);
      const rows = r.stdout.toString().trim().split("\n").map((l) => l.split("\t"));
      expect(rows.map((x) => x[1])).toEqual(["0", "0", "0", "1"]);
      expect(rows.map((x) => x[0])).toEqual(["0x00", "0x01", "0x00", "0x00"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the CMUX file goes next to ppp.pcap", () => {
    expect(muxPcapPath("/var/log/cellkeep/ppp.pcap")).toBe("/var/log/cellkeep/ppp.cmux.pcap");
    expect(muxPcapPath("/tmp/trace")).toBe("/tmp/trace.cmux.pcap");
  });
});

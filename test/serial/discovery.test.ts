import { afterEach, describe, expect, test } from "bun:test";
import * as path from "node:path";
import { chooseAutoPorts, discoverPorts, formatPortsReport, portResolver, portsCommand } from "../../src/serial/discovery.ts";
import { ACM, BG77, BG96, buildFakeTree, EC25, FTDI, type FakeTree } from "./fixtures/fake-sysfs.ts";

const trees: FakeTree[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.cleanup();
});
function tree(...args: Parameters<typeof buildFakeTree>): FakeTree {
  const t = buildFakeTree(...args);
  trees.push(t);
  return t;
}
const dev = (t: FakeTree, name: string) => path.join(t.devRoot, name);

describe("discoverPorts", () => {
  test("BG96: interfaces 0-3 get roles; interface 2 (ttyUSB2) is the AT+PPP data port", () => {
    const t = tree([BG96()]);
    const ports = discoverPorts(t);
    const byName = Object.fromEntries(ports.map((p) => [p.name, p]));
    expect(Object.keys(byName).sort()).toEqual(["ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB3"]);
    expect(byName.ttyUSB0?.role).toBe("diagnostics");
    expect(byName.ttyUSB1?.role).toBe("gnss");
    expect(byName.ttyUSB2?.role).toBe("data");
    expect(byName.ttyUSB3?.role).toBe("at");
    expect(byName.ttyUSB2).toMatchObject({ vendorId: "2c7c", productId: "0296", interfaceNumber: 2, model: "Quectel BG96", usbPath: "1-1", kind: "usb-modem", present: true });
    expect(ports[0]?.name).toBe("ttyUSB2");
    const choice = chooseAutoPorts(ports);
    expect(choice.data?.candidate.path).toBe(dev(t, "ttyUSB2"));
    expect(choice.control?.candidate.path).toBe(dev(t, "ttyUSB3"));
    expect(choice.data?.reason).toContain("Quectel BG96 (2c7c:0296, interface 2)");
  });

  test("BG77 (0x0700) with three serial functions: data on ttyUSB2, no control port", () => {
    const t = tree([BG77()]);
    const choice = chooseAutoPorts(discoverPorts(t));
    expect(choice.data?.candidate.path).toBe(dev(t, "ttyUSB2"));
    expect(choice.data?.candidate.model).toBe("Quectel BG95/BG77/BG600L");
    expect(choice.control).toBeNull();
  });

  test("EC25 after an FTDI adapter took ttyUSB0: the data port is interface 2 = ttyUSB3, not ttyUSB2", () => {
    const t = tree([FTDI("1-2", "ttyUSB0"), EC25("1-1", 1)]);
    const ports = discoverPorts(t);
    const choice = chooseAutoPorts(ports);
    expect(choice.data?.candidate.path).toBe(dev(t, "ttyUSB3"));
    expect(choice.data?.candidate.interfaceNumber).toBe(2);
    expect(choice.control?.candidate.path).toBe(dev(t, "ttyUSB4"));
    const ftdi = ports.find((p) => p.name === "ttyUSB0");
    expect(ftdi).toMatchObject({ kind: "usb-serial", role: "unknown", vendorId: "0403", model: "FT232R USB UART" });
    expect(ftdi!.score).toBeLessThan(choice.data!.candidate.score);
    const ec25 = ports.find((p) => p.name === "ttyUSB3");
    expect(ec25?.serial).toBe("0123456789ABCDEF");
  });

  test("two modems: picks the data port of the first by USB path and says so", () => {
    const t = tree([BG96("1-1.2", 4), EC25("1-1.1", 0)]);
    const ports = discoverPorts(t);
    expect(ports.filter((p) => p.role === "data").length).toBe(2);
    const choice = chooseAutoPorts(ports);
    expect(choice.data?.candidate.path).toBe(dev(t, "ttyUSB2"));
    expect(choice.data?.candidate.model).toBe("Quectel EC25/EG25");
    expect(choice.data?.reason).toMatch(/2 known modems found, picked the first by USB path \(1-1\.1\)/);
    // The control port belongs to the same modem.
    expect(choice.control?.candidate.usbPath).toBe("1-1.1");
    expect(choice.control?.candidate.path).toBe(dev(t, "ttyUSB3"));
  });

  test("USB path order is natural: 1-1.10 comes after 1-1.9", () => {
    const t = tree([BG96("1-1.10", 0), BG77("1-1.9", 4)]);
    expect(chooseAutoPorts(discoverPorts(t)).data?.candidate.usbPath).toBe("1-1.9");
  });

  test("plain ttyACM and UARTs are listed with lower scores; 8250 placeholders (type 0) are not", () => {
    const t = tree([ACM()], [{ name: "ttyS0", type: "4" }, { name: "ttyS1", type: "0" }, { name: "ttyAMA0" }]);
    const ports = discoverPorts(t);
    expect(ports.map((p) => p.name)).toEqual(["ttyACM0", "ttyAMA0", "ttyS0"]);
    expect(ports[0]).toMatchObject({ kind: "usb-acm", vendorId: "1546" });
    expect(ports[1]?.kind).toBe("uart");
    const choice = chooseAutoPorts(ports);
    expect(choice.data?.candidate.name).toBe("ttyACM0");
    expect(choice.data?.reason).toContain("no known modem found");
    expect(choice.control).toBeNull();
  });

  test("only on-board UARTs: auto picks none (one may be the console) and says to set modem.port", () => {
    const t = tree([], [{ name: "ttyS0", type: "4" }, { name: "ttyAMA0" }]);
    const ports = discoverPorts(t);
    expect(ports.map((p) => p.kind)).toEqual(["uart", "uart"]);
    const choice = chooseAutoPorts(ports);
    expect(choice.data).toBeNull();
    expect(choice.problem).toContain("never picked automatically");
    expect(choice.problem).toContain("modem.port");
  });

  test("a modem whose device nodes are missing is not picked; the problem says why", () => {
    const t = tree([BG96()], [], { missingNodes: ["ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB3"] });
    const ports = discoverPorts(t);
    expect(ports.every((p) => !p.present)).toBe(true);
    const choice = chooseAutoPorts(ports);
    expect(choice.data).toBeNull();
    expect(choice.problem).toContain("device node is missing");
    expect(choice.problem).toContain(dev(t, "ttyUSB2"));
  });

  test("an empty system", () => {
    const t = tree([]);
    expect(discoverPorts(t)).toEqual([]);
    expect(chooseAutoPorts([]).problem).toBe("no serial port candidates found");
    expect(portsCommand(t)).toContain("No serial port candidates found.");
  });
});

describe("cellkeep ports report", () => {
  test("lists path, USB id, interface, role, model and the auto picks", () => {
    const t = tree([BG96()], [{ name: "ttyS0", type: "4" }]);
    const text = portsCommand(t);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^PATH\s+USB ID\s+IF\s+ROLE\s+MODEL/);
    const row = (name: string) => lines.find((l) => l.startsWith(dev(t, name) + " "));
    expect(row("ttyUSB2")).toMatch(/2c7c:0296\s+2\s+AT \+ PPP data\s+Quectel BG96\s+<- auto data$/);
    expect(row("ttyUSB3")).toMatch(/2c7c:0296\s+3\s+AT control\s+Quectel BG96\s+<- auto control$/);
    expect(row("ttyUSB0")).toMatch(/diagnostics \(DM\)/);
    expect(row("ttyUSB1")).toMatch(/GNSS \(NMEA\)/);
    expect(row("ttyS0")).toMatch(/-\s+-\s+UART/);
    expect(text).toContain(`modem.port = "auto" picks ${dev(t, "ttyUSB2")} for AT and PPP`);
    expect(text).toContain("Only this interface carries PPP");
  });

  test("formatPortsReport marks missing nodes", () => {
    const t = tree([BG96()], [], { missingNodes: ["ttyUSB1"] });
    const text = formatPortsReport(discoverPorts(t));
    expect(text).toContain(`${dev(t, "ttyUSB1")} (missing)`);
  });
});

describe("portResolver", () => {
  test('"auto" re-runs discovery each time (the modem may come back under another number)', () => {
    const t = tree([BG96()]);
    const resolve = portResolver("auto", t);
    expect(resolve()).toBe(dev(t, "ttyUSB2"));
    t.setNode("ttyUSB2", false);
    expect(resolve()).toBeNull();
    t.setNode("ttyUSB2", true);
    expect(resolve()).toBe(dev(t, "ttyUSB2"));
    expect(portResolver("auto", { ...t, role: "control" })()).toBe(dev(t, "ttyUSB3"));
  });

  test("a fixed path resolves only while its node exists", () => {
    const t = tree([FTDI()]);
    const p = dev(t, "ttyUSB0");
    const resolve = portResolver(p);
    expect(resolve()).toBe(p);
    t.setNode("ttyUSB0", false);
    expect(resolve()).toBeNull();
  });
});

import { describe, expect, test } from "bun:test";
import { allowedHosts, hostAllowed, listenExposureWarning, parseHostHeader } from "../../src/http/host-check.ts";

describe("parseHostHeader", () => {
  test("names, IPv4 and bracketed IPv6, with or without a port; names are lower-cased", () => {
    expect(parseHostHeader("localhost")).toEqual({ host: "localhost", port: null });
    expect(parseHostHeader("LocalHost:8080")).toEqual({ host: "localhost", port: 8080 });
    expect(parseHostHeader("192.168.1.5:80")).toEqual({ host: "192.168.1.5", port: 80 });
    expect(parseHostHeader("[::1]:8080")).toEqual({ host: "[::1]", port: 8080 });
    // IPv6 literals are compared in their canonical form
    expect(parseHostHeader("[0:0:0:0:0:0:0:1]")).toEqual({ host: "[::1]", port: null });
  });

  test("anything that is not exactly one host[:port] is refused (null)", () => {
    for (const bad of [
      "",
      " ",
      "::1",
      "localhost:",
      "localhost:99999",
      "localhost:0",
      "evil.example@localhost",
      "localhost/x",
      "localhost, evil.example",
      "localhost evil.example",
      "localhost:8080:1",
      "[::1",
      "-bad.example",
    ]) {
      expect([bad, parseHostHeader(bad)]).toEqual([bad, null]);
    }
  });
});

describe("hostAllowed", () => {
  const loopbackListen = allowedHosts("127.0.0.1:8080", []);

  test("loopback names are served on any port (an SSH tunnel may forward another local port)", () => {
    for (const h of ["localhost", "localhost:8080", "localhost:9000", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080", "LOCALHOST:8080"]) {
      expect([h, hostAllowed(h, loopbackListen)]).toEqual([h, true]);
    }
  });

  test("a DNS-rebinding name, a missing Host and garbage are refused", () => {
    for (const h of [undefined, null, "", "evil.example:8080", "evil.example", "localhost.evil.example:8080", "127.0.0.1.nip.io:8080", "0.0.0.0:8080"]) {
      expect([h, hostAllowed(h, loopbackListen)]).toEqual([h, false]);
    }
  });

  test("the listen address is served bare or with its own port only", () => {
    const rules = allowedHosts("192.168.1.5:8080", []);
    expect(hostAllowed("192.168.1.5:8080", rules)).toBe(true);
    expect(hostAllowed("192.168.1.5", rules)).toBe(true);
    expect(hostAllowed("192.168.1.5:9999", rules)).toBe(false);
    expect(hostAllowed("192.168.1.6:8080", rules)).toBe(false);
    const v6 = allowedHosts("[fd00::5]:8080", []);
    expect(hostAllowed("[fd00::5]:8080", v6)).toBe(true);
    expect(hostAllowed("[FD00:0::5]", v6)).toBe(true);
    expect(hostAllowed("[fd00::6]:8080", v6)).toBe(false);
  });

  test("an ephemeral listen port (tests: host:0) serves the listen host on any port", () => {
    const rules = allowedHosts("10.0.0.1:0", []);
    expect(hostAllowed("10.0.0.1:41234", rules)).toBe(true);
  });

  test("a wildcard listen address is not a host name: LAN clients need http.allowed_hosts", () => {
    for (const listen of ["0.0.0.0:8080", "[::]:8080"]) {
      const rules = allowedHosts(listen, []);
      expect(hostAllowed("192.168.1.5:8080", rules)).toBe(false);
      expect(hostAllowed("0.0.0.0:8080", rules)).toBe(false);
      expect(hostAllowed("[::]:8080", rules)).toBe(false);
      expect(hostAllowed("localhost:8080", rules)).toBe(true);
    }
  });

  test("http.allowed_hosts: a bare name on any port, name:port on that port only", () => {
    const rules = allowedHosts("0.0.0.0:8080", ["Gateway.LAN", "status.example:8443", "[fd00::1]", "192.168.1.5:8080"]);
    expect(hostAllowed("gateway.lan", rules)).toBe(true);
    expect(hostAllowed("gateway.lan:8080", rules)).toBe(true);
    expect(hostAllowed("status.example:8443", rules)).toBe(true);
    expect(hostAllowed("status.example:8080", rules)).toBe(false);
    expect(hostAllowed("status.example", rules)).toBe(false);
    expect(hostAllowed("[fd00::1]:8080", rules)).toBe(true);
    expect(hostAllowed("192.168.1.5:8080", rules)).toBe(true);
    expect(hostAllowed("192.168.1.5:8081", rules)).toBe(false);
    expect(hostAllowed("evil.gateway.lan", rules)).toBe(false);
  });

  test("a unix socket listen serves localhost (what curl --unix-socket and cellkeep status send) and allowed_hosts", () => {
    const rules = allowedHosts("/run/cellkeep/http.sock", ["status.example"]);
    expect(hostAllowed("localhost", rules)).toBe(true);
    expect(hostAllowed("status.example", rules)).toBe(true);
    expect(hostAllowed("evil.example", rules)).toBe(false);
    expect(hostAllowed(undefined, rules)).toBe(false);
  });

  test("without a listen address only loopback names are served", () => {
    const rules = allowedHosts(undefined, []);
    expect(hostAllowed("localhost", rules)).toBe(true);
    expect(hostAllowed("192.168.1.5:8080", rules)).toBe(false);
  });

  test("a malformed allowed_hosts entry is an error naming the key (the config schema catches it first)", () => {
    expect(() => allowedHosts("127.0.0.1:8080", ["evil example"])).toThrow(/http\.allowed_hosts/);
  });
});

describe("listenExposureWarning", () => {
  test("loopback and unix sockets: no warning", () => {
    for (const l of ["127.0.0.1:8080", "127.0.0.2:8080", "localhost:8080", "[::1]:8080", "[::ffff:127.0.0.1]:8080", "/run/cellkeep/http.sock", "unix:/run/x.sock", "127.0.0.1:0"]) {
      expect([l, listenExposureWarning(l)]).toEqual([l, null]);
    }
  });

  test("wildcard, LAN addresses and names: a warning naming http.listen and the address", () => {
    for (const l of ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:8080", "[fd00::1]:8080", "gateway.lan:8080", "0.0.0.0:0"]) {
      const w = listenExposureWarning(l);
      expect(w).toContain("http.listen");
      expect(w).toContain(l);
      expect(w).toContain("not a loopback address");
    }
  });
});

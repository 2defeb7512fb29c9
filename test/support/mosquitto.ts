/**
 * A real Mosquitto broker (Debian's `mosquitto`, installed by .ci/run) for
 * tests and the fleet benchmark: on loopback, on a free port, in its own
 * temporary directory, stopped (and restarted, for the restart tests) by the
 * test. Optional: user/password logins, a TLS listener with a throwaway CA
 * (made with openssl), persistence across a restart.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const MOSQUITTO = "/usr/sbin/mosquitto";
export const hasMosquitto = existsSync(MOSQUITTO);

export interface BrokerOptions {
  /** user → password; without it anonymous logins are allowed. */
  users?: Record<string, string>;
  /** A TLS listener (mqtts://) with certificates from `makeTestCa`; `requireClientCert` asks for one signed by the same CA. */
  tls?: { ca: TestCa; requireClientCert: boolean };
  /** Keep retained messages and persistent sessions across `restart()` (saved on a clean stop). */
  persistence?: boolean;
  /** File descriptors the broker may open (the fleet benchmark needs more than 1024). */
  maxFds?: number;
}

export interface Broker {
  port: number;
  url: string;
  dir: string;
  pid(): number;
  /** CPU time (user + system) the broker used so far, ms. */
  cpuMs(): number;
  /** SIGTERM and wait (persistence is written then); the port stays reserved for `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stop and remove the directory. */
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), "ck-mosq-"));
  const port = freePort();
  const lines = [
    // Run as root here (tests are root); without it mosquitto drops to the mosquitto user and cannot read the temp files.
    "user root",
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.users ? "false" : "true"}`,
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "max_queued_messages 100000",
  ];
  if (opts.users) {
    const file = join(dir, "passwd");
    writeFileSync(file, "", { mode: 0o600 });
    for (const [user, pw] of Object.entries(opts.users)) {
      const p = Bun.spawnSync(["mosquitto_passwd", "-b", file, user, pw], { stderr: "pipe" });
      if (p.exitCode !== 0) throw new Error(`mosquitto_passwd failed: ${p.stderr.toString()}`);
    }
    lines.push(`password_file ${file}`);
  }
  if (opts.tls) {
    lines.push(`cafile ${opts.tls.ca.caCert}`, `certfile ${opts.tls.ca.serverCert}`, `keyfile ${opts.tls.ca.serverKey}`, `require_certificate ${opts.tls.requireClientCert}`);
  }
  if (opts.persistence) lines.push("persistence true", `persistence_location ${dir}/`, "autosave_interval 0");
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, lines.join("\n") + "\n");
  let proc: Subprocess | null = null;
  let stderr = "";

  const start = async () => {
    const cmd = opts.maxFds ? ["sh", "-c", `ulimit -n ${opts.maxFds} && exec ${MOSQUITTO} -c ${conf}`] : [MOSQUITTO, "-c", conf];
    proc = Bun.spawn(cmd, { stdout: "ignore", stderr: "pipe" });
    void (async () => {
      const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        stderr += new TextDecoder().decode(value);
      }
    })();
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode}: ${stderr}`);
      if (await canConnect(port)) return;
      await Bun.sleep(20);
    }
    throw new Error(`mosquitto did not listen on ${port} within 10 s: ${stderr}`);
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    p.kill("SIGTERM");
    await p.exited;
  };
  await start();
  return {
    port,
    url: `${opts.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    dir,
    pid: () => (proc as Subprocess | null)?.pid ?? -1,
    cpuMs: () => {
      const pid = (proc as Subprocess | null)?.pid;
      if (!pid) return 0;
      const f = readFileSync(`/proc/${pid}/stat`, "utf8");
      const parts = f.slice(f.lastIndexOf(")") + 2).split(" ");
      // utime, stime: fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
      return ((Number(parts[11]) + Number(parts[12])) * 1000) / 100;
    },
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}

export interface TestCa {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing here: trusting it must fail the handshake. */
  otherCaCert: string;
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate (EC P-256, one day). */
export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), "ck-ca-"));
  const f = (name: string) => join(dir, name);
  const sh = (script: string) => {
    const p = Bun.spawnSync(["sh", "-ec", script], { cwd: dir, stderr: "pipe", stdout: "pipe" });
    if (p.exitCode !== 0) throw new Error(`openssl failed: ${p.stderr.toString()}`);
  };
  const key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  sh(`
openssl req -x509 ${key} -keyout ca.key -out ca.crt -days 1 -subj /CN=cellkeep-test-ca 2>/dev/null
openssl req -x509 ${key} -keyout other.key -out other.crt -days 1 -subj /CN=cellkeep-other-ca 2>/dev/null
openssl req ${key} -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile server.ext 2>/dev/null
openssl req ${key} -keyout client.key -out client.csr -subj /CN=gateway-1 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 1 2>/dev/null
chmod 600 *.key
`);
  return { dir, caCert: f("ca.crt"), serverCert: f("server.crt"), serverKey: f("server.key"), clientCert: f("client.crt"), clientKey: f("client.key"), otherCaCert: f("other.crt") };
}

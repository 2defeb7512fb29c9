/** The [mqtt] table: defaults, errors by key and line, the password file, TLS files, the effective config. */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatIssue, loadConfigText, renderEffectiveConfig } from "../../src/config/load.ts";
import { redact } from "../../src/core/log.ts";
import { mqttSettings } from "../../src/mqtt/settings.ts";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});
const base = '[network]\napn = "internet"\n\n[recovery]\nstate_file = "/var/lib/cellkeep/recovery.json"\n\n';
const errors = (toml: string) => {
  const r = loadConfigText(base + toml, "c.toml");
  return r.ok ? [] : r.issues.map((i) => formatIssue("c.toml", i));
};

describe("[mqtt] config", () => {
  test("absent: no MQTT; present: the defaults", () => {
    const none = loadConfigText(base);
    expect(none.ok && none.config.mqtt).toBeUndefined();
    const r = loadConfigText(base + '[mqtt]\nbroker = "mqtts://broker.example.com"\n');
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const s = mqttSettings(r.config)!;
    expect(s).toMatchObject({
      broker: "mqtts://broker.example.com",
      clientIdTemplate: "{hostname}",
      prefixTemplate: "cellkeep/{client_id}/",
      password: null,
      keepaliveMs: 120_000,
      metricsIntervalMs: 300_000,
      statusIntervalMs: 3_600_000,
      statusHoldoffMs: 5_000,
      qos: 1,
      commands: false,
      queueMax: 10_000,
      queuePath: "/var/lib/cellkeep/mqtt-queue.jsonl",
    });
  });

  test("bad values are named by key and line", () => {
    // Lines: base is 6 lines, [mqtt] on 7.
    expect(errors('[mqtt]\nbroker = "http://x"\n')).toEqual(['c.toml:8: mqtt.broker: expected a broker URL starting with mqtt:// or mqtts://, got "http://"']);
    expect(errors('[mqtt]\nbroker = "mqtt://u:p@x"\n')[0]).toContain("mqtt.broker: put the user name in mqtt.username");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nclient_id = "gw/1"\n')[0]).toStartWith("c.toml:9: mqtt.client_id: expected a client id of letters");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\ntopic_prefix = "fleet/#/"\n')[0]).toStartWith("c.toml:9: mqtt.topic_prefix: the topic prefix must not contain");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nclient_id = "{serial}"\n')[0]).toContain("unknown placeholder {serial}");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nqos = 3\n')).toEqual(["c.toml:9: mqtt.qos: expected 0, 1 or 2"]);
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nkeepalive = "20h"\n')[0]).toStartWith("c.toml:9: mqtt.keepalive: expected a duration of at most");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nmetrics_intervall = "1m"\n')[0]).toBe('c.toml:9: mqtt.metrics_intervall: unknown key in [mqtt]; did you mean "metrics_interval"?');
    expect(errors('[mqtt]\nbroker = "mqtt://x"\npassword_file = "/p"\n')[0]).toStartWith("c.toml:9: mqtt.password_file: mqtt.password_file needs mqtt.username");
    expect(errors('[mqtt]\nbroker = "mqtts://x"\ncert_file = "/c"\n')[0]).toStartWith("c.toml:9: mqtt.cert_file: set both mqtt.cert_file and mqtt.key_file");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nca_file = "/c"\n')[0]).toStartWith("c.toml:9: mqtt.ca_file: TLS files need an mqtts:// broker URL");
    expect(errors('[mqtt]\nbroker = "mqtt://x"\nreconnect_min = "10m"\nreconnect_max = "1m"\n')[0]).toStartWith("c.toml:10: mqtt.reconnect_max");
    expect(errors("[mqtt]\ncommands = true\n")[0]).toContain("mqtt.broker");
  });

  test("the password comes from its file, is registered as a secret and shown as ***; unreadable files are named", () => {
    dir = mkdtempSync(join(tmpdir(), "ck-mqttcfg-"));
    const pw = join(dir, "mqtt.pw");
    writeFileSync(pw, "s3cret-broker-pw\n");
    chmodSync(pw, 0o600);
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\n");
    const r = loadConfigText(base + `[mqtt]\nbroker = "mqtts://b"\nusername = "gw"\npassword_file = "${pw}"\nca_file = "${ca}"\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.mqtt?.password).toBe("s3cret-broker-pw");
    expect(redact("login s3cret-broker-pw")).not.toContain("s3cret-broker-pw");
    const shown = renderEffectiveConfig(r.config);
    expect(shown).toContain('password = "***"');
    expect(shown).toContain('keepalive = "2m"');
    expect(shown).not.toContain("s3cret-broker-pw");
    expect(errors(`[mqtt]\nbroker = "mqtts://b"\nusername = "gw"\npassword_file = "${join(dir, "missing")}"\n`)[0]).toStartWith("c.toml:10: mqtt.password_file: cannot read the MQTT password file: ENOENT");
    expect(errors(`[mqtt]\nbroker = "mqtts://b"\nca_file = "${join(dir, "nope.pem")}"\n`)[0]).toStartWith("c.toml:9: mqtt.ca_file: cannot read");
  });
});

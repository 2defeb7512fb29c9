/**
 * A gateway's publisher in a process of its own, for the kill -9 tests:
 * `bun child-gateway.ts BROKER_URL STATE_DIR CLIENT_ID N` starts the
 * publisher, queues N events, prints "queued N" and runs until killed.
 */
import { fakeGateway, testSettings } from "./helpers.ts";

const [broker, dir, clientId, count] = process.argv.slice(2) as [string, string, string, string];
const g = fakeGateway(testSettings(broker, dir, { clientIdTemplate: clientId, keepaliveMs: 5_000 }));
g.publisher.start();
const n = Number(count);
for (let i = 1; i <= n; i++) g.emit({ type: "agent.reloaded", version: "t", detail: `event ${i}` });
process.stdout.write(`queued ${n}\n`);
setInterval(() => undefined, 1 << 30);

import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ManualScheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import type { SerialEvent } from "../../src/serial/events.ts";
import { formatLockPid } from "../../src/serial/lockfile.ts";
import { PortKeeper } from "../../src/serial/port.ts";
import { openPtyPair, ptyMasterPipe, type PtyPair } from "../../src/serial/pty.ts";
import { BG96, buildFakeTree } from "./fixtures/fake-sysfs.ts";
import { collect, waitFor } from "./helpers.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "ck-keep-"));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
function pty(link?: string): PtyPair {
  const pair = openPtyPair(link ? { link } : {});
  cleanups.push(() => pair.close());
  return pair;
}
function setup(port: string, extra: Partial<ConstructorParameters<typeof PortKeeper>[0]> = {}) {
  const scheduler = new ManualScheduler();
  const events: SerialEvent[] = [];
  const lockDir = tempDir();
  const keeper = new PortKeeper({ scheduler, port, pipeOptions: { lockDir }, onEvent: (e) => events.push(e), ...extra });
  cleanups.push(() => keeper.stop());
  const pipes: BytePipe[] = [];
  keeper.onPipe((p) => pipes.push(p));
  const ofType = <T extends SerialEvent["type"]>(t: T) => events.filter((e): e is Extract<SerialEvent, { type: T }> => e.type === t);
  return { scheduler, events, keeper, pipes, ofType, lockDir };
}

describe("PortKeeper", () => {
  test("reopens the port after its node disappears and comes back (pty symlink removed and recreated)", async () => {
    const link = path.join(tempDir(), "modem");
    const pair1 = openPtyPair({ link });
    const { scheduler, keeper, pipes, ofType, events } = setup(link, { pollMs: 1500 });
    const t0 = scheduler.now();
    keeper.start();
    await waitFor(() => ofType("serial.opened").length === 1, "opened");
    expect(ofType("serial.opened")[0]).toEqual({ type: "serial.opened", at: t0, path: link, source: "config" });
    expect(keeper.state).toBe("open");
    expect(keeper.pipe).toBe(pipes[0]!);
    // An open port costs no timers: nothing is polled while it works.
    expect(scheduler.pendingCount()).toBe(0);

    const host1 = collect(pipes[0]!);
    ptyMasterPipe(pair1).write(new TextEncoder().encode("RDY\r\n"));
    await waitFor(() => host1.text() === "RDY\r\n", "first data");

    // The modem resets: its node disappears.
    pair1.close();
    expect(fs.existsSync(link)).toBe(false);
    await waitFor(() => ofType("serial.vanished").length === 1, "vanished");
    const vanished = ofType("serial.vanished")[0]!;
    expect(vanished.cause.code).toBe("port-vanished");
    expect(vanished.path).toBe(link);
    expect(keeper.state).toBe("waiting");
    expect(keeper.pipe).toBeNull();
    expect(scheduler.nextDeadline()).toBe(t0 + 1500);

    // Polls while it is gone: one open-failed event, not one per poll.
    scheduler.advance(1500);
    await waitFor(() => keeper.state === "waiting", "waiting again");
    scheduler.advance(1500);
    await waitFor(() => keeper.state === "waiting", "waiting again");
    const failed = ofType("serial.open-failed");
    expect(failed.length).toBe(1);
    expect(failed[0]!.cause.code).toBe("port-not-found");

    // It comes back (new pty, same link); the next poll reopens it.
    const pair2 = pty(link);
    scheduler.advance(1500);
    await waitFor(() => ofType("serial.reopened").length === 1, "reopened");
    expect(ofType("serial.reopened")[0]).toEqual({
      type: "serial.reopened",
      at: t0 + 4500,
      path: link,
      previousPath: link,
      downMs: 4500,
      attempts: 3,
    });
    expect(ofType("serial.opened").length).toBe(1);
    expect(pipes.length).toBe(2);
    expect(keeper.pipe).toBe(pipes[1]!);
    expect(scheduler.pendingCount()).toBe(0);

    // The new pipe carries data both ways.
    const modem2 = collect(ptyMasterPipe(pair2));
    pipes[1]!.write(new TextEncoder().encode("AT\r"));
    await waitFor(() => modem2.text() === "AT\r", "data to modem after reopen");

    await keeper.stop();
    expect(keeper.state).toBe("stopped");
    expect(pipes[1]!.isOpen).toBe(false);
    expect(events.at(-1)?.type).toBe("serial.closed");
    expect(scheduler.pendingCount()).toBe(0);
  });

  test('with port = "auto" it re-runs discovery and follows the modem to its new ttyUSB number', async () => {
    const tree = buildFakeTree([BG96("1-1", 0)]);
    cleanups.push(() => tree.cleanup());
    const pairA = openPtyPair();
    tree.linkNode("ttyUSB2", pairA.slavePath);
    const { scheduler, keeper, ofType } = setup("auto", { discovery: { sysRoot: tree.sysRoot, devRoot: tree.devRoot } });
    keeper.start();
    await waitFor(() => ofType("serial.opened").length === 1, "opened");
    expect(ofType("serial.opened")[0]!.path).toBe(path.join(tree.devRoot, "ttyUSB2"));
    expect(ofType("serial.opened")[0]!.source).toBe("auto");

    // Reset: the old nodes go away, the modem re-enumerates as ttyUSB4..7.
    pairA.close();
    for (const n of ["ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyUSB3"]) tree.setNode(n, false);
    await waitFor(() => ofType("serial.vanished").length === 1, "vanished");
    tree.replaceUsbDevices([BG96("1-1", 4)]);
    const pairB = pty();
    for (const n of ["ttyUSB4", "ttyUSB5", "ttyUSB7"]) tree.setNode(n, true);
    tree.linkNode("ttyUSB6", pairB.slavePath);
    scheduler.advance(1500);
    await waitFor(() => ofType("serial.reopened").length === 1, "reopened");
    const re = ofType("serial.reopened")[0]!;
    expect(re.path).toBe(path.join(tree.devRoot, "ttyUSB6"));
    expect(re.previousPath).toBe(path.join(tree.devRoot, "ttyUSB2"));
  });

  test("a port locked by a live process is retried, reported once as port-locked with the PID", async () => {
    const pair = pty();
    const sleeper = Bun.spawn(["sleep", "30"]);
    cleanups.push(() => sleeper.kill());
    const { scheduler, keeper, ofType, lockDir } = setup(pair.slavePath);
    const lockFile = path.join(lockDir, `LCK..${pair.slavePath.slice(5).replace(/\//g, "_")}`);
    fs.writeFileSync(lockFile, formatLockPid(sleeper.pid));
    keeper.start();
    await waitFor(() => ofType("serial.open-failed").length === 1, "open-failed");
    const f = ofType("serial.open-failed")[0]!;
    expect(f.cause.code).toBe("port-locked");
    expect(f.cause.detail).toContain(`PID ${sleeper.pid}`);
    expect(keeper.state).toBe("waiting");
    // The other process goes away and leaves its lock behind: stale, removed, opened.
    sleeper.kill();
    await sleeper.exited;
    scheduler.advance(1500);
    await waitFor(() => ofType("serial.opened").length === 1, "opened after the lock owner died");
    expect(ofType("serial.stale-lock")[0]).toMatchObject({ lockPath: lockFile, pid: sleeper.pid });
  });

  test("a pipe closed by its user leaves the keeper idle (no reopen), and stop() while waiting clears the timer", async () => {
    const pair = pty();
    const { scheduler, keeper, pipes, ofType } = setup(pair.slavePath);
    keeper.start();
    await waitFor(() => pipes.length === 1, "opened");
    await pipes[0]!.close();
    expect(keeper.state).toBe("idle");
    expect(ofType("serial.closed").length).toBe(1);
    expect(scheduler.pendingCount()).toBe(0);

    const missing = setup("/dev/ttyNOPE42");
    missing.keeper.start();
    await waitFor(() => missing.keeper.state === "waiting", "waiting");
    expect(missing.scheduler.pendingCount()).toBe(1);
    await missing.keeper.stop();
    expect(missing.scheduler.pendingCount()).toBe(0);
    missing.scheduler.advance(10_000);
    expect(missing.keeper.state).toBe("stopped");
  });
});

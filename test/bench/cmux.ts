/**
 * CMUX benchmark (run: `bun test/bench/cmux.ts [seconds-per-run]`): PPP
 * goodput through a pty paced to a serial line's rate, plain and over CMUX.
 *
 * Sender (cellkeep's side, the pty slave): 1500-byte IPv4 datagrams in
 * HDLC-framed PPP frames (RFC 1662, ACCM 0), written either straight to the
 * line or into DLCI 2 of a CmuxSession (UIH frames of N1 = 127). Receiver
 * (the modem's side, the pty master): a 27.010 responder core for the muxed
 * run, then the HDLC decoder; it counts the IP octets that arrive whole.
 * The line is paced like a UART at 8N1 (baud / 10 octets per second) by a
 * token bucket on the sender, the same for both runs, so the difference is
 * what CMUX costs: its 6 header octets per 127 (≈ 4.5 %) and its CPU.
 * Goal: the muxed goodput is no more than 5 % below the plain one beyond the
 * header octets. Prints figures, never asserts.
 */
import { CmuxCore } from "../../src/cmux/core.ts";
import { CmuxSession } from "../../src/cmux/session.ts";
import { RealScheduler } from "../../src/core/clock.ts";
import type { BytePipe } from "../../src/core/pipe.ts";
import { encodeFrame as hdlcFrame, HdlcDecoder } from "../../src/ppp/hdlc.ts";
import { FdPipe } from "../../src/serial/fd-pipe.ts";
import { openPtyPair, openSlaveFd, ptyMasterPipe } from "../../src/serial/pty.ts";

const seconds = Number(process.argv[2] ?? 4);
const N1 = 127;
const FRAMING = { accm: 0, acfc: true, pfc: true, fcs32: false };

function datagram(seq: number): Uint8Array {
  const d = new Uint8Array(1500);
  d[0] = 0x45;
  d[2] = 1500 >> 8;
  d[3] = 1500 & 0xff;
  for (let i = 20; i < d.length; i++) d[i] = (i * 31 + seq) & 0xff;
  return d;
}

/** Writes to `line` at most baud/10 octets per second (8N1), in 5 ms steps. */
class PacedWriter {
  private budget = 0;
  private last = performance.now();
  private queue: Uint8Array[] = [];
  private queued = 0;
  private timer: ReturnType<typeof setInterval>;
  constructor(
    private readonly line: BytePipe,
    private readonly octetsPerSec: number,
  ) {
    this.timer = setInterval(() => this.pump(), 5);
  }
  write(d: Uint8Array): void {
    this.queue.push(d);
    this.queued += d.length;
  }
  get backlog(): number {
    return this.queued;
  }
  private pump(): void {
    const now = performance.now();
    this.budget = Math.min(this.budget + ((now - this.last) / 1000) * this.octetsPerSec, this.octetsPerSec * 0.02);
    this.last = now;
    while (this.queue.length > 0 && this.budget >= 1) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, Math.floor(this.budget));
      this.line.write(head.subarray(0, n));
      this.budget -= n;
      this.queued -= n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

async function run(baud: number, mux: boolean): Promise<{ goodput: number; wire: number; packets: number }> {
  const pair = openPtyPair();
  const slaveFd = openSlaveFd(pair, { nonBlocking: true });
  const slave = new FdPipe(slaveFd, { label: "bench slave", ownsFd: true });
  const master = ptyMasterPipe(pair);
  const paced = new PacedWriter(slave, baud / 10);
  // The session writes into the paced line; its reads come from the slave.
  const line: BytePipe = {
    write: (d) => paced.write(d),
    onData: (fn) => slave.onData(fn),
    onClose: (fn) => slave.onClose(fn),
    close: () => slave.close(),
    get isOpen() {
      return slave.isOpen;
    },
  };
  let ipOctets = 0;
  let packets = 0;
  let wire = 0;
  const hdlc = new HdlcDecoder({ accm: 0 });
  const onHdlc = (d: Uint8Array) =>
    hdlc.decode(d, (e) => {
      if (e.kind === "frame" && e.protocol === 0x21) {
        ipOctets += e.info.length;
        packets++;
      }
    });
  let responder: CmuxCore | null = null;
  if (mux) {
    responder = new CmuxCore({ role: "responder", maxFrame: N1 }, { data: (dlci, d) => dlci === 2 && onHdlc(d) });
  }
  master.onData((d) => {
    wire += d.length;
    if (responder) {
      responder.receive(d, Date.now());
      const out = responder.takeOutput();
      if (out.length) master.write(out);
    } else onHdlc(d);
  });
  let send: (d: Uint8Array) => void = (d) => paced.write(d);
  let session: CmuxSession | null = null;
  if (mux) {
    session = new CmuxSession(line, { scheduler: new RealScheduler(), params: { role: "initiator", maxFrame: N1 } });
    await session.start();
    const dlci = await session.channel(2);
    send = (d) => dlci.write(d);
  }
  // Keep about 100 ms of line time queued: the link is always busy, never flooded.
  const target = (baud / 10) * 0.1;
  let seq = 0;
  const startOctets = ipOctets;
  const t0 = performance.now();
  const feeder = setInterval(() => {
    while (paced.backlog < target) send(hdlcFrame(0x21, datagram(seq++), FRAMING).slice());
  }, 2);
  await Bun.sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const got = ipOctets - startOctets;
  clearInterval(feeder);
  paced.stop();
  await session?.close().catch(() => undefined);
  await slave.close();
  pair.close();
  if (process.env.CK_DEBUG) console.log({ baud, mux, wire, packets, seq, hdlc: hdlc.counters, backlog: paced.backlog });
  return { goodput: got / elapsed, wire: wire / elapsed, packets };
}

const rows: string[] = [];
for (const baud of [115_200, 921_600]) {
  const plain = await run(baud, false);
  const muxed = await run(baud, true);
  const line = baud / 10;
  // The header share of a full UIH frame: 6 octets (2 flags, address, control, length, FCS) per N1.
  const header = 6 / (N1 + 6);
  const expected = plain.goodput * (1 - header);
  const beyond = (1 - muxed.goodput / expected) * 100;
  rows.push(
    `${String(baud).padStart(7)} baud: line ${(line / 1000).toFixed(1)} kB/s | plain PPP ${(plain.goodput / 1000).toFixed(2)} kB/s (${((plain.goodput / line) * 100).toFixed(1)} % of line) | ` +
      `CMUX ${(muxed.goodput / 1000).toFixed(2)} kB/s (${((muxed.goodput / line) * 100).toFixed(1)} % of line, ${((1 - muxed.goodput / plain.goodput) * 100).toFixed(1)} % below plain; ` +
      `header share ${(header * 100).toFixed(1)} %, ${beyond.toFixed(1)} % beyond it; goal ≤ 5 %)`,
  );
}
console.log(`CMUX goodput, ${seconds} s per run, N1 = ${N1}, 1500-octet datagrams:`);
for (const r of rows) console.log(r);
process.exit(0);

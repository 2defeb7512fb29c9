/**
 * The TUN device: a narrow interface (after wireguard-go tun/tuntest), the real
 * device on /dev/net/tun through bun:ffi, and an in-memory twin for fast tests.
 *
 * Facts this relies on (bun-facts §4):
 * - TUNSETIFF = 0x400454ca; ifreq is 40 bytes, name at 0..15, u16 flags at 16.
 * - `Bun.file(fd).stream()` needs O_NONBLOCK, and one chunk can hold MANY
 *   packets; callers split chunks with splitPackets() (src/net/packet.ts).
 * - The stream reads ahead until EAGAIN and queues what each read(2) got (one
 *   packet) as a chunk of its own; readMany() takes them all at once.
 * - One packet per `fs.writeSync` works.
 * - The fd keeps working after `ip link set <if> netns <ns>`.
 */
import * as fs from "node:fs";
import { CellkeepError } from "../core/cause.ts";
import { cancelStreamReader } from "../sys/fd-reader.ts";
import { ERRNO, errno, errnoName, O } from "../sys/libc.ts";
import * as libc from "../sys/libc.ts";

export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;

export interface TunDevice {
  readonly name: string;
  /**
   * Next batch read from the device: one or more chunks (never none), each
   * one or MORE whole packets back to back, in the order read. Resolves null
   * once the device is closed.
   */
  read(): Promise<Uint8Array[] | null>;
  /** Write exactly one packet. false = dropped (device closed or kernel queue full). */
  write(packet: Uint8Array): boolean;
  readonly isOpen: boolean;
  close(): Promise<void>;
}

/** In-memory twin: tests inject what "the kernel" sends and inspect what we wrote. */
export class MemoryTun implements TunDevice {
  readonly written: Uint8Array[] = [];
  private chunks: Uint8Array[] = [];
  private waiter: ((c: Uint8Array[] | null) => void) | null = null;
  private closed = false;
  /** Make write() refuse, as a full kernel queue would. */
  refuseWrites = false;
  reads = 0;

  constructor(
    readonly name = "tun-mem",
    /** Most chunks one read() returns (default 1: every read one chunk). */
    private readonly batchChunks = 1,
  ) {}

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Queue a chunk for read(): one packet, or several concatenated (as Bun delivers them). */
  inject(chunk: Uint8Array): void {
    if (this.closed) return;
    const copy = chunk.slice();
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w([copy]);
    } else this.chunks.push(copy);
  }

  pendingChunks(): number {
    return this.chunks.length;
  }

  /**
   * Up to `batchChunks` injected chunks per read, oldest first (FdTun hands
   * out whatever its stream had queued, up to READ_BATCH_BYTES).
   */
  read(): Promise<Uint8Array[] | null> {
    this.reads++;
    if (this.closed) return Promise.resolve(null);
    if (this.chunks.length > 0) return Promise.resolve(this.chunks.splice(0, this.batchChunks));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  write(packet: Uint8Array): boolean {
    if (this.closed || this.refuseWrites) return false;
    this.written.push(packet.slice());
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.chunks = [];
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }
}

/** The ifreq for TUNSETIFF: the interface name, then the u16 flags at offset 16. */
export function tunIfreq(name: string, flags = IFF_TUN | IFF_NO_PI): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.byteLength === 0 || nameBytes.byteLength >= IFNAMSIZ) {
    throw new RangeError(`interface name must be 1..15 bytes: ${name}`);
  }
  const ifr = new Uint8Array(IFREQ_SIZE);
  ifr.set(nameBytes, 0);
  new DataView(ifr.buffer).setUint16(16, flags, true);
  return ifr;
}

export const TUN_PATH = "/dev/net/tun";

/** Bit 12 of the effective capability set (linux/capability.h). */
const CAP_NET_ADMIN = 12n;

/** true when this process may create and configure interfaces (root or CAP_NET_ADMIN). */
export function hasNetAdmin(): boolean {
  try {
    const status = fs.readFileSync("/proc/self/status", "utf8");
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    if (m) return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
  } catch {
    // No /proc: fall back to the uid.
  }
  return process.getuid?.() === 0;
}

/**
 * Most bytes one FdTun.read() hands out (when more are queued the rest waits
 * for the next read): one batch is what the pump takes in one turn, and its
 * queue cap (256 KiB) must hold it whole.
 */
export const READ_BATCH_BYTES = 64 * 1024;

/**
 * Take chunks off the front of `queue` (mutated) while their total fits in
 * `maxBytes`; always at least one, so a chunk larger than the limit still
 * goes out (alone).
 */
export function takeBatch(queue: Uint8Array[], maxBytes: number): Uint8Array[] {
  let n = 0;
  let bytes = 0;
  while (n < queue.length && (n === 0 || bytes + queue[n]!.byteLength <= maxBytes)) bytes += queue[n++]!.byteLength;
  return queue.splice(0, n);
}

/** The real device on /dev/net/tun. */
export class FdTun implements TunDevice {
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  private closed = false;
  /** Writes the kernel refused (EAGAIN/ENOBUFS...), by errno name. */
  readonly writeErrors = new Map<string, number>();

  private constructor(
    readonly name: string,
    readonly fd: number,
  ) {}

  /**
   * Create (or attach to) TUN interface `name` with IFF_TUN | IFF_NO_PI.
   * Throws CellkeepError with cause permission-denied / tun-unavailable; never
   * a bare errno.
   */
  static open(name: string): FdTun {
    const ifr = tunIfreq(name);
    if (!fs.existsSync(TUN_PATH)) {
      throw new CellkeepError("tun-unavailable", `${TUN_PATH} does not exist`);
    }
    const fd = libc.open(TUN_PATH, O.RDWR | O.NONBLOCK | O.CLOEXEC);
    if (fd < 0) {
      const e = errno();
      if (e === ERRNO.EACCES || e === ERRNO.EPERM) {
        throw new CellkeepError("permission-denied", `open ${TUN_PATH}: ${errnoName(e)}`);
      }
      throw new CellkeepError("tun-unavailable", `open ${TUN_PATH}: ${errnoName(e)} (${libc.strerror(e)})`);
    }
    if (libc.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = errno();
      libc.close(fd);
      if (e === ERRNO.EPERM || e === ERRNO.EACCES) {
        throw new CellkeepError("permission-denied", `TUNSETIFF ${name}: ${errnoName(e)}; needs root or CAP_NET_ADMIN`);
      }
      if (e === ERRNO.EBUSY) {
        throw new CellkeepError("tun-unavailable", `interface ${name} is held by another process`);
      }
      if (e === ERRNO.EINVAL) {
        throw new CellkeepError("tun-unavailable", `interface ${name} exists and is not a TUN device; pick another link.interface`);
      }
      throw new CellkeepError("tun-unavailable", `TUNSETIFF ${name}: ${errnoName(e)} (${libc.strerror(e)})`);
    }
    // The kernel may have adjusted the name (e.g. a "%d" pattern); read it back.
    const end = ifr.indexOf(0);
    const actual = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    return new FdTun(actual, fd);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /**
   * Packets the stream had queued that the last read() did not hand out yet
   * (more than READ_BATCH_BYTES were queued).
   */
  private queued: Uint8Array[] = [];

  /**
   * Next batch: every chunk the stream has queued, up to READ_BATCH_BYTES.
   * Bun's stream reads ahead until EAGAIN and queues each read(2) (one
   * packet) as its own chunk; taking them one reader.read() at a time cost a
   * promise, a pump turn and a writer wake-up per packet (dataplane bench:
   * almost every chunk held a single packet), so readMany() takes the whole
   * queue in one go. The chunks are handed on as they are: copying them into
   * one array cost more than it saved.
   */
  async read(): Promise<Uint8Array[] | null> {
    if (this.closed) return null;
    if (this.queued.length === 0) {
      // ONE stream reader for the fd's life (bun-facts §1/§4).
      this.reader ??= Bun.file(this.fd).stream().getReader();
      for (;;) {
        let r;
        try {
          r = await this.reader.readMany();
        } catch (err) {
          if (this.closed) return null;
          throw err;
        }
        if (this.closed || r.done) return null;
        const chunks = r.value.filter((c) => c.byteLength > 0);
        if (chunks.length > 0) {
          this.queued = chunks;
          break;
        }
      }
    }
    return takeBatch(this.queued, READ_BATCH_BYTES);
  }

  write(packet: Uint8Array): boolean {
    if (this.closed) return false;
    // One packet per write: a TUN write is one datagram. write(2) through FFI
    // rather than fs.writeSync: at tens of thousands of packets a second the
    // node:fs wrapper costs more than the syscall (dataplane bench profile).
    const n = libc.write(this.fd, packet, packet.byteLength);
    if (n === packet.byteLength) return true;
    const code = n < 0 ? errnoName(errno()) : "short-write";
    this.writeErrors.set(code, (this.writeErrors.get(code) ?? 0) + 1);
    return false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reader = this.reader;
    this.reader = null;
    this.queued = [];
    await cancelStreamReader(reader);
    // A non-persistent TUN disappears (with its addresses and routes) when its last fd closes.
    libc.close(this.fd);
  }
}

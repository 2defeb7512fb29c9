/**
 * A unix datagram socket that plays systemd's side of NOTIFY_SOCKET in tests.
 * Bun has no unix-datagram API, so bind(2) and recv(2) go through bun:ffi
 * (socket/close come from src/sys/libc.ts). Non-blocking: `receive()` returns
 * every datagram already queued, never waits.
 */
import { dlopen, FFIType } from "bun:ffi";
import * as libc from "../../src/sys/libc.ts";
import { AF_UNIX, SOCK_DGRAM, SOCK_CLOEXEC, unixSocketAddress } from "../../src/systemd/notify.ts";

const SOCK_NONBLOCK = 0o4000;
const EAGAIN = 11;

const { symbols } = dlopen("libc.so.6", {
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
});

export class DgramListener {
  readonly fd: number;
  constructor(readonly path: string) {
    const a = unixSocketAddress(path);
    if (!a) throw new Error(`bad socket path ${path}`);
    this.fd = libc.check(libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket");
    if (symbols.bind(this.fd, a.addr, a.len) < 0) {
      const e = libc.errno();
      libc.close(this.fd);
      throw new libc.SysError("bind", e, path);
    }
  }
  /** All datagrams waiting, as text. */
  receive(): string[] {
    const out: string[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = Number(symbols.recv(this.fd, buf, buf.byteLength, 0));
      if (n < 0) {
        const e = libc.errno();
        if (e === EAGAIN) return out;
        throw new libc.SysError("recv", e);
      }
      out.push(new TextDecoder().decode(buf.subarray(0, n)));
    }
  }
  close(): void {
    libc.close(this.fd);
  }
}

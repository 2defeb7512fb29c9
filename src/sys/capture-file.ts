/**
 * A capture file (pcap) the agent appends to: opened safely, written whole
 * records, closed on the first write error. Shared by the PPP and the CMUX
 * recorders, which only build the bytes.
 *
 * The agent runs as root and the path comes from the config: the file is
 * opened with O_NOFOLLOW (a symlink planted at the path could otherwise make
 * root append to, and chmod, any file), must be a regular file (a FIFO or a
 * device such as /dev/null is refused, O_NONBLOCK so a FIFO cannot hang the
 * open), and is set to mode 0600 every time, an existing file included: it
 * holds addresses, user names and maybe traffic. The constructor throws an
 * Error with a message for a person naming `key` (the config key to fix).
 */
import { closeSync, constants as fsConstants, fchmodSync, fstatSync, openSync, writeSync } from "node:fs";

export class CaptureFile {
  private fd: number | null;
  /** Writes that failed (the file is closed after the first). */
  errors = 0;

  /** `header`: written when the file is new or empty (the pcap global header). */
  constructor(
    readonly path: string,
    header: Uint8Array,
    key: string,
  ) {
    const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
    let fd: number;
    try {
      fd = openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ELOOP") throw new Error(`${path} is a symbolic link; the pcap file is never opened through one (set ${key} to the real path)`);
      if (code === "ENXIO") throw new Error(`${path} is not a regular file (a FIFO); set ${key} to a file`);
      throw err;
    }
    try {
      if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file; set ${key} to a file`);
      fchmodSync(fd, 0o600);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.fd = fd;
    if (fstatSync(fd).size === 0) this.append(header);
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  append(data: Uint8Array): void {
    if (this.fd === null) return;
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    } catch {
      this.errors++;
      this.close();
    }
  }

  close(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone; nothing to keep
    }
    this.fd = null;
  }
}

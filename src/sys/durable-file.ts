/**
 * Small state files that must survive kill -9 and power loss: written to a
 * temp file, fsynced, renamed over the old one, and the directory fsynced so
 * the rename itself is durable. A reader then sees the old file or the new
 * one, never half of either. Used by the recovery state file, the usage
 * ledger and the MQTT queue's compaction.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** The errno name of a failed fs call ("ENOSPC"), or its message. */
export function errorCode(err: unknown): string {
  return (err as { code?: string }).code ?? (err as Error).message ?? String(err);
}

/**
 * Replace `path` with `data` (mode `mode` for a new file). Creates the
 * directory when missing. Throws the fs error; the temp file is removed then.
 */
export function replaceFileDurably(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    const fd = openSync(tmp, "w", mode);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    syncDirectory(dirname(path));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file may not exist
    }
    throw err;
  }
}

/**
 * Make a rename in `dir` durable. Some file systems (FUSE, some network
 * mounts) refuse fsync on a directory: the file is written, so that is not
 * an error; nor is a directory that cannot be opened.
 */
export function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    const code = errorCode(err);
    if (code !== "EINVAL" && code !== "ENOTSUP" && code !== "EBADF") throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * Keep an unreadable file for a person as `<path>.corrupt` (replacing an
 * older one). Returns its name, or null when it could not be moved; with
 * `removeIfStuck` the file is then deleted so the next start does not trip
 * over it again.
 */
export function moveAside(path: string, removeIfStuck = false): string | null {
  const keptAs = `${path}.corrupt`;
  try {
    renameSync(path, keptAs);
    return keptAs;
  } catch {
    if (removeIfStuck) {
      try {
        unlinkSync(path);
      } catch {
        // nothing more to do; the next save replaces it by rename anyway
      }
    }
    return null;
  }
}

/**
 * replaceFileDurably for a file saved again and again (a state file): a
 * failure is reported once per distinct error, not at every save, and a
 * success clears it so the next failure is reported again.
 */
export class DurableSaver {
  private lastError: string | null = null;

  constructor(
    private readonly path: string,
    private readonly mode: number,
    /** A new kind of write failure (the errno name), for the owner's event. */
    private readonly onNewError: (code: string) => void,
  ) {}

  /** True when written; false after a failure (reported if it is a new one). */
  save(data: string): boolean {
    try {
      replaceFileDurably(this.path, data, this.mode);
      this.lastError = null;
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code !== this.lastError) {
        this.lastError = code;
        this.onNewError(code);
      }
      return false;
    }
  }
}

/**
 * node:fs helpers shared by the file outbox and its lock (Node, and Deno through its node:fs):
 * whole writes, windowed reads, a copy of byte ranges into a new file, directory fsync where the
 * platform has it, and the system error codes that tell "not there" from a real failure.
 */
import { open, unlink, type FileHandle } from "node:fs/promises";
import { WeirOutboxError } from "./outbox.js";

/** Read window of WindowReader (and write buffer of copyToNewFile). */
const READ_WINDOW_BYTES = 1 << 20;

/** Writes all of `buf` at `position` (a write may be partial). */
export async function writeAll(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
  }
}

/** Makes a rename or create in `dir` durable; platforms that cannot open or fsync a directory (Windows) skip it. */
export async function syncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, "r");
    await h.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync.
  } finally {
    await h?.close().catch(() => {});
  }
}

/**
 * Writes `prefix`, then the byte ranges of `from` back to back, into a new file at `toPath`, and
 * fsyncs it (the caller renames it into place). On failure the new file is removed.
 */
export async function copyToNewFile(from: FileHandle, prefix: Uint8Array, ranges: Iterable<{ at: number; size: number }>, toPath: string): Promise<void> {
  const to = await open(toPath, "w");
  try {
    const reader = new WindowReader(from);
    let out = new Uint8Array(Math.max(READ_WINDOW_BYTES, prefix.length));
    out.set(prefix, 0);
    let used = prefix.length;
    let written = 0;
    const flush = async () => {
      await writeAll(to, out.subarray(0, used), written);
      written += used;
      used = 0;
    };
    for (const { at, size } of ranges) {
      const bytes = await reader.read(at, size);
      if (used + size > out.length) {
        await flush();
        if (size > out.length) out = new Uint8Array(size);
      }
      out.set(bytes, used);
      used += size;
    }
    await flush();
    await to.sync();
  } catch (err) {
    await to.close().catch(() => {});
    await unlinkIfExists(toPath).catch(() => {});
    throw err;
  }
  await to.close();
}

/** Sequential reads of increasing ranges through a window, so copying many small records is few syscalls. */
export class WindowReader {
  private buf = new Uint8Array(0);
  private start = 0;
  constructor(private readonly handle: FileHandle) {}

  /** A view of [pos, pos + len) valid until the next read. */
  async read(pos: number, len: number): Promise<Uint8Array> {
    if (pos < this.start || pos + len > this.start + this.buf.length) {
      const buf = new Uint8Array(Math.max(READ_WINDOW_BYTES, len));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await this.handle.read(buf, got, buf.length - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < len) throw new WeirOutboxError(`outbox: short read at offset ${pos} (${got} of ${len} bytes)`);
      this.buf = buf.subarray(0, got);
      this.start = pos;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (codeOf(err) !== "ENOENT") throw err;
  }
}

/** The `code` of a Node-style system error ("ENOENT", "EEXIST", …). */
export function codeOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

/** `err` as an Error (a thrown non-Error becomes its text). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

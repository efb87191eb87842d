/**
 * BatchBuffer: a growable byte buffer that batches are encoded into, then handed off whole.
 *
 * `take()` copies the filled bytes into an ArrayBuffer of exactly that size (for postMessage: the
 * main thread transfers its request batches, the worker lets its replies be cloned, reply-batch.ts
 * says why) and keeps encoding into the same buffer. Transferring the whole encoding buffer
 * instead (64 KiB per batch, thousands of batches a second) made V8 count hundreds of MB/s of
 * external memory and run a full mark-compact every ~80 ms on both threads; the copy of a batch's
 * few hundred bytes costs far less. A buffer that grew past SHRINK_BYTES is dropped after its batch.
 */

const INITIAL_BYTES = 64 * 1024;
/**
 * SHRINK_BYTES: a buffer that grew past it is dropped after its batch. Reply batches flush at 1 MiB
 * (reply-batch.ts), so one with a value of up to 1 MiB fits in a buffer of 4 MiB, kept: copying a
 * value into memory in use costs a small part of copying it into memory the kernel must first map
 * and zero (docs/performance.md, "Large values").
 */
const SHRINK_BYTES = 4 * 1024 * 1024;

/** BatchBuffer accumulates encoded records. */
export class BatchBuffer {
  /** buf is the current buffer; views taken from it are valid until the next write. */
  buf: Buffer;
  /** len is the number of bytes written. */
  len = 0;
  /** count is the number of records written since the last take(). */
  count = 0;
  private readonly versionByte: number;

  /** constructor: `versionByte` is written at the start of every batch. */
  constructor(versionByte: number) {
    this.versionByte = versionByte;
    this.buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
    this.buf[0] = versionByte;
    this.len = 1;
  }

  /** reserve makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** take returns the filled bytes as an ArrayBuffer of their exact size and its length, and resets the buffer. */
  take(): { buffer: ArrayBuffer; length: number } {
    const buffer = (this.buf.buffer as ArrayBuffer).slice(
      this.buf.byteOffset,
      this.buf.byteOffset + this.len,
    );
    if (this.buf.length > SHRINK_BYTES) this.buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
    this.buf[0] = this.versionByte;
    this.len = 1;
    this.count = 0;
    return { buffer, length: buffer.byteLength };
  }
}

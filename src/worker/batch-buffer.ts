/**
 * BatchBuffer: a growable byte buffer that batches are encoded into, then handed off whole.
 *
 * `take()` returns the filled ArrayBuffer (to be transferred to another thread) and starts a fresh
 * one, so a batch is never copied after encoding and never written to after it was taken.
 */

const INITIAL_BYTES = 64 * 1024;

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

  /** take returns the filled bytes as a transferable ArrayBuffer and its length, and resets the buffer. */
  take(): { buffer: ArrayBuffer; length: number } {
    const out = { buffer: this.buf.buffer as ArrayBuffer, length: this.len };
    this.buf = Buffer.allocUnsafeSlow(Math.max(INITIAL_BYTES, nextPow2(this.len)));
    this.buf[0] = this.versionByte;
    this.len = 1;
    this.count = 0;
    return out;
  }
}

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

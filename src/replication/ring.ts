/**
 * RingProducer and RingConsumer: the two ends of a ring (layout and orders in ring-format.ts).
 */
import {
  RING_DATA,
  RING_ENTRY_HEADER,
  RING_GEN,
  RING_HEAD,
  RING_LAPPED,
  RING_TAIL,
  RING_WAKE,
  RING_WRAP,
} from './ring-format.js';

function align4(n: number): number {
  return (n + 3) & ~3;
}

class RingView {
  protected readonly data: Buffer;
  protected readonly capacity: number;
  protected readonly pos: BigInt64Array;
  protected readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - RING_DATA;
    this.data = Buffer.from(buffer, RING_DATA, this.capacity);
    this.pos = new BigInt64Array(buffer, 0, RING_DATA / 8);
    this.words = new Int32Array(buffer, 0, RING_DATA / 4);
  }

  protected head(): number {
    return Number(Atomics.load(this.pos, RING_HEAD / 8));
  }

  protected tail(): number {
    return Number(Atomics.load(this.pos, RING_TAIL / 8));
  }
}

function writeSeq(b: Buffer, value: number, offset: number): void {
  b.writeUInt32LE(value % 0x100000000, offset);
  b.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
}

function readSeq(b: Buffer, offset: number): number {
  return b.readUInt32LE(offset) + b.readUInt32LE(offset + 4) * 0x100000000;
}

/** RingProducer publishes batches; used only by the leader's worker. */
export class RingProducer extends RingView {
  /** dropped counts batches that did not fit (the consumer was lapped). */
  dropped = 0;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    // A new generation: the consumer checks its position with this producer's leader before it takes a batch.
    Atomics.add(this.words, RING_GEN / 4, 1);
  }

  /** publish appends one batch (WAL-framed records firstSeq..lastSeq); returns false when it did not fit. */
  publish(records: Uint8Array, firstSeq: number, lastSeq: number): boolean {
    const size = align4(RING_ENTRY_HEADER + records.length);
    let head = this.head();
    const free = this.capacity - (head - this.tail());
    let at = head % this.capacity;
    const wrapWaste = at + size > this.capacity ? this.capacity - at : 0;
    if (size + wrapWaste > free || size > this.capacity) {
      this.dropped++;
      Atomics.store(this.words, RING_LAPPED / 4, 1);
      // The consumer is woken as for a publish: waiting on an empty ring, it would otherwise learn
      // of the drop only when its wait ran out (pull_wait_ms later, and a w=N write with it).
      this.wake();
      return false;
    }
    if (wrapWaste > 0) {
      if (wrapWaste >= 4) this.data.writeUInt32LE(RING_WRAP, at);
      head += wrapWaste;
      at = 0;
    }
    this.data.writeUInt32LE(RING_ENTRY_HEADER - 4 + records.length, at);
    writeSeq(this.data, firstSeq, at + 4);
    writeSeq(this.data, lastSeq, at + 12);
    this.data.set(records, at + RING_ENTRY_HEADER);
    Atomics.store(this.pos, RING_HEAD / 8, BigInt(head + size));
    this.wake();
    return true;
  }

  /** wake bumps WAKE and notifies a waiting consumer (after HEAD or LAPPED is stored). */
  private wake(): void {
    Atomics.add(this.words, RING_WAKE / 4, 1);
    Atomics.notify(this.words, RING_WAKE / 4);
  }
}

/** RingEntry is one consumed batch (records copied out of the ring). */
export interface RingEntry {
  firstSeq: number;
  lastSeq: number;
  records: Buffer;
}

/** RingConsumer reads batches; used only by the replica's worker. */
export class RingConsumer extends RingView {
  /** take returns the published batches not yet consumed (copied) and advances TAIL past them. */
  take(maxBytes: number): RingEntry[] {
    const head = this.head();
    let tail = this.tail();
    const out: RingEntry[] = [];
    let bytes = 0;
    while (tail < head && bytes < maxBytes) {
      let at = tail % this.capacity;
      if (this.capacity - at < 4 || this.data.readUInt32LE(at) === RING_WRAP) {
        tail += this.capacity - at;
        at = 0;
        if (tail >= head) break;
      }
      const len = this.data.readUInt32LE(at);
      const firstSeq = readSeq(this.data, at + 4);
      const lastSeq = readSeq(this.data, at + 12);
      const records = Buffer.from(this.data.subarray(at + RING_ENTRY_HEADER, at + 4 + len));
      out.push({ firstSeq, lastSeq, records });
      bytes += records.length;
      tail += align4(4 + len);
    }
    Atomics.store(this.pos, RING_TAIL / 8, BigInt(tail));
    return out;
  }

  /** lapped reports (and clears) whether the producer dropped a batch since the last call. */
  takeLapped(): boolean {
    return Atomics.exchange(this.words, RING_LAPPED / 4, 0) === 1;
  }

  /** wait resolves when something is published after `seen` (a WAKE value), or after `ms`. */
  async wait(seen: number, ms: number): Promise<void> {
    const r = Atomics.waitAsync(this.words, RING_WAKE / 4, seen, ms);
    if (r.async) await r.value;
  }

  /** interrupt ends a `wait` in progress on this ring (the consumer's own thread: its source closes). */
  interrupt(): void {
    Atomics.notify(this.words, RING_WAKE / 4);
  }

  /** generation is the number of producers that ever started on the ring (GEN). */
  generation(): number {
    return Atomics.load(this.words, RING_GEN / 4);
  }

  /** wakeValue is the current WAKE counter (read it before take(), wait on it after). */
  wakeValue(): number {
    return Atomics.load(this.words, RING_WAKE / 4);
  }
}

/**
 * TurnLog: the durable part of the bare baseline (bench/baseline/server.ts `--log DIR`), the least a
 * Node.js server must do to acknowledge a write durably, done the way redis-server does it with
 * `appendfsync always`: the writes of one event-loop turn are appended to one file as one write,
 * followed (with `sync`) by one fdatasync on the main thread, and only then acknowledged. No framing
 * beyond a length, no checksum, no replicas, no recovery: it is a ceiling, not a store.
 *
 * Measured both ways on the 2-vCPU machine of docs/performance.md ("What a bare Node.js server
 * reaches with fsync"): the synchronous write and fdatasync beat libuv's thread pool (one wake-up
 * fewer each way), so the ceiling uses them.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** TurnLog appends each turn's writes as one write and, with `sync`, one fdatasync, then acknowledges them. */
export class TurnLog {
  private readonly fd: number;
  private readonly sync: boolean;
  private pieces: Buffer[] = [];
  private acks: (() => void)[] = [];
  private scheduled = false;
  private readonly flushBound = (): void => {
    this.flush();
  };

  constructor(dir: string, sync: boolean) {
    this.sync = sync;
    this.fd = openSync(join(dir, 'baseline.log'), 'a');
  }

  /** append queues `key` and `value` for this turn's write. */
  append(key: string, value: Buffer): void {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(Buffer.byteLength(key), 0);
    head.writeUInt32LE(value.length, 4);
    this.pieces.push(head, Buffer.from(key), value);
  }

  /** whenLogged runs `ack` once everything appended so far is written (and synced), in call order. */
  whenLogged(ack: () => void): void {
    this.acks.push(ack);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    this.scheduled = false;
    if (this.acks.length === 0) return;
    const data = Buffer.concat(this.pieces);
    const acks = this.acks;
    this.pieces = [];
    this.acks = [];
    let written = 0;
    while (written < data.length) written += writeSync(this.fd, data, written);
    if (this.sync) fdatasyncSync(this.fd);
    for (const ack of acks) ack();
  }
}

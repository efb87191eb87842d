/**
 * OpBacklog: the ops of request batches that a shard worker answers in parts, waiting for a later
 * turn of its event loop (op-runner.ts, "Parts").
 *
 * A batch whose replies reach PART_BYTES in one turn leaves the rest of its ops here, so the batches
 * that arrived meanwhile (another client's small GET) run before it goes on, instead of waiting
 * behind a window of large values. Order on a key is kept: an op of a later batch on a key with an
 * op here waits here too, behind it (so does an op without keys, OP_WAIT, behind every op here);
 * the ops here run in arrival order. An op whose keys have nothing here runs at once.
 *
 * A control message that must follow the ops sent before it (shard-host.ts, `ORDERED`) waits here
 * too, as a `Call` in their order, while the backlog drains in parts (op-runner.ts, `after`); every
 * op that arrives while a call waits here waits behind it, whatever its keys, so the message also
 * comes before every op sent after it (a fence before the writes it refuses, a scan that does not
 * see a later PUT).
 *
 * Owned by one shard worker thread; the ops' keys and values are copies.
 */
import { latin1Key } from '../util/bytes.js';

/** Op is one request of a batch: a reader's fields, or a copy of them for an op that waits. */
export interface Op {
  id: number;
  op: number;
  store: number;
  key: Buffer;
  value: Buffer;
  w: number;
  timeoutMs: number;
}

/** Call is a control message waiting in the backlog behind the ops sent before it. */
export type Call = () => void;

/** OpBacklog is a queue of ops and calls, with the keys they hold back. */
export class OpBacklog {
  private entries: ({ op: Op | Call; keys: string[] } | undefined)[] = [];
  private head = 0;
  /** held counts, per store and key (`keyOf`), the ops here on it. */
  private readonly held = new Map<string, number>();
  /** calls counts the calls here: while any waits, every op waits too. */
  private calls = 0;

  /** size is the number of ops waiting here. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** blocks says whether an op on `keys` of `store` must wait here (an op without keys: while any does). */
  blocks(store: number, keys: readonly Uint8Array[]): boolean {
    if (this.size === 0) return false;
    if (keys.length === 0 || this.calls > 0) return true;
    return keys.some((k) => this.held.has(keyOf(store, k)));
  }

  /** push queues `op` (a copy), holding back its `keys`. */
  push(op: Op, keys: readonly Uint8Array[]): void {
    const ks = keys.map((k) => keyOf(op.store, k));
    for (const k of ks) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    this.entries.push({ op, keys: ks });
  }

  /** pushCall queues `call` behind every op and call here (each later op then waits behind it). */
  pushCall(call: Call): void {
    this.calls++;
    this.entries.push({ op: call, keys: [] });
  }

  /** shift takes the oldest op or call, releasing its keys; undefined when none waits. */
  shift(): Op | Call | undefined {
    if (this.size === 0) return undefined;
    const e = this.entries[this.head]!;
    this.entries[this.head++] = undefined;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    }
    if (typeof e.op === 'function') this.calls--;
    for (const k of e.keys) {
      const n = this.held.get(k)! - 1;
      if (n === 0) this.held.delete(k);
      else this.held.set(k, n);
    }
    return e.op;
  }
}

/** keyOf names key `key` of store `store` in the held map. */
function keyOf(store: number, key: Uint8Array): string {
  return `${store}:${latin1Key(key)}`;
}

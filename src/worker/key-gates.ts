/**
 * KeyGates: the keys whose later ops must wait, so the ops of one key run in the order they
 * reached the worker.
 *
 * Almost every op runs in the turn its batch arrives, in batch order. One kind cannot: a
 * conditional write on a key with a write in flight waits for that write to settle (its seq is
 * known only then, conditional-writes.ts). While it waits, the key is gated: an op that arrives for
 * it (from the same pipelined connection, or any other) queues behind the gate instead of running
 * before the write it followed. An op queued behind a gate gates the key in turn until it has run,
 * so a queue forms in arrival order; a gate goes away once the last op queued on its key has run.
 *
 * Owned by one shard worker thread; keys are copies (request batches are reused).
 */
import { latin1Key } from '../util/bytes.js';

/** KeyGates holds, per store and key, the promise of the last waiting op on it having run. */
export class KeyGates {
  private readonly byStore = new Map<number, Map<string, Promise<void>>>();
  private gated = 0;

  /** empty is true when no key is gated (the usual case: the op runner skips the lookups). */
  get empty(): boolean {
    return this.gated === 0;
  }

  /** of returns the gate on `key` of store `store`, or undefined when its ops may run at once. */
  of(store: number, key: Uint8Array): Promise<void> | undefined {
    if (this.gated === 0) return undefined;
    return this.byStore.get(store)?.get(latin1Key(key));
  }

  /** hold gates `key` of store `store` until `ran` settles (unless a later hold replaced it). */
  hold(store: number, key: Uint8Array, ran: Promise<void>): void {
    let keys = this.byStore.get(store);
    if (keys === undefined) this.byStore.set(store, (keys = new Map<string, Promise<void>>()));
    const k = latin1Key(key);
    if (!keys.has(k)) this.gated++;
    keys.set(k, ran);
    const release = (): void => {
      if (keys.get(k) !== ran) return;
      keys.delete(k);
      this.gated--;
    };
    ran.then(release, release);
  }
}

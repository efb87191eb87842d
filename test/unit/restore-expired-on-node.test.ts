/**
 * `distkv restore` counting an entry the node wrote as a delete: its expiry was past by the node's
 * clock when the write arrived (it expired on the way, or the node's clock is ahead of the
 * restore's). The node says so (`deleted` in a batch result, X-Distkv-Deleted of a PUT), and the
 * restore counts it as expired, not written: it counted it written, saying the cluster held a key
 * it did not. Twin: a client that answers as such a node does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import type { BatchOp, BatchResult, PutResult } from '../../src/client/types.js';
import { BATCH_VALUE_MAX_BYTES, type Pending, RestoreWriter } from '../../src/cli/restore-writer.js';

/** nodeClient acknowledges every write, as a delete when its expiry is at or before `nodeNow`. */
function nodeClient(nodeNow: number): DistkvClient {
  const past = (at: number | undefined): boolean => at !== undefined && at <= nodeNow;
  const fake = {
    batch: (ops: readonly BatchOp[]): Promise<BatchResult[]> =>
      Promise.resolve(
        ops.map((op) =>
          op.op === 'set' && past(op.expiresAtMs)
            ? { ok: true as const, deleted: true as const }
            : { ok: true as const },
        ),
      ),
    putResult: (_k: unknown, _v: unknown, o: { expiresAtMs?: number }): Promise<PutResult> =>
      Promise.resolve({ seq: 1, version: '0.1', deleted: past(o.expiresAtMs) }),
    put: (): Promise<number> => Promise.resolve(1),
  };
  return fake as unknown as DistkvClient;
}

const entry = (key: string, expiresAtMs: number, large = false): Pending => ({
  key: Buffer.from(key),
  text: key,
  value: Buffer.alloc(large ? BATCH_VALUE_MAX_BYTES + 1 : 3, 1),
  expiresAtMs,
});

describe('a restore whose node writes an entry as a delete', () => {
  it('counts it as expired, in a batch and by a PUT of its own', async () => {
    // The node's clock is a minute ahead: an entry expiring 30 s from the restore's now is past there.
    const soon = Date.now() + 30_000;
    const w = new RestoreWriter(nodeClient(Date.now() + 60_000), () => undefined);
    await w.add(entry('kept', 0));
    await w.add(entry('kept-long', Date.now() + 3_600_000));
    await w.add(entry('gone', soon));
    await w.add(entry('gone-large', soon, true));
    await w.add(entry('kept-large', 0, true));
    await w.flush();
    assert.equal(w.written, 3, 'kept, kept-long and kept-large are in the cluster');
    assert.equal(w.expired, 2, 'gone and gone-large were written as deletes');
  });
});

/**
 * A leader's snapshot streamed slowly, for the follower tests of a resync that fails part-way:
 * `chunks` chunks of one key each (`k0`, `k1`, ...), one every `chunkMs`, at seq 10.
 */
import type { SnapshotStream } from '../../src/replication/source.js';
import type { SnapshotEntry } from '../../src/storage/store-replication.js';

/** slowSnapshot is one such snapshot, streamed from its first chunk each time it is called. */
export function slowSnapshot(chunks: number, chunkMs: number): Promise<SnapshotStream> {
  async function* stream(): AsyncGenerator<SnapshotEntry[]> {
    for (let i = 0; i < chunks; i++) {
      await new Promise((r) => setTimeout(r, chunkMs));
      yield [{ key: Buffer.from(`k${String(i)}`), value: Buffer.from('v') }];
    }
  }
  return Promise.resolve({ seq: 10, chunks: stream(), exactSeq: () => 10 });
}

/**
 * A commit log segment copied in from another store's log (an operator restoring the wrong file):
 * its header carries the other log's identity, which recovery refuses, naming the segment
 * (docs/commit-log-format.md, "Identity"); replaying it would leave a gap in the store's seqs.
 */
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(4, '0')}`);

/**
 * crashImage writes 60 keys into a store whose memtable holds them all (so they are only in its
 * log, over several segments) and copies the store directory to `image` while it is open, as a
 * crash would leave it. Returns the image's segment names.
 */
async function crashImage(dir: string, image: string, tag: string): Promise<string[]> {
  const s = await openTestLsm(dir, { memtableBytes: 1 << 20, walSegmentBytes: 1024 });
  for (let i = 0; i < 60; i++) await s.put(key(i), Buffer.from(`${tag} ${i}`));
  cpSync(dir, image, { recursive: true });
  await s.close();
  return readdirSync(join(image, 'log'))
    .filter((n) => n.endsWith('.log'))
    .sort();
}

describe('a commit log segment from another store', () => {
  it("refuses a log one of whose segments was replaced by another store's", async () => {
    const root = tempDir(after);
    const a = join(root, 'image', 'node', 'shard-0');
    const b = join(root, 'image', 'node', 'shard-1');
    const segA = await crashImage(join(root, 'live', 'node', 'shard-0'), a, 'a');
    const segB = await crashImage(join(root, 'live', 'node', 'shard-1'), b, 'b');
    assert.ok(segA.length >= 3 && segB.length >= 3, `several segments: ${segA.join()} / ${segB.join()}`);
    copyFileSync(join(b, 'log', segB[1]!), join(a, 'log', segA[1]!));
    await assert.rejects(
      openTestLsm(a, { memtableBytes: 1 << 20, walSegmentBytes: 1024 }),
      (err: unknown) =>
        err instanceof CorruptionError &&
        err.file === join(a, 'log', segA[1]!) &&
        err.offset === 0 &&
        /another worker's or node's log/.test(err.message),
    );
  });
});

/**
 * Where a `from` at or near the start of a shard's log starts (docs/watch.md, "Resuming", the
 * table of starts): seq 0 is before every record of every history, so `E.0` replays the whole log
 * whatever E (`1.0` as `0.0`), or takes a snapshot when the log no longer starts at seq 1; a seq
 * S is continued while the log holds the record after it (S = the oldest record's seq - 1 too),
 * and below that takes a snapshot. On one shard's log in memory (test/helpers/watch-node.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { Watcher } from '../../src/watch/watcher.js';
import { PagedNode, sleep, SRC, SseOutput, sseFrames } from '../helpers/watch-node.js';

/** seeded is a node whose log holds a=1, b=1, c=1, d=1 (seqs 1..4, epoch 0), trimmed up to `trimmed`. */
function seeded(trimmed: number): PagedNode {
  const node = new PagedNode(1);
  for (const k of ['a', 'b', 'c', 'd']) node.log.append(k, '1');
  node.log.trim(trimmed);
  return node;
}

/** watch starts a stream from `from`, waits for it to settle (bounded) and lists its events' types and keys. */
async function watch(node: PagedNode, from: string): Promise<string[]> {
  const out = new SseOutput();
  const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
  w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
  await sleep(80);
  w.close();
  return sseFrames(out.text(), from).flatMap((f) => {
    const ev = f.event;
    if (ev === undefined || ev.type === 'hello' || ev.type === 'progress') return [];
    const key = typeof ev.key === 'string' ? ` ${ev.key}` : '';
    return [`${String(ev.type)}${ev.snapshot === true ? '*' : ''}${key}`];
  });
}

const WHOLE_LOG = ['put a', 'put b', 'put c', 'put d'];
const SNAPSHOT = ['snapshot-begin', 'put* a', 'put* b', 'put* c', 'put* d', 'snapshot-end'];

describe('watch from the start of the log', () => {
  it('E.0 replays the whole log whatever E, as 0.0 does', async () => {
    for (const from of ['0.0', '1.0', '7.0', '0:1.0'])
      assert.deepEqual(await watch(seeded(0), from), WHOLE_LOG, `from=${from}`);
  });

  it('E.0 takes a snapshot once the log no longer starts at seq 1', async () => {
    for (const from of ['0.0', '1.0'])
      assert.deepEqual(await watch(seeded(2), from), SNAPSHOT, `from=${from}`);
  });

  it('a seq just before the oldest record is continued; one further back takes a snapshot', async () => {
    assert.deepEqual(await watch(seeded(2), '0.2'), ['put c', 'put d']);
    assert.deepEqual(await watch(seeded(2), '0.1'), SNAPSHOT);
  });
});

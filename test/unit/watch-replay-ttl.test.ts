/**
 * A watch replayed from the start of the log shows a TTL key's history as it happened, as a live
 * watcher saw it (docs/watch.md, "Replaying expired keys"): a `put` with its value at the put's
 * version, then an `expire` at the version of the leader's ordered expire record, however long
 * after the expiry the replay is made; the snapshot a position the log no longer holds gets
 * leaves the expired key out. A put whose expiry was already past when it was applied was written
 * as a delete (docs/api.md, "TTL"): its replay is that `delete`. Over a real store's log (a
 * MemoryStore and its MemoryLog, read as a worker answers `watch-read`, src/watch/watch-tap.ts),
 * with a clock the test moves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { SLOT_COUNT } from '../../src/routing/slot.js';
import type { LogReader } from '../../src/watch/feed.js';
import { decodeLog } from '../../src/watch/store-log.js';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { watchRead, watchScan } from '../../src/watch/watch-tap.js';
import { type ScanBounds, type ScanPage, type ShardSource, Watcher } from '../../src/watch/watcher.js';
import { FanoutNode, sleep, SRC, SseOutput, sseFrames } from '../helpers/watch-node.js';

/** StoreNode is one shard's node over a real store: its log read and its snapshot scanned as a worker does. */
class StoreNode extends FanoutNode {
  now = 1_000_000;
  readonly store = new MemoryStore(() => this.now, new MemoryLog());

  reader(): LogReader {
    return async (after, maxBytes, waitMs) => {
      const r = await watchRead(this.store, { type: 'watch-read', id: 1, store: 0, after, maxBytes, waitMs });
      if (r.type !== 'watch-read-result') throw new Error(`unexpected ${r.type}`);
      const records = r.buffer === null ? Buffer.alloc(0) : Buffer.from(r.buffer, 0, r.length);
      return { gone: r.gone, records, lastSeq: r.lastSeq, end: r.end, epoch: r.epoch };
    };
  }

  scan(
    _src: ShardSource,
    prefix: Buffer,
    after: Uint8Array | null = null,
    bounds: ScanBounds = { limit: 1000, maxBytes: 1 << 20, keysOnly: false },
  ): Promise<ScanPage> {
    const msg = { type: 'watch-scan', id: 2, store: 0, prefix, after, ...bounds } as const;
    const r = watchScan(this.store, { first: 0, last: SLOT_COUNT - 1 }, msg);
    if (r.type !== 'watch-scan-result') throw new Error(`unexpected ${r.type}`);
    return Promise.resolve({ entries: r.entries, seq: r.seq, last: r.last, epoch: r.epoch });
  }

  lastSeq(): number {
    return this.store.lastSeq();
  }

  epochOf(): number {
    return 0;
  }
}

/**
 * LEADER is the shard's leader store (the TTL's expire records are its own): a position past its
 * end is ahead of its history and gets a snapshot (a replica would wait for its log to get there).
 */
const LEADER: ShardSource = { ...SRC, role: 'leader' };

/** replay watches `node` from `from` until it settles (bounded) and returns its change events. */
async function replay(node: StoreNode, from: string, values = true): Promise<Record<string, unknown>[]> {
  const out = new SseOutput();
  const w = new Watcher([LEADER], node, out, { prefix: Buffer.from('t/'), values, maxBuffer: 1 << 20 });
  w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
  await sleep(80);
  w.close();
  return sseFrames(out.text(), from).flatMap((f) => {
    const ev = f.event;
    return ev === undefined || ev.type === 'hello' || ev.type === 'progress' ? [] : [ev];
  });
}

const k = (s: string): Buffer => Buffer.from(s);

/** ttlHistory writes t/ttl with a 300 ms TTL and t/plain, lets the TTL pass and logs the expire record (as the reaper does). */
async function ttlHistory(): Promise<StoreNode> {
  const node = new StoreNode();
  await node.store.put(k('t/ttl'), k('short-lived'), node.now + 300);
  await node.store.put(k('t/plain'), k('stays'));
  node.now += 301;
  assert.equal(node.store.get(k('t/ttl')), undefined, 'past its expiry, the key reads as gone');
  await node.store.expire(k('t/ttl'));
  node.now += 3_600_000;
  return node;
}

describe('watch: replaying a TTL key whose expiry has passed', () => {
  it('decodes the log as a put with its value, then the expire record', async () => {
    const node = await ttlHistory();
    const { records } = await node.reader()(0, 1 << 20, 0);
    assert.deepEqual(
      decodeLog(records).map((r) => [r.kind, r.seq, r.key.toString(), r.value?.toString()]),
      [
        ['put', 1, 't/ttl', 'short-lived'],
        ['put', 2, 't/plain', 'stays'],
        ['expire', 3, 't/ttl', undefined],
      ],
    );
  });

  it("streams from 0.0 the put at its version with its value and the expire at the record's", async () => {
    const node = await ttlHistory();
    assert.deepEqual(await replay(node, '0.0'), [
      { type: 'put', shard: 0, key: 't/ttl', value: 'short-lived', version: '0.1' },
      { type: 'put', shard: 0, key: 't/plain', value: 'stays', version: '0.2' },
      { type: 'expire', shard: 0, key: 't/ttl', version: '0.3' },
    ]);
    // values=0 leaves the value out of the put, as for any put (docs/watch.md).
    assert.deepEqual(await replay(node, '0.0', false), [
      { type: 'put', shard: 0, key: 't/ttl', version: '0.1' },
      { type: 'put', shard: 0, key: 't/plain', version: '0.2' },
      { type: 'expire', shard: 0, key: 't/ttl', version: '0.3' },
    ]);
    // From between the two: the expire alone.
    assert.deepEqual(await replay(node, '0.2'), [{ type: 'expire', shard: 0, key: 't/ttl', version: '0.3' }]);
  });

  it('leaves the expired key out of a snapshot once the log no longer holds the position', async () => {
    const node = await ttlHistory();
    // A position past the store's end is one the log cannot continue: a snapshot of the keys now.
    const events = await replay(node, '0.9');
    assert.deepEqual(
      events.map((e) => `${String(e.type)}${e.snapshot === true ? '*' : ''} ${String(e.key ?? e.version)}`),
      ['snapshot-begin 0.3', 'put* t/plain', 'snapshot-end 0.3'],
    );
  });

  it('replays a put whose expiry was past when applied as the delete it was written as', async () => {
    const node = new StoreNode();
    await node.store.put(k('t/gone'), k('old'));
    // What the worker writes for a put whose expiry is past (src/worker/conditional-writes.ts putOf).
    await node.store.delete(k('t/gone'));
    assert.deepEqual(await replay(node, '0.0'), [
      { type: 'put', shard: 0, key: 't/gone', value: 'old', version: '0.1' },
      { type: 'delete', shard: 0, key: 't/gone', version: '0.2' },
    ]);
  });
});

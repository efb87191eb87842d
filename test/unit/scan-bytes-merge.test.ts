/**
 * A scan merged from parts cut by bytes (src/http/scatter-merge.ts `mergeScan`). A part cut by its
 * byte bound ends far sooner than one cut by count, so the merged page may only go up to the
 * smallest last key of the parts that had more: past it, that part's keys are not known yet, and
 * the client resuming after the page's `next` would skip them. The seeded model composes what the
 * route does (collection-routes.ts): a node's local shards, each read like Store.scan with a byte
 * bound, and other nodes' answers for their shards, each itself such a merge (the forwarder asks
 * with the part's bound), merged under the answer's bound. Iterating with `next` / `nextBase64`
 * must give every model key once, in byte order, with its value, every page within its bounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MergedScan, mergeScan, type ScanPage } from '../../src/http/scatter-merge.js';
import { entryBytes, scanPageFull } from '../../src/storage/store.js';
import { compareBytes } from '../../src/util/bytes.js';
import { randomKeys } from '../helpers/binary-keys.js';
import { seededRandom, testSeed } from '../helpers/random.js';

interface Entry {
  key: Buffer;
  value: Buffer;
}

interface Cluster {
  /** shards[i] is shard i's entries in key order. */
  shards: Entry[][];
  /** owner[i] is the node that hosts shard i (node 0 is asked). */
  owner: number[];
  partBytes: number;
  answerBytes: number;
}

/** storePage is Store.scan on a shard: keys after `after`, up to `limit` or the entry that brings the page to `maxBytes`. */
function storePage(
  entries: readonly Entry[],
  after: Buffer | undefined,
  limit: number,
  maxBytes: number,
): ScanPage {
  const out: Entry[] = [];
  let bytes = 0;
  for (const e of entries) {
    if (after !== undefined && compareBytes(e.key, after) <= 0) continue;
    if (out.length >= limit || bytes >= maxBytes) break;
    out.push(e);
    bytes += entryBytes(e);
  }
  return { entries: out, more: scanPageFull(out, limit, maxBytes) };
}

/** decoded turns a merged page back into entries, as the forwarder reads an owner's answer. */
function decoded(page: MergedScan): Entry[] {
  return page.items.map((i) => ({
    key: i.key_base64 === undefined ? Buffer.from(i.key, 'utf8') : Buffer.from(i.key_base64, 'base64'),
    value: 'value_base64' in i ? Buffer.from(i.value_base64, 'base64') : Buffer.from(i.value, 'utf8'),
  }));
}

/** nodeScan is the route at `node`: its shards read locally, the others forwarded (unless `forwarded`). */
function nodeScan(
  c: Cluster,
  node: number,
  shards: readonly number[],
  after: Buffer | undefined,
  limit: number,
  maxBytes: number,
): MergedScan {
  const part = Math.min(c.partBytes, maxBytes);
  const pages: ScanPage[] = [];
  const remote = new Map<number, number[]>();
  for (const s of shards) {
    if (c.owner[s] === node) pages.push(storePage(c.shards[s]!, after, limit, part));
    else remote.set(c.owner[s]!, [...(remote.get(c.owner[s]!) ?? []), s]);
  }
  for (const [owner, theirs] of remote) {
    const answer = nodeScan(c, owner, theirs, after, limit, part);
    pages.push({ entries: decoded(answer), more: answer.next !== null });
  }
  return mergeScan(pages, limit, true, maxBytes);
}

/** randomCluster writes 20..100 keys of sizes 0..3 × the part bound (every boundary often) over 1..5 shards on 1..3 nodes. */
function randomCluster(rand: () => number): Cluster {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const partBytes = 1 + Math.floor(rand() * 400);
  const answerBytes = partBytes + Math.floor(rand() * 3 * partBytes);
  const nodes = 1 + Math.floor(rand() * 3);
  const shardCount = 1 + Math.floor(rand() * 5);
  const owner = Array.from({ length: shardCount }, (_, i) => (i < nodes ? i : Math.floor(rand() * nodes)));
  const keys = randomKeys(rand, '', 20 + Math.floor(rand() * 80));
  const shards: Entry[][] = Array.from({ length: shardCount }, () => []);
  for (const key of keys) {
    const size = pick([0, 1, partBytes - 1, partBytes, partBytes + 1, Math.floor(rand() * 3 * partBytes), 5]);
    const value = Buffer.alloc(Math.max(0, size), Math.floor(rand() * 256));
    shards[Math.floor(rand() * shardCount)]!.push({ key, value });
  }
  return { shards, owner, partBytes, answerBytes };
}

const hex = (e: Entry): string =>
  `${e.key.toString('hex')}=${e.value.length}:${e.value.toString('hex', 0, 4)}`;

describe('a scan merged from parts cut by bytes', () => {
  it('gives every key once, in byte order, over pages within their bounds (seeded model)', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 150; round++) {
      const c = randomCluster(rand);
      const model = c.shards.flat().sort((a, b) => compareBytes(a.key, b.key));
      const limit = [1, 2, 3, 1 + Math.floor(rand() * 20), 10000][Math.floor(rand() * 5)]!;
      const all = c.shards.map((_, i) => i);
      const why = `seed ${seed} round ${round} (limit ${limit}, part ${c.partBytes}, answer ${c.answerBytes}, owners ${c.owner.join(',')})`;
      const got: Entry[] = [];
      let after: Buffer | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages <= model.length + 1, `${why}: the scan did not end`);
        const page = nodeScan(c, 0, all, after, limit, c.answerBytes);
        const entries = decoded(page);
        assert.ok(entries.length <= limit, `${why}: ${entries.length} items over the limit`);
        const before = entries.slice(0, -1).reduce((n, e) => n + entryBytes(e), 0);
        assert.ok(before < c.answerBytes, `${why}: the page went on past ${c.answerBytes} bytes (${before})`);
        got.push(...entries);
        if (page.next === null) break;
        assert.ok(entries.length > 0, `${why}: an empty page with a cursor`);
        after =
          page.nextBase64 === undefined
            ? Buffer.from(page.next, 'utf8')
            : Buffer.from(page.nextBase64, 'base64');
      }
      assert.deepEqual(got.map(hex), model.map(hex), why);
    }
  });

  it('stops at the last key of a part cut by bytes, though others hold keys before the limit', () => {
    const e = (key: string, size: number): Entry => ({
      key: Buffer.from(key),
      value: Buffer.alloc(size, 0x61),
    });
    // Part one was cut after "b" by its bytes; part two was not cut and holds "c": it comes next time.
    const r = mergeScan(
      [
        { entries: [e('a', 10), e('b', 10)], more: true },
        { entries: [e('a1', 1), e('c', 1)], more: false },
      ],
      10000,
      false,
    );
    assert.deepEqual(
      r.items.map((i) => i.key),
      ['a', 'a1', 'b'],
    );
    assert.equal(r.next, 'b');
    const cut = mergeScan([{ entries: [e('a', 5), e('b', 5), e('c', 5)], more: false }], 10000, false, 7);
    assert.deepEqual(
      cut.items.map((i) => i.key),
      ['a', 'b'],
      'the entry that brings the page to its bound is in',
    );
    assert.equal(cut.next, 'b');
  });
});

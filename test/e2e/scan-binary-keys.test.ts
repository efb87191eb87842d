/**
 * Paging a scan over keys that are not UTF-8. RESP writes keys as raw bytes and `/kv/%FF...` takes
 * them percent-encoded, but the JSON page gives a key as text: such a key shows with U+FFFD in
 * place of its bytes. Its exact bytes travel as `key_base64`, and a `next` cursor on such a key as
 * `next_base64`, given back as `after_base64`. Without them a page that ended on `q\x801` resumed
 * after `q\uFFFD1` (bytes EF BF BD), which skipped `q\x802` and returned `q\xFF1` for ever: a client
 * iterating the scan hung. The model test writes seeded random keys (bytes that are not UTF-8,
 * U+FFFD itself, NUL, multi-byte characters) across two nodes and pages through them at every page
 * size, from each node (one part read locally, the other forwarded), through the client library
 * and through `distkv scan --json`, whose lines `distkv load` reads back byte for byte. With values
 * of 1 MiB a page of `limit=10000` is cut by its byte bound (docs/api.md), short but exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/index.js';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { Duo } from '../helpers/duo.js';
import { runCli } from '../helpers/server-process.js';
import { randomKeys } from '../helpers/binary-keys.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** percentEncoded writes every byte of `key` as %XX, for a path. */
function percentEncoded(key: Uint8Array): string {
  return [...key].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** BIG_VALUES is how many values of 1 MiB the byte-bound case writes. */
const BIG_VALUES = 24;

interface Page {
  items: { key: string; key_base64?: string }[];
  next: string | null;
  next_base64?: string;
}

/**
 * pageThrough follows a scan at `node` page by page (a prefix given as bytes goes as
 * `prefix_base64`); it stops after `maxPages` (a scan that never ends).
 */
async function pageThrough(
  node: string,
  prefix: string | Buffer,
  limit: number,
  maxPages: number,
): Promise<Buffer[]> {
  const got: Buffer[] = [];
  let cursor = '';
  const asked =
    typeof prefix === 'string'
      ? `prefix=${encodeURIComponent(prefix)}`
      : `prefix_base64=${encodeURIComponent(prefix.toString('base64'))}`;
  for (let pages = 0; pages < maxPages; pages++) {
    const r = await fetch(`http://${node}/kv?${asked}&limit=${limit}${cursor}`);
    assert.equal(r.status, 200, await r.clone().text());
    const page = (await r.json()) as Page;
    for (const i of page.items)
      got.push(i.key_base64 !== undefined ? Buffer.from(i.key_base64, 'base64') : Buffer.from(i.key));
    if (page.next === null) return got;
    cursor =
      page.next_base64 !== undefined
        ? `&after_base64=${encodeURIComponent(page.next_base64)}`
        : `&after=${encodeURIComponent(page.next)}`;
  }
  assert.fail(`the scan at ${node} with limit ${limit} did not end after ${maxPages} pages`);
}

const hex = (keys: readonly Uint8Array[]): string[] => keys.map((k) => Buffer.from(k).toString('hex'));

describe('a scan over keys that are not UTF-8', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let map: ShardMap;

  before(async () => {
    duo = await Duo.start('scan-binary');
    ({ A: a, B: b, map } = duo);
  });

  after(async () => {
    await duo?.stop();
  });

  it('lists each key once, with its exact bytes, at every page size, from either node', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const keys = randomKeys(rand, 'bin:', 60);
    const owners = keys.map((k) => (map.shardOfSlot(slotOfBytes(k)) === 0 ? a : b));
    assert.ok(owners.includes(a) && owners.includes(b), `seed ${seed}: keys in both shards`);
    for (const [i, k] of keys.entries()) {
      const r = await fetch(`http://${owners[i]!}/kv/${percentEncoded(k)}`, { method: 'PUT', body: 'v' });
      assert.equal(r.status, 204, `seed ${seed}: PUT ${k.toString('hex')}`);
    }
    for (const limit of [1, 2, 3, 7, 1 + Math.floor(rand() * 20), 100]) {
      for (const node of [a, b]) {
        const got = await pageThrough(node, 'bin:', limit, keys.length + 2);
        assert.deepEqual(hex(got), hex(keys), `seed ${seed}: limit ${limit} at ${node === a ? 'A' : 'B'}`);
      }
    }
    const kv = new DistkvClient({ urls: [a] });
    try {
      for (const pageSize of [1, 5]) {
        const got: Buffer[] = [];
        for await (const item of kv.scan('bin:', { pageSize })) {
          got.push(item.keyBytes ?? Buffer.from(item.key));
          assert.ok(got.length <= keys.length, `seed ${seed}: the client's scan did not end`);
        }
        assert.deepEqual(hex(got), hex(keys), `seed ${seed}: client scan, page size ${pageSize}`);
      }
    } finally {
      await kv.close();
    }
    const cli = await runCli(['scan', '--json', '--all', '--limit', '3', 'bin:', '--url', b]);
    assert.equal(cli.code, 0, cli.stderr);
    const lines = cli.stdout.trim().split('\n');
    const fromCli = lines.map((l) => {
      const i = JSON.parse(l) as { key: string; key_base64?: string };
      return i.key_base64 !== undefined ? Buffer.from(i.key_base64, 'base64') : Buffer.from(i.key);
    });
    assert.deepEqual(hex(fromCli), hex(keys), `seed ${seed}: distkv scan --json --all`);
  });

  it('scans a prefix that is not UTF-8 (prefix_base64) by its exact bytes, its part at the other node too', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    // Under pfx:\xFF, and two decoys: U+FFFD (what \xFF becomes as text) and plain text.
    const [want, fffd, text] = [[0xff], [0xef, 0xbf, 0xbd], [0x61]].map((b) =>
      randomKeys(rand, '', 24).map((k) => Buffer.concat([Buffer.from('pfx:'), Buffer.from(b), k])),
    ) as [Buffer[], Buffer[], Buffer[]];
    const shardOf = (k: Buffer): number => map.shardOfSlot(slotOfBytes(k));
    assert.ok(want.some((k) => shardOf(k) === 0) && want.some((k) => shardOf(k) === 1), `seed ${seed}`);
    for (const k of [...want, ...fffd, ...text]) {
      const r = await fetch(`http://${shardOf(k) === 0 ? a : b}/kv/${percentEncoded(k)}`, {
        method: 'PUT',
        body: 'v',
      });
      assert.equal(r.status, 204, `seed ${seed}: PUT ${k.toString('hex')}`);
    }
    const prefix = Buffer.from('pfx:\xff', 'latin1');
    for (const limit of [1, 5, 100])
      for (const node of [a, b]) {
        const got = await pageThrough(node, prefix, limit, want.length + 2);
        assert.deepEqual(hex(got), hex(want), `seed ${seed}: limit ${limit} at ${node === a ? 'A' : 'B'}`);
      }
    const kv = new DistkvClient({ urls: [a] });
    try {
      const got: Buffer[] = [];
      for await (const item of kv.scan(prefix, { pageSize: 4 }))
        got.push(item.keyBytes ?? Buffer.from(item.key));
      assert.deepEqual(hex(got), hex(want), `seed ${seed}: client scan`);
    } finally {
      await kv.close();
    }
    const base64 = prefix.toString('base64');
    const cli = await runCli([
      'scan',
      '--json',
      '--all',
      '--limit',
      '4',
      '--prefix-base64',
      base64,
      '--url',
      b,
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const fromCli = cli.stdout
      .trim()
      .split('\n')
      .map((l) => Buffer.from((JSON.parse(l) as { key_base64: string }).key_base64, 'base64'));
    assert.deepEqual(hex(fromCli), hex(want), `seed ${seed}: distkv scan --prefix-base64`);
  });

  it('pages 1 MiB values within the byte bound at limit=10000, every key once with its value, from either node', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const keys = randomKeys(rand, 'big:', 100);
    const MIB = 1024 * 1024;
    // 24 values of 1 MiB (the default max_value_bytes), the rest 0..2000 bytes, in seeded order:
    // each part of a page (a shard's) ends past 4 MiB, with at most one value more, so a page of
    // the two shards holds at most about 10 MiB and 24 MiB takes 3 pages at least (40 and 60 took
    // longer and cut pages at the same bounds).
    const big = new Set(
      keys
        .map((_, i) => i)
        .sort(() => rand() - 0.5)
        .slice(0, BIG_VALUES),
    );
    const model = keys.map((key, i) => ({
      key,
      value: Buffer.alloc(big.has(i) ? MIB : Math.floor(rand() * 2000), Math.floor(rand() * 256)),
    }));
    for (const { key, value } of model) {
      const owner = map.shardOfSlot(slotOfBytes(key)) === 0 ? a : b;
      const r = await fetch(`http://${owner}/kv/${percentEncoded(key)}`, { method: 'PUT', body: value });
      assert.equal(r.status, 204, `seed ${seed}: PUT ${key.toString('hex')}`);
    }
    const want = model.map((e) => `${e.key.toString('hex')}=${e.value.length}:${e.value[0] ?? ''}`);
    for (const node of [a, b]) {
      const got: string[] = [];
      let cursor = '';
      let largest = 0;
      let pagesRead = 0;
      for (let pages = 0; ; pages++) {
        pagesRead = pages + 1;
        assert.ok(pages <= model.length, `seed ${seed}: the scan at ${node} did not end`);
        const r = await fetch(`http://${node}/kv?prefix=big:&limit=10000&encoding=base64${cursor}`);
        assert.equal(r.status, 200, `seed ${seed}`);
        const text = await r.text();
        largest = Math.max(largest, text.length);
        // 16 MiB + one value of keys and values, as base64 (4/3), and the JSON around them.
        assert.ok(text.length < 24 * MIB, `seed ${seed}: a page of ${text.length} bytes from ${node}`);
        const page = JSON.parse(text) as Page & { items: { value_base64: string }[] };
        for (const i of page.items) {
          const k = i.key_base64 !== undefined ? Buffer.from(i.key_base64, 'base64') : Buffer.from(i.key);
          const v = Buffer.from(i.value_base64, 'base64');
          got.push(`${k.toString('hex')}=${v.length}:${v[0] ?? ''}`);
        }
        if (page.next === null) break;
        cursor =
          page.next_base64 !== undefined
            ? `&after_base64=${encodeURIComponent(page.next_base64)}`
            : `&after=${encodeURIComponent(page.next)}`;
      }
      assert.deepEqual(got, want, `seed ${seed}: scan at ${node === a ? 'A' : 'B'}`);
      assert.ok(
        pagesRead >= 3,
        `seed ${seed}: ${BIG_VALUES} MiB in ${pagesRead} pages of limit=10000 at ${node}`,
      );
      console.log(
        `# scan at ${node === a ? 'A' : 'B'}: largest page ${(largest / MIB).toFixed(1)} MiB of JSON`,
      );
    }
    const kv = new DistkvClient({ urls: [b] });
    try {
      const got: string[] = [];
      for await (const item of kv.scan('big:', { pageSize: 10000 }))
        got.push(
          `${(item.keyBytes ?? Buffer.from(item.key)).toString('hex')}=${item.value.length}:${item.value[0] ?? ''}`,
        );
      assert.deepEqual(got, want, `seed ${seed}: client scan`);
    } finally {
      await kv.close();
    }
  });

  it('takes max_bytes 1..16 MiB as the page bound: one item per page at 1, a 400 outside', async () => {
    for (const k of ['mb:1', 'mb:2', 'mb:3']) {
      const put = await fetch(`http://${map.shardOf(k) === 0 ? a : b}/kv/${k}`, { method: 'PUT', body: 'v' });
      assert.equal(put.status, 204, k);
    }
    const r = await fetch(`http://${a}/kv?prefix=mb:&limit=100&max_bytes=1`);
    assert.equal(r.status, 200);
    const page = (await r.json()) as Page;
    assert.equal(page.items.length, 1, 'a page ends after the item that reaches its bound');
    assert.notEqual(page.next, null);
    for (const bad of ['0', String(16 * 1024 * 1024 + 1), 'x']) {
      const res = await fetch(`http://${a}/kv?prefix=mb:&max_bytes=${bad}`);
      assert.equal(res.status, 400, bad);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.match(body.error.message, /max_bytes/, bad);
    }
  });

  it('refuses after_base64 that is not canonical base64, or given with after', async () => {
    for (const q of ['after_base64=%3D%3D', 'after_base64=YQ', 'after_base64=YQ%3D%3D&after=a']) {
      const r = await fetch(`http://${a}/kv?prefix=bin:&${q}`);
      assert.equal(r.status, 400, q);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INVALID_ARGUMENT', q);
      assert.match(body.error.message, /after/, q);
    }
  });
});

/**
 * `scan()` against a node whose scan pages are broken or hostile (a fake node: a node:http server
 * on loopback): it ends with a DistkvError naming the node and what is wrong, never in an endless
 * loop nor with a bare TypeError. Before, a page without `next` restarted the scan from the first
 * page, and one whose `next` was not past the cursor it was asked after asked for the same page
 * again, both for good; an item that was not an object, or a field of the wrong type, threw a
 * TypeError naming nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { FakePeers, oneShardCluster, sendJson } from '../helpers/fake-peer.js';

const peers = new FakePeers();

after(() => peers.close());

/** fakeNode is a one-shard node whose scan pages are `page(after)` (`after`: the query's cursor). */
async function fakeNode(
  page: (after: string | null) => unknown,
): Promise<{ address: string; pages: () => number }> {
  let pages = 0;
  const address = await peers.start((req, res, self) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/cluster') {
      sendJson(res, oneShardCluster(self));
      return;
    }
    pages++;
    sendJson(res, page(url.searchParams.get('after')));
  });
  return { address, pages: () => pages };
}

const v = Buffer.from('v').toString('base64');

const cases: [string, (after: string | null) => unknown, RegExp][] = [
  [
    'a page without "next"',
    () => ({ items: [{ key: 'a', value_base64: v }] }),
    /"next" is missing, not a string or null/,
  ],
  [
    'the same cursor again',
    () => ({ items: [{ key: 'a', value_base64: v }], next: 'a' }),
    /its next cursor "a" is not past the cursor it was asked after \("a"\): the scan would not end/,
  ],
  [
    'a cursor that goes back',
    (afterKey) => ({ items: [{ key: 'b', value_base64: v }], next: afterKey === null ? 'b' : 'a' }),
    /its next cursor "a" is not past the cursor it was asked after \("b"\)/,
  ],
  ['an item that is null', () => ({ items: [null], next: null }), /items\[0\] is null, not an object/],
  [
    'a value_base64 that is a number',
    () => ({ items: [{ key: 'a', value_base64: 5 }], next: null }),
    /items\[0\]\.value_base64 is 5, not a string/,
  ],
  [
    'a key that is not a string',
    () => ({ items: [{ key: 5, value_base64: v }], next: null }),
    /items\[0\]\.key is 5, not a string/,
  ],
];

describe('scan() of a node whose pages are broken or hostile', () => {
  for (const [what, page, why] of cases)
    it(`ends with an error naming the node on ${what}`, async () => {
      const node = await fakeNode(page);
      const client = new DistkvClient({ urls: [`http://${node.address}`], timeoutMs: 2000, retries: 0 });
      let items = 0;
      try {
        const outcome = await (async () => {
          for await (const item of client.scan('')) {
            assert.ok(item.key.length > 0);
            if (++items > 100) return 'endless';
          }
          return 'ended';
        })().catch((err: unknown) => err);
        assert.ok(outcome instanceof DistkvError, `the scan ${String(outcome)} after ${node.pages()} pages`);
        assert.match(outcome.message, new RegExp(`scan page from ${node.address.replace(/\./g, '\\.')}`));
        assert.match(outcome.message, why);
        assert.ok(node.pages() <= 2, `the scan asked for ${node.pages()} pages`);
      } finally {
        await client.close();
      }
    });

  it('reads a well-formed scan to its end (holds)', async () => {
    const keys = ['a', 'b', 'c'];
    const node = await fakeNode((afterKey) => {
      const rest = keys.filter((k) => afterKey === null || k > afterKey);
      const item = rest[0];
      return item === undefined
        ? { items: [], next: null }
        : { items: [{ key: item, value_base64: v }], next: rest.length > 1 ? item : null };
    });
    const client = new DistkvClient({ urls: [`http://${node.address}`], timeoutMs: 2000, retries: 0 });
    try {
      const got: string[] = [];
      for await (const item of client.scan('')) got.push(item.key);
      assert.deepEqual(got, keys);
    } finally {
      await client.close();
    }
  });
});

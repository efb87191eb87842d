/**
 * The client against a node whose `/cluster` names a map it cannot route by (a fake node: a
 * node:http server on loopback): shards without a leader, slots out of range, overlapping or
 * missing owners, shards numbered otherwise than 0..n-1, addresses that are not host:port. The
 * load refuses that node's view with a DistkvError naming the node and what is wrong, and asks the
 * next node; before, it adopted an overlapping map (the later shard took the slots they share) and
 * failed on the others with a bare TypeError, Error or RangeError naming no node.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { slotOf } from '../../src/routing/slot.js';
import { FakePeers, sendJson } from '../helpers/fake-peer.js';

const peers = new FakePeers();

after(() => peers.close());

/** fakeNode answers /cluster with `view(itsAddress)` and every key with "v". */
function fakeNode(view: (address: string) => unknown): Promise<string> {
  return peers.start((req, res, address) => {
    if (req.url?.startsWith('/cluster') === true) sendJson(res, view(address));
    else res.writeHead(200, { etag: '"0.1"' }).end('v');
  });
}

/** shard is a well-formed shard entry of a view. */
function shard(idx: number, address: string, slots: unknown, extra: Record<string, unknown> = {}): unknown {
  return { name: `s${idx}`, idx, slots, leader: { address }, replicas: [], ...extra };
}

function viewOf(shards: unknown[]): unknown {
  return { version: 'cfg', map_version: 1, slots: 16384, shards };
}

const cases: [string, (a: string) => unknown, RegExp][] = [
  [
    'a shard without a leader',
    () => viewOf([{}]),
    /shards\[0\]\.idx is missing.*shards\[0\]\.leader\.address is missing/,
  ],
  [
    'slots past the last one',
    (a) => viewOf([shard(0, a, [0, 99999])]),
    /shards\[0\]\.slots is \[0,99999\], not \[first, last\] within 0\.\.16383/,
  ],
  ['a negative slot', (a) => viewOf([shard(0, a, [-5, 16383])]), /shards\[0\]\.slots is \[-5,16383\]/],
  [
    'overlapping owners',
    (a) => viewOf([shard(0, a, [0, 16383]), shard(1, '127.0.0.1:1', [0, 100])]),
    /shards\[1\]\.slots \[0, 100\] overlap shards\[0\]'s at slot 0/,
  ],
  ['a slot without an owner', (a) => viewOf([shard(0, a, [0, 100])]), /slot 101 has no shard/],
  [
    'shards numbered otherwise than 0..n-1',
    (a) => viewOf([shard(7, a, [0, 16383])]),
    /shards\[0\]\.idx is 7, not 0\.\.0/,
  ],
  [
    'a leader address that is not host:port',
    () => viewOf([shard(0, 'elsewhere.example:80/x?y', [0, 16383])]),
    /shards\[0\]\.leader\.address is "elsewhere\.example:80\/x\?y", not host:port/,
  ],
  ['slots as strings', (a) => viewOf([shard(0, a, ['0', '16383'])]), /shards\[0\]\.slots is \["0","16383"\]/],
  [
    'a map_version that is not a number',
    (a) => ({ ...(viewOf([shard(0, a, [0, 16383])]) as object), map_version: 'x' }),
    /"map_version" is "x"/,
  ],
];

describe('a client loading a /cluster it cannot route by', () => {
  for (const [what, view, why] of cases)
    it(`refuses a view with ${what}, naming the node`, async () => {
      const bad = await fakeNode(view);
      const client = new DistkvClient({ urls: [`http://${bad}`], timeoutMs: 2000, retries: 0 });
      try {
        const err = await client.get('foo').then(
          () => assert.fail('the client routed by the view'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
        assert.match(
          err.message,
          new RegExp(`${bad.replace(/\./g, '\\.')} answered /cluster with a map the client cannot route by`),
        );
        assert.match(err.message, why);
      } finally {
        await client.close();
      }
    });

  it('refuses such a view in cluster() too (distkv cluster), naming the node', async () => {
    const bad = await fakeNode(() => viewOf([{}, null]));
    const client = new DistkvClient({ urls: [`http://${bad}`], timeoutMs: 2000, retries: 0 });
    try {
      for (const node of [undefined, bad]) {
        const err = await client.cluster(node).then(
          () => assert.fail('cluster() answered the view'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
        assert.match(
          err.message,
          /answered \/cluster with a map the client cannot route by: shards\[0\]\.idx is missing/,
        );
        assert.ok(err.message.includes(bad));
      }
    } finally {
      await client.close();
    }
  });

  it('asks the next node when the first answers a view it cannot route by', async () => {
    const bad = await fakeNode((a) => viewOf([shard(0, a, [0, 16383]), shard(1, '127.0.0.1:1', [0, 100])]));
    const good = await fakeNode((a) => viewOf([shard(0, a, [0, 16383])]));
    const client = new DistkvClient({
      urls: [`http://${bad}`, `http://${good}`],
      timeoutMs: 2000,
      retries: 0,
    });
    try {
      // The keys of slots 0..100, which the bad view gives to 127.0.0.1:1, go to the good node.
      const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`).filter((k) => slotOf(k) <= 100);
      assert.ok(keys.length >= 3);
      for (const key of keys.slice(0, 3)) assert.equal((await client.get(key))?.toString(), 'v');
    } finally {
      await client.close();
    }
  });
});

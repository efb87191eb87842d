/**
 * A forwarded scan part keeps what the owner said about it: the entries, whether it had more, and
 * the lag of each shard a replica there served (`replica_lag`), which the asking node merges into
 * its page's X-Distkv-Lag (src/http/collection-routes.ts); and the part of a leader-only scan asks
 * the owner for leaders only.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { Forwarder } from '../../src/http/forwarder.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

const twins: TwinServer[] = [];
const forwarder = new Forwarder('http', 'cfg');
after(async () => {
  await forwarder.close();
  await Promise.all(twins.map((t) => t.stop()));
});

describe('Forwarder.scan', () => {
  it("keeps a part's replica_lag", async () => {
    const owner = await startTwinServer((url) =>
      url.startsWith('/kv?')
        ? {
            items: [{ key: 'a', value_base64: Buffer.from('1').toString('base64') }],
            next: null,
            replica_lag: { 2: 'disconnected; last-contact-ms=5000' },
          }
        : undefined,
    );
    twins.push(owner);
    const part = await forwarder.scan(owner.address, [2], Buffer.alloc(0), undefined, {
      limit: 10,
      maxBytes: 1000,
    });
    assert.deepEqual(
      part.entries.map((e) => Buffer.from(e.key).toString()),
      ['a'],
    );
    assert.equal(part.more, false);
    assert.deepEqual(part.replicaLag, { 2: 'disconnected; last-contact-ms=5000' });
  });

  it('asks the owner for leaders only (leader=1) when the scan reads leaders only, and only then', async () => {
    const queries: URLSearchParams[] = [];
    const owner = await startTwinServer((url) => {
      if (!url.startsWith('/kv?')) return undefined;
      queries.push(new URLSearchParams(url.slice(4)));
      return { items: [], next: null };
    });
    twins.push(owner);
    // Bounds as the scan route builds them (collection-routes.ts), leaders only or not.
    for (const leaderOnly of [true, false]) {
      const bounds = { limit: 10, maxBytes: 1000, leaderOnly };
      await forwarder.scan(owner.address, [1], Buffer.alloc(0), undefined, bounds);
    }
    assert.deepEqual(
      queries.map((q) => [q.get('local'), q.get('leader')]),
      [
        ['1', '1'],
        ['1', null],
      ],
      'a part read from a replica there would miss writes its leader acknowledged',
    );
  });
});

describe('Forwarder.scan, a prefix and a cursor that are not UTF-8', () => {
  it('sends their exact bytes (prefix_base64, after_base64), not text that stands for other bytes', async () => {
    const queries: URLSearchParams[] = [];
    const owner = await startTwinServer((url) => {
      if (!url.startsWith('/kv?')) return undefined;
      queries.push(new URLSearchParams(url.slice(4)));
      return { items: [], next: null };
    });
    twins.push(owner);
    const bounds = { limit: 10, maxBytes: 1000 };
    const prefix = Buffer.from([0x70, 0xff, 0xfe]);
    const after = Buffer.from([0x70, 0xff, 0xfe, 0x80]);
    await forwarder.scan(owner.address, [0], prefix, after, bounds);
    await forwarder.scan(owner.address, [0], Buffer.from('p\u00e9'), Buffer.from('p\u00e9z'), bounds);
    assert.deepEqual(
      queries.map((q) => [q.get('prefix'), q.get('prefix_base64'), q.get('after'), q.get('after_base64')]),
      [
        [null, prefix.toString('base64'), null, after.toString('base64')],
        ['p\u00e9', null, 'p\u00e9z', null],
      ],
      'as text, \\xFF\\xFE is U+FFFD U+FFFD: the owner would scan keys under EF BF BD EF BF BD',
    );
  });
});

describe('Forwarder.scan, a shard the owner reports missing', () => {
  it('says the owner no longer leads it when the part reads leaders only, and asks about its data directory otherwise', async () => {
    const owner = await startTwinServer((url) =>
      url.startsWith('/kv?') ? { items: [], next: null, partial: true, missing_shards: [3] } : undefined,
    );
    twins.push(owner);
    const messageOf = async (leaderOnly: boolean): Promise<string> => {
      const bounds = { limit: 10, maxBytes: 1000, leaderOnly };
      const err = await forwarder.scan(owner.address, [3], Buffer.alloc(0), undefined, bounds).then(
        () => assert.fail('a missing shard is an error'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof DistkvError && err.code === 'SHARD_UNREACHABLE', String(err));
      return err.message;
    };
    assert.match(await messageOf(true), /does not lead shard 3 now \(a failover may have moved it: retry\)/);
    assert.match(await messageOf(false), /does not host shard 3 \(is its data directory complete\?\)/);
  });
});

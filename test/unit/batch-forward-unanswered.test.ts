/**
 * A batch with conditions whose shard is led by another node is forwarded whole; when that owner
 * does not answer, the answer is 503 SHARD_UNREACHABLE saying the batch may have been applied,
 * never a 500 INTERNAL ("fetch failed"), which said a node bug and nothing of the write's fate.
 * The owner here is a closed loopback port.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { runConditionalBatch } from '../../src/http/conditional-batch.js';
import type { HttpContext } from '../../src/http/context.js';
import { Forwarder } from '../../src/http/forwarder.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { freePort } from '../helpers/ports.js';

const forwarder = new Forwarder('http', 'cfg');
after(async () => {
  await forwarder.close();
});

describe('forwarding a batch with conditions', () => {
  it('answers SHARD_UNREACHABLE, saying it may have been applied, when the owner does not answer', async () => {
    const owner = `127.0.0.1:${await freePort()}`;
    const shardMap = new ShardMap([
      { name: 'shard-0', idx: 0, address: owner, replicas: [], slots: { first: 0, last: 16383 } },
    ]);
    const ctx = {
      shardMap,
      forwarder,
      listener: { writes: [{ local: false, address: owner }], reads: [{ local: false, address: owner }] },
    } as unknown as HttpContext;
    const ops = [
      { op: 'set' as const, key: 'k', value: Buffer.from('v'), cond: { ifNoneMatch: true as const } },
    ];
    await assert.rejects(runConditionalBatch(ctx, ops, false, {}), (err: unknown) => {
      assert.ok(err instanceof DistkvError, `a catalogue error, not ${String(err)}`);
      assert.equal(err.code, 'SHARD_UNREACHABLE');
      assert.equal(err.status, 503);
      assert.match(err.message, new RegExp(`shard 0 \\(owner ${owner}\\).*may have been applied`));
      return true;
    });
  });
});

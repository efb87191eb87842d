/**
 * A batch with conditions whose shard is led by another node is forwarded whole; when that owner
 * does not answer, the answer is a 503, never a 500 INTERNAL ("fetch failed"), which said a node
 * bug and nothing of the write's fate. What it says of that fate depends on how the forwarding
 * failed: an owner that took the request and dropped the connection may have applied it
 * (OUTCOME_UNKNOWN: it used to be SHARD_UNREACHABLE, the code of a batch never sent, which a client
 * may send again); an owner whose port refused the connection got nothing, so nothing was applied
 * (SHARD_UNREACHABLE; it used to say "may have been applied" there too, leaving the caller to read
 * every key back).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { runConditionalBatch } from '../../src/http/conditional-batch.js';
import type { HttpContext } from '../../src/http/context.js';
import { SlotGate } from '../../src/server/slot-gate.js';
import { Forwarder } from '../../src/http/forwarder.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { freePort } from '../helpers/ports.js';

const forwarder = new Forwarder('http', 'cfg');
const servers: Server[] = [];
after(async () => {
  await forwarder.close();
  for (const s of servers) s.close();
});

/** contextFor is the HttpContext of a node whose one shard is led by `owner`. */
function contextFor(owner: string): HttpContext {
  const shardMap = new ShardMap([
    { name: 'shard-0', idx: 0, address: owner, replicas: [], slots: { first: 0, last: 16383 } },
  ]);
  return {
    shardMap,
    forwarder,
    listener: { writes: [{ local: false, address: owner }], reads: [{ local: false, address: owner }] },
    slotGate: new SlotGate('cfg'),
  } as unknown as HttpContext;
}

/** errorOf forwards a one-operation batch with a condition to `owner` and returns its refusal, of `code`. */
async function errorOf(owner: string, code: string): Promise<DistkvError> {
  const ops = [
    { op: 'set' as const, key: 'k', value: Buffer.from('v'), cond: { ifNoneMatch: true as const } },
  ];
  const err = await runConditionalBatch(contextFor(owner), ops, false, {}).then(
    () => assert.fail('an owner that does not answer is an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DistkvError, `a catalogue error, not ${String(err)}`);
  assert.equal(err.code, code);
  assert.equal(err.status, 503);
  return err;
}

describe('forwarding a batch with conditions', () => {
  it('says it may have been applied when the owner took the request and dropped the connection', async () => {
    const dropper = createServer((socket) => {
      socket.once('data', () => socket.destroy());
    });
    servers.push(dropper);
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const owner = `127.0.0.1:${(dropper.address() as AddressInfo).port}`;
    const err = await errorOf(owner, 'OUTCOME_UNKNOWN');
    assert.match(
      err.message,
      new RegExp(`shard 0 \\(owner ${owner}\\) did not answer: .*may have been applied`),
    );
  });

  it('says nothing was applied when the connection to the owner was refused', async () => {
    const owner = `127.0.0.1:${await freePort()}`;
    const err = await errorOf(owner, 'SHARD_UNREACHABLE');
    assert.match(
      err.message,
      new RegExp(
        `shard 0 \\(owner ${owner}\\) could not be reached: .*ECONNREFUSED.*; nothing was sent to it, so none of its operations was applied`,
      ),
    );
    assert.doesNotMatch(err.message, /may have been applied/);
  });
});

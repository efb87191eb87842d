/**
 * A pull answered by a stopping leader (its answer says `Connection: close`: src/http/repl-routes.ts)
 * is read as `closing` (src/replication/http-source.ts), so the follower's next pull, which may
 * reach the leader's next run at once without failing, carries its record ladder
 * (test/unit/follower-ladder.test.ts); an answer on a kept connection is not.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Pulled } from '../../src/replication/source.js';
import { FakePeers, sourceOf } from '../helpers/fake-peer.js';

const peers = new FakePeers();

afterEach(async () => {
  await peers.close();
});

/** pulledFrom is what one pull of a fake leader answering `status` (closing its connection when `close`) gives. */
async function pulledFrom(status: 200 | 204, close: boolean): Promise<Pulled> {
  const leader = await peers.start((_req, res) => {
    res.writeHead(status, {
      'x-distkv-leader-seq': '0',
      'x-distkv-epoch': '0',
      ...(close ? { connection: 'close' } : {}),
    });
    res.end();
  });
  const s = sourceOf(leader);
  try {
    const r = await s.pull(0, 1 << 20, 0);
    assert.ok(typeof r === 'object' && 'records' in r, `a batch: ${JSON.stringify(r)}`);
    return r;
  } finally {
    await s.close();
  }
}

describe('a pull answered by a stopping leader', () => {
  for (const status of [200, 204] as const) {
    it(`is closing when the ${String(status)} answer closes its connection`, async () => {
      assert.equal((await pulledFrom(status, true)).closing, true);
    });

    it(`is not closing when the ${String(status)} answer keeps it`, async () => {
      assert.equal((await pulledFrom(status, false)).closing, undefined);
    });
  }
});

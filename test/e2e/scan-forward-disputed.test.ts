/**
 * A scan whose forwarded part the owner refuses with SLOTS_DISPUTED, at a node that has not seen
 * the dispute itself (a node learns of one only from the peers it reaches, within a peer check,
 * docs/operations.md): the whole scan is 503 SLOTS_DISPUTED with Retry-After, naming the owner,
 * never a 200 page that lacks the owner's keys, nor a 500.
 *
 * Node A leads shard 0; shard 1's owner is a twin whose `/cluster` answers 404 (to A's peer check
 * it is a node that does not answer, which disputes nothing) and which refuses every forwarded
 * scan part as a node that sees a dispute does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freeNodeAddress } from '../helpers/resp.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';
import { startTwinServer, TwinStatus, type TwinServer } from '../helpers/twin-server.js';

/** mine is a key of shard 0 (A's). */
const mine = keyInSlots(0, 8191);

const REFUSAL = {
  error: {
    code: 'SLOTS_DISPUTED',
    message:
      "the scan of shard 1 would read slots 8192-16383, whose leader another node's config names differently: it could miss writes the other leader took. Not executed: retry once every node has the same sharding.toml",
  },
};

describe('a scan whose forwarded part the owner refuses as disputed', () => {
  const running: ServerProcess[] = [];
  let dir = '';
  let a = '';
  let owner: TwinServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-scan-forward-disputed-'));
    owner = await startTwinServer((url) =>
      url.startsWith('/kv?') ? new TwinStatus(503, REFUSAL) : undefined,
    );
    a = await freeNodeAddress();
    const config = writeConfig(dir, [
      { address: a, slots: '0-8191' },
      { address: owner.address, slots: '8192-16383' },
    ]);
    await startConfigNode(config, a, join(dir, 'a-data'), running);
    // A key of A's own shard: its part alone would make a page that looks complete.
    const put = await fetch(`http://${a}/kv/${mine}`, { method: 'PUT', body: 'v' });
    assert.equal(put.status, 204);
  });

  after(async () => {
    for (const p of running) await p.stop();
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 SLOTS_DISPUTED with Retry-After, naming the owner, while this node sees no dispute', async () => {
    const cluster = (await (await fetch(`http://${a}/cluster`)).json()) as {
      peers: { disputed_slots?: string }[];
    };
    assert.deepEqual(
      cluster.peers.map((p) => p.disputed_slots),
      [undefined],
      'A itself disputes nothing',
    );
    for (const query of ['', `?prefix=${mine}`, '?leader=1']) {
      const r = await fetch(`http://${a}/kv${query}`);
      const body = (await r.json()) as { error?: { code: string; message: string }; items?: unknown };
      assert.equal(r.status, 503, `GET /kv${query}: ${JSON.stringify(body)}`);
      assert.equal(r.headers.get('retry-after'), '1');
      assert.equal(body.error?.code, 'SLOTS_DISPUTED');
      assert.equal(body.error.message, `owner ${owner.address}: ${REFUSAL.error.message}`);
      assert.equal(body.items, undefined, 'no page that lacks the owner part');
    }
    assert.ok(
      owner.calls.some((c) => c.startsWith('GET /kv?') && c.includes('local=1')),
      'the part was forwarded to the owner',
    );
  });
});

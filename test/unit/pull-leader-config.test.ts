/**
 * A replica copies a leader whose node routes with another config when that config gives the shard
 * the same slots and leader with this replica among its members (src/replication/leader-config.ts;
 * docs/failover.md, "A rolling config change"): after a pull refused with CONFIG_MISMATCH, HttpSource
 * reads the leader's `/cluster` and pulls again at once under the leader's config hash. A leader whose
 * config gives the shard other slots keeps refusing it; a leader that comes back with the replica's
 * own config is pulled under that one again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { HttpSource } from '../../src/replication/http-source.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const REPLICA = '127.0.0.1:2';
const COPY = { idx: 0, name: 'shard-0', first: 0, last: 16383 };

/** Leader is a fake leader node: its config hash, the slots its config gives shard-0, and what it was asked. */
interface Leader {
  twin: HandlerTwin;
  hash: string;
  slots: [number, number];
  asked: string[];
}

async function leader(hash: string, slots: [number, number] = [0, 16383]): Promise<Leader> {
  const l: Leader = { twin: undefined as unknown as HandlerTwin, hash, slots, asked: [] };
  l.twin = await startHandlerTwin((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/cluster') {
        assert.equal(url.searchParams.get('replica'), REPLICA, 'the read names the replica');
        l.asked.push('cluster');
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            version: l.hash,
            shards: [
              {
                idx: 0,
                name: 'shard-0',
                slots: l.slots,
                leader: { address: l.twin.address },
                replicas: [{ address: REPLICA }],
              },
            ],
          }),
        );
        return;
      }
      const config = url.searchParams.get('config');
      l.asked.push(`pull ${String(config)}`);
      if (config !== l.hash) {
        const body = { error: { code: 'CONFIG_MISMATCH', message: `${String(config)} is not ${l.hash}` } };
        res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      res.writeHead(204, { 'x-distkv-leader-seq': '0', 'x-distkv-epoch': '0' }).end();
    });
  });
  return l;
}

function sourceOf(l: Leader): HttpSource {
  return new HttpSource({
    leader: l.twin.address,
    shard: 0,
    replica: REPLICA,
    token: '',
    scheme: 'http',
    configHash: 'mine',
    copy: COPY,
  });
}

describe("a replica pulling from a leader on another config's file", () => {
  const twins: HandlerTwin[] = [];
  after(async () => {
    for (const t of twins) await t.stop();
  });

  it('pulls under the leader’s hash when its config gives the shard the same slots and leader', async () => {
    const l = await leader('theirs');
    twins.push(l.twin);
    const source = sourceOf(l);
    try {
      await source.pull(0, 1 << 20, 0);
      await source.pull(0, 1 << 20, 0);
      assert.deepEqual(l.asked, ['pull mine', 'cluster', 'pull theirs', 'pull theirs']);
      // The leader restarted with the replica's file: refused once more, then its own hash again.
      l.hash = 'mine';
      await source.pull(0, 1 << 20, 0);
      assert.deepEqual(l.asked.slice(4), ['pull theirs', 'cluster', 'pull mine']);
    } finally {
      await source.close();
    }
  });

  it('stays refused when the leader’s config gives the shard other slots', async () => {
    const l = await leader('theirs', [0, 8191]);
    twins.push(l.twin);
    const source = sourceOf(l);
    try {
      await assert.rejects(source.pull(0, 1 << 20, 0), /CONFIG_MISMATCH/);
      assert.deepEqual(l.asked, ['pull mine', 'cluster']);
    } finally {
      await source.close();
    }
  });
});

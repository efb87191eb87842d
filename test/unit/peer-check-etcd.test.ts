/**
 * PeerCheck reads the etcd cluster each peer names in its `/cluster` answer
 * (`coordination.etcd_cluster_id`, src/coordination/etcd-cluster-check.ts): shown in `peers`, kept
 * while the peer is silent (it may be cut off but alive, coordinating there), and a peer that runs
 * `[coordination]` without naming one yet (starting) is shown `etcd_pending`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import pino from 'pino';
import { PeerCheck } from '../../src/server/peer-check.js';
import { freePort } from '../helpers/ports.js';

describe('PeerCheck and the etcd cluster of each peer', () => {
  it('shows a peer etcd cluster, keeps it while the peer is silent, and marks a starting one pending', async () => {
    let doc: unknown = { version: 'abc', coordination: { lease_ttl_ms: 1000, etcd: ['http://e:2379'] } };
    let up = true;
    const srv = createServer((_req, res) => {
      if (!up) {
        res.socket?.destroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(doc));
    });
    const port = await freePort();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    const peer = `127.0.0.1:${port}`;
    const check = new PeerCheck([peer], 'abc', 'http', pino({ level: 'silent' }));
    try {
      await check.checkAll();
      // One view: each call counts checked_ms_ago anew, and a millisecond may pass between two.
      const first = check.view()[0]!;
      assert.deepEqual(first, {
        address: peer,
        state: 'agrees',
        version: 'abc',
        checked_ms_ago: first.checked_ms_ago,
        etcd_pending: true,
      });
      doc = {
        version: 'abc',
        coordination: { lease_ttl_ms: 1000, etcd: ['http://e:2379'], etcd_cluster_id: 'beef' },
      };
      await check.checkAll();
      assert.equal(check.view()[0]!.etcd_cluster_id, 'beef');
      assert.deepEqual(check.view()[0]!.etcd, ['http://e:2379']);
      assert.equal(check.view()[0]!.etcd_pending, undefined);
      up = false;
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
      assert.equal(check.view()[0]!.etcd_cluster_id, 'beef', 'kept while silent');
    } finally {
      await check.stop();
      srv.close();
    }
  });
});

/**
 * `distkv failover`'s admin calls (src/cli/failover-calls.ts `call`) against a node (a fake node:
 * a node:http server on loopback) whose answer is larger than any node's `/cluster`
 * (CLUSTER_DOC_BYTES): refused once it passes the cap, as SHARD_UNREACHABLE for a call unanswered
 * (it may have been executed), naming the call and the bound. Before, `res.text()` gathered
 * whatever came within the timeout.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { call, isUnanswered } from '../../src/cli/failover-calls.js';
import { CLUSTER_DOC_BYTES } from '../../src/util/peer-answer.js';
import { FakePeers, writeInMiBs } from '../helpers/fake-peer.js';

const peers = new FakePeers();

describe('an admin call answered with more than a node sends', () => {
  it('is refused past the cap as unanswered, naming the call', async () => {
    const doc = Buffer.from(JSON.stringify({ map: {}, shards: [], pad: 'x'.repeat(CLUSTER_DOC_BYTES) }));
    const node = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      writeInMiBs(res, doc);
    });
    const url = `http://${node}/cluster`;
    try {
      const err = await call(url, { token: '' }).then(
        () => assert.fail('the oversized answer was taken'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof DistkvError, String(err));
      assert.equal(err.code, 'SHARD_UNREACHABLE');
      assert.ok(isUnanswered(err));
      assert.match(err.message, new RegExp(`GET ${url}: .*the body passed ${CLUSTER_DOC_BYTES} bytes`));
    } finally {
      await peers.close();
    }
  });
});

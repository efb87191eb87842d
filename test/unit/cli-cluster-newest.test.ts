/**
 * `distkv cluster` shows the newest live map any node routes with: the first node asked may not
 * have learned it (a peer poll behind, or cut off from its peers) and used to be the one shown, its
 * deposed leader as the shard's leader. Twins: N1 routes with map 1 (itself leading shard 0), N2
 * with map 2 (itself leading); the command is pointed at N1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let n1: HandlerTwin;
let n2: HandlerTwin;

/** viewOf is `self`'s /cluster: map `version` with `leader` leading shard 0 and `replica` its replica. */
function viewOf(self: string, version: number, leader: string, replica: string): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: version,
    slots: 16384,
    node: self,
    hosted_nodes: [self],
    shards: [
      {
        idx: 0,
        name: 'shard-0',
        slots: [0, 16383],
        epoch: version - 1,
        leader: {
          address: leader,
          local: leader === self,
          ...(leader === self ? { last_seq: 40 + version } : {}),
        },
        replicas: [{ address: replica, local: replica === self }],
      },
    ],
  });
}

before(async () => {
  n1 = await startHandlerTwin((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(viewOf(n1.address, 1, n1.address, n2.address));
  });
  n2 = await startHandlerTwin((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(viewOf(n2.address, 2, n2.address, n1.address));
  });
});

after(async () => {
  await Promise.all([n1.stop(), n2.stop()]);
});

describe('distkv cluster', () => {
  it('shows the newest map any node routes with and names the node behind', async () => {
    const r = await runCli(['cluster', '--url', n1.address, '--json']);
    // Not healthy: N1, the new map's replica, still leads by its own map and follows nobody. This
    // exited 0 (the replica's "lag unknown" was in the table only): cli-cluster-replica-health.test.ts.
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^distkv cluster: not healthy: shard-0: replica ${n1.address} does not follow its leader: its node answers but shows no replica of the shard there \\(it routes with an older live map`,
      ),
    );
    const doc = JSON.parse(r.stdout) as {
      map_version: number;
      shards: { leader: { address: string; last_seq?: number } }[];
      older_map: { node: string; map_version: number }[];
    };
    assert.equal(doc.map_version, 2);
    assert.equal(doc.shards[0]!.leader.address, n2.address, 'showed the deposed leader');
    assert.equal(doc.shards[0]!.leader.last_seq, 42);
    assert.deepEqual(doc.older_map, [{ node: n1.address, map_version: 1 }]);
    const text = await runCli(['cluster', '--url', n1.address]);
    assert.match(
      text.stdout,
      /live map version 2; routing with an older map: 127\.0\.0\.1:\d+ \(version 1\)/,
    );
  });
});

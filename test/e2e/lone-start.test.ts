/**
 * A node that starts while none of its peers answers (docs/failover.md, "How a map spreads"): it asks
 * them for a newer live map before it serves, and without a coordinator it then serves with the map
 * on its disk. If a failover moved one of its shards while it was down, it takes writes in the old
 * epoch until a peer answers. Before, nothing said so; now its log warns, naming the map version it
 * serves with and the peers it asked.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

describe('a node started while no peer answers', () => {
  let own: OwnServer | undefined;
  after(() => own?.stop());

  it('warns that it serves with the live map on its disk, naming the peers it asked', async () => {
    const [leader, replica] = await freePorts(2);
    const A = `127.0.0.1:${leader!}`;
    const B = `127.0.0.1:${replica!}`;
    own = await startOwnServer([{ address: A, replicas: [B] }], '[server]\nresp_port_offset = 0', [
      '--node',
      A,
      '--workers',
      '1',
    ]);
    assert.match(
      own.server.stdout,
      new RegExp(`no peer answered.*live map version 1 from its data directory.*${B.replaceAll('.', '\\.')}`),
    );
  });
});

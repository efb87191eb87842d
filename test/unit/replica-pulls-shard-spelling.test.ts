/**
 * ReplicaPulls (src/http/replica-pulls.ts) hears every pull the pull route serves: the route reads
 * `shard` by intParam (request-parse.ts: ASCII digits, leading zeros allowed), so a pull spelling
 * its shard `0000000000` is served, and its `after` counts for `w=N` at the leader; /cluster's
 * `leader_view` must then show that ack too, not `never_pulled` beside a `w=1` the pull satisfied.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type LiveMap } from '../../src/routing/live-map.js';
import { ReplicaPulls } from '../../src/http/replica-pulls.js';
import { intParam } from '../../src/http/request-parse.js';

const live = {
  version: 1,
  shards: [{ idx: 0, leader: 'L:1', replicas: ['R:1'], epoch: 0, history: [] }],
} as unknown as LiveMap;

describe('ReplicaPulls and the pull route read a shard alike', () => {
  it('records a pull whose shard has leading zeros, as the route serves it', () => {
    for (const shard of ['00', '000000000', '0000000000', '0'.repeat(30)]) {
      const params = new Map([
        ['shard', shard],
        ['replica', 'R:1'],
        ['after', '7'],
      ]);
      assert.equal(intParam(params, 'shard', -1, 0, 0), 0, `the route serves shard=${shard}`);
      const p = new ReplicaPulls(() => 1000);
      const note = p.noteOf(live, params);
      assert.notEqual(note, undefined, `shard=${shard} is served but not recorded for leader_view`);
      note?.sent();
      note?.answered();
      assert.equal(p.view(0, 'R:1', 9, 1000).acked_seq, 7, `shard=${shard}`);
    }
  });
});

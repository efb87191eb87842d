/**
 * ReplicaPulls (src/http/replica-pulls.ts): what a leader's node shows of a replica's pulls in
 * /cluster's `leader_view`, on a clock of the test's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { type LiveMap } from '../../src/routing/live-map.js';
import { ReplicaPulls } from '../../src/http/replica-pulls.js';

const live = {
  version: 1,
  shards: [{ idx: 0, address: 'L:1', replicas: ['R:1'], epoch: 0 }],
} as unknown as LiveMap;
const WAIT = 1000;
const query = (q: Record<string, string>): Map<string, string> => new Map(Object.entries(q));

describe('ReplicaPulls', () => {
  it('records only configured replicas of the shard', () => {
    const p = new ReplicaPulls(() => 0);
    assert.equal(p.noteOf(live, query({ shard: '0', replica: 'X:1', after: '1' })), undefined);
    assert.equal(p.noteOf(live, query({ shard: '1', replica: 'R:1', after: '1' })), undefined);
    assert.equal(p.noteOf(live, query({ replica: 'R:1' })), undefined);
    assert.equal(p.noteOf(live, query({ shard: '', replica: 'R:1' })), undefined);
    assert.deepEqual(p.view(0, 'X:1', 5, WAIT), { never_pulled: true, following: false });
  });

  it('a replica that never pulled, then pulls: acked seq, lag, time since the pull, following', () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), { never_pulled: true, following: false });
    const n = p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '7' }))!;
    n.sent();
    now += 1000; // parked for the wait, then answered: counted from its arrival
    n.answered();
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), {
      acked_seq: 7,
      lag_seqs: 2,
      last_pull_ms_ago: 1000,
      following: true,
    });
    now += WAIT + 3001; // no pull since: not following, its ack kept
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), {
      acked_seq: 7,
      lag_seqs: 2,
      last_pull_ms_ago: 5001,
      following: false,
    });
  });

  it('a refused pull (401 before it reaches the worker) shows until a later pull is answered', () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '3' }))!.refused(
      new DistkvError('UNAUTHORIZED', 'wrong token'),
    );
    now += 200;
    assert.deepEqual(p.view(0, 'R:1', 5, WAIT), {
      never_pulled: true,
      following: false,
      refused: { code: 'UNAUTHORIZED', ms_ago: 200 },
    });
    const ok = p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '5' }))!;
    ok.sent();
    ok.answered();
    assert.deepEqual(p.view(0, 'R:1', 5, WAIT), {
      acked_seq: 5,
      lag_seqs: 0,
      last_pull_ms_ago: 0,
      following: true,
    });
    // The worker refuses the next one (its records forked): shown, and not following.
    now += 10;
    const fork = p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '5' }))!;
    fork.sent();
    fork.refused('DIVERGED');
    assert.deepEqual(p.view(0, 'R:1', 5, WAIT), {
      acked_seq: 5,
      lag_seqs: 0,
      last_pull_ms_ago: 0,
      following: false,
      refused: { code: 'DIVERGED', ms_ago: 0 },
    });
  });

  it("a pull's own longer wait_ms keeps it following while it is parked that long", () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '2', wait_ms: '10000' }))!.sent();
    now += 10000 + 3000;
    assert.equal(p.view(0, 'R:1', 2, WAIT).following, true);
    now += 1;
    assert.equal(p.view(0, 'R:1', 2, WAIT).following, false);
  });
});

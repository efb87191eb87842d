/**
 * ReplicaPulls (src/http/replica-pulls.ts): what a leader's node shows of a replica's pulls in
 * /cluster's `leader_view`, on a clock of the test's: its pulls and its snapshot streams (a resync).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { type LiveMap } from '../../src/routing/live-map.js';
import { ReplicaPulls, SNAPSHOT_SILENCE_MS } from '../../src/http/replica-pulls.js';

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

describe('ReplicaPulls and snapshot streams', () => {
  const gone = (p: ReplicaPulls, after: string): void => {
    const n = p.noteOf(live, query({ shard: '0', replica: 'R:1', after }))!;
    n.sent();
    n.refused('LOG_GONE');
  };

  it('a replica resyncing from a long snapshot shows resyncing, the bytes sent and the last page, not a growing silence', () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    gone(p, '0'); // its log is gone: it asks for a snapshot
    now += 50;
    const s = p.snapshotNoteOf(live, query({ shard: '0', replica: 'R:1' }))!;
    s.started();
    for (let i = 0; i < 60; i++) {
      now += 1000; // a page a second for a minute: far beyond the pull wait + 3 s
      s.page(4 << 20);
    }
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), {
      last_pull_ms_ago: 60050,
      following: false,
      resyncing: true,
      last_snapshot_ms_ago: 0,
      snapshot_bytes: 60 * (4 << 20),
    });
    // Loaded: the stream ends complete, and the replica pulls from the snapshot's seq.
    now += 10;
    s.ended(true);
    assert.equal(p.view(0, 'R:1', 9, WAIT).resyncing, true);
    now += 200;
    const n = p.noteOf(live, query({ shard: '0', replica: 'R:1', after: '9' }))!;
    n.sent();
    n.answered();
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), {
      acked_seq: 9,
      lag_seqs: 0,
      last_pull_ms_ago: 0,
      following: true,
      last_snapshot_ms_ago: 200,
      snapshot_bytes: 60 * (4 << 20),
    });
  });

  it('a snapshot stream silent for SNAPSHOT_SILENCE_MS, or cut short, is no resync under way', () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    gone(p, '0');
    const s = p.snapshotNoteOf(live, query({ shard: '0', replica: 'R:1' }))!;
    s.started();
    s.page(100);
    now += SNAPSHOT_SILENCE_MS;
    assert.equal(p.view(0, 'R:1', 9, WAIT).resyncing, true);
    now += 1;
    assert.equal(p.view(0, 'R:1', 9, WAIT).resyncing, undefined);
    // A new stream, then cut (the replica went away): not resyncing, and when it last had a page.
    const again = p.snapshotNoteOf(live, query({ shard: '0', replica: 'R:1' }))!;
    again.started();
    now += 5;
    again.ended(false);
    const v = p.view(0, 'R:1', 9, WAIT);
    assert.equal(v.resyncing, undefined);
    assert.equal(v.following, false);
    assert.equal(v.last_snapshot_ms_ago, 0);
    assert.equal(v.snapshot_bytes, 0);
    // The first stream, still open on the leader, reports nothing more: the latest one counts.
    s.page(100);
    assert.equal(p.view(0, 'R:1', 9, WAIT).snapshot_bytes, 0);
  });

  it('a refused snapshot (a wrong token) shows as refused; a backup, naming no replica, is not recorded', () => {
    let now = 1000;
    const p = new ReplicaPulls(() => now);
    assert.equal(p.snapshotNoteOf(live, query({ shard: '0' })), undefined);
    assert.equal(p.snapshotNoteOf(live, query({ shard: '0', replica: 'X:1' })), undefined);
    p.snapshotNoteOf(live, query({ shard: '0', replica: 'R:1' }))!.refused(
      new DistkvError('UNAUTHORIZED', 'wrong token'),
    );
    now += 20;
    assert.deepEqual(p.view(0, 'R:1', 9, WAIT), {
      never_pulled: true,
      following: false,
      refused: { code: 'UNAUTHORIZED', ms_ago: 20 },
    });
  });
});

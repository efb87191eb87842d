/**
 * `distkv cluster`'s exit status and stderr say whether the cluster is healthy: a replica that does
 * not follow its leader (its lag unknown) exited 0 before, so `distkv cluster && echo healthy` said
 * healthy while a replica's pulls were all refused (a wrong token). And what a leader heard of a
 * replica's pulls (`/cluster` → `replicas[].leader_view`) is shown for a replica whose own node does
 * not answer, and a replica resyncing from a snapshot is named as such (it said "does not follow its
 * leader" while it caught up). Twins: L leads the one shard, R is its replica; each answers its own
 * /cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

let l: HandlerTwin;
let r: HandlerTwin;
/** leaderView is what L says of R's pulls; replicaSelf what R says of itself. */
let leaderView: Record<string, unknown> = {};
let replicaSelf: Record<string, unknown> = {};

/** viewOf is `self`'s /cluster of one shard led by `leader`, replicated by `replica`. */
function viewOf(self: string, leader: string, replica: string): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: 1,
    slots: 16384,
    node: self,
    hosted_nodes: [self],
    shards: [
      {
        idx: 0,
        name: 'shard-0',
        slots: [0, 16383],
        epoch: 0,
        leader: { address: leader, local: leader === self, ...(leader === self ? { last_seq: 10 } : {}) },
        replicas: [
          replica === self
            ? { address: replica, local: true, ...replicaSelf }
            : { address: replica, local: false, leader_view: leaderView },
        ],
      },
    ],
  });
}

const json = { 'content-type': 'application/json' };

before(async () => {
  l = await startHandlerTwin((_req, res) =>
    res.writeHead(200, json).end(viewOf(l.address, l.address, r.address)),
  );
  r = await startHandlerTwin((_req, res) =>
    res.writeHead(200, json).end(viewOf(r.address, l.address, r.address)),
  );
});

after(async () => {
  await Promise.all([l.stop(), r.stop()]);
});

describe('distkv cluster and a replica in another process', () => {
  it('exits 0, nothing on stderr, when the replica follows and its leader hears its pulls', async () => {
    replicaSelf = { state: 'streaming', acked_seq: 10, lag_seqs: 0, lag_ms: 400 };
    leaderView = { acked_seq: 10, lag_seqs: 0, last_pull_ms_ago: 300, following: true };
    const c = await runCli(['cluster', '--url', l.address]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.equal(c.stderr, '');
    assert.match(c.stdout, new RegExp(`${r.address} \\(streaming, 0 seqs, 400 ms\\)`));
  });

  it('exits 1 naming the replica on stderr when its pulls are refused (a wrong token), with what its leader heard', async () => {
    replicaSelf = { state: 'disconnected', acked_seq: 4 };
    leaderView = { never_pulled: true, following: false, refused: { code: 'UNAUTHORIZED', ms_ago: 200 } };
    const c = await runCli(['cluster', '--url', l.address]);
    assert.equal(
      c.code,
      1,
      `exited ${String(c.code)} with a replica that does not follow:\n${c.stdout}${c.stderr}`,
    );
    const lines = c.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [
      `distkv cluster: not healthy: shard-0: replica ${r.address} does not follow its leader (disconnected, lag unknown; its leader has not answered it since it started); its leader has heard no pull of it since it started and refused the last one 200 ms ago with UNAUTHORIZED`,
    ]);
    assert.match(
      c.stdout,
      /lag unknown, at seq 4, last contact never; leader: no pull since it started, which it refused with UNAUTHORIZED\)/,
    );
    const j = await runCli(['cluster', '--url', l.address, '--json']);
    assert.equal(j.code, 1);
    const doc = JSON.parse(j.stdout) as {
      problems: string[];
      shards: { replicas: { leader_view?: unknown }[] }[];
    };
    assert.equal(doc.problems.length, 1);
    assert.deepEqual(doc.shards[0]!.replicas[0]!.leader_view, leaderView);
  });

  it('names a replica that says it follows but its leader has not heard from lately', async () => {
    replicaSelf = { state: 'streaming', acked_seq: 10, lag_seqs: 0, lag_ms: 400 };
    leaderView = { acked_seq: 6, lag_seqs: 4, last_pull_ms_ago: 9000, following: false };
    const c = await runCli(['cluster', '--url', l.address]);
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.match(
      c.stderr,
      new RegExp(
        `not healthy: shard-0: replica ${r.address} says it follows, but its leader last heard a pull of it 9000 ms ago \\(at seq 6, 4 seqs behind\\)`,
      ),
    );
  });
});

describe('distkv cluster and a replica resyncing from a snapshot', () => {
  it('names it as resyncing from a snapshot, with what its leader has sent, and exits 1: it is not yet a working replica', async () => {
    // Its log was gone: it pulled 45 s ago, and has been loading its leader's snapshot since.
    replicaSelf = { state: 'resyncing', acked_seq: 0, last_contact_ms_ago: 100 };
    leaderView = {
      last_pull_ms_ago: 45000,
      following: false,
      resyncing: true,
      last_snapshot_ms_ago: 80,
      snapshot_bytes: 12 * 1024 * 1024,
    };
    const c = await runCli(['cluster', '--url', l.address]);
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.deepEqual(c.stderr.trimEnd().split('\n'), [
      `distkv cluster: not healthy: shard-0: replica ${r.address} is resyncing from a snapshot of its leader: it serves no reads and w=N writes cannot count on it until it has caught up (run distkv cluster again); its leader last heard a pull of it 45000 ms ago; it is streaming it a snapshot (12.0 MiB, last sent 80 ms ago)`,
    ]);
    assert.match(
      c.stdout,
      /\(resyncing, lag unknown, at seq 0, last contact 100 ms ago; leader: last pull 45000 ms ago, streaming it a snapshot: 12\.0 MiB, last sent 80 ms ago\)/,
    );
    const j = await runCli(['cluster', '--url', l.address, '--json']);
    assert.equal(j.code, 1);
    const doc = JSON.parse(j.stdout) as { shards: { replicas: { leader_view?: unknown }[] }[] };
    assert.deepEqual(doc.shards[0]!.replicas[0]!.leader_view, { never_pulled: false, ...leaderView });
  });

  it('a replica whose own word is resyncing but whose leader neither streams it a snapshot nor hears it does not follow', async () => {
    replicaSelf = { state: 'resyncing', acked_seq: 0, last_contact_ms_ago: 20000 };
    leaderView = {
      last_pull_ms_ago: 20000,
      following: false,
      last_snapshot_ms_ago: 19000,
      snapshot_bytes: 0,
    };
    const c = await runCli(['cluster', '--url', l.address]);
    assert.equal(c.code, 1, c.stdout + c.stderr);
    assert.match(
      c.stderr,
      new RegExp(
        `not healthy: shard-0: replica ${r.address} does not follow its leader \\(resyncing, lag unknown; its leader last answered it 20000 ms ago\\); its leader last heard a pull of it 20000 ms ago$`,
        'm',
      ),
    );
  });
});

describe('distkv cluster and a replica whose node does not answer', () => {
  let n: HandlerTwin;
  let closed = '';
  before(async () => {
    closed = `127.0.0.1:${String(await freePort())}`; // nothing listens there
    leaderView = { acked_seq: 7, lag_seqs: 3, last_pull_ms_ago: 12000, following: false };
    n = await startHandlerTwin((_req, res) =>
      res.writeHead(200, json).end(viewOf(n.address, n.address, closed)),
    );
  });
  after(async () => {
    await n.stop();
  });

  it("shows the leader's last word of its pulls, in the table and on stderr", async () => {
    const c = await runCli(['cluster', '--url', n.address]);
    assert.equal(c.code, 1, c.stderr);
    assert.match(c.stdout, new RegExp(`${closed} \\(DOWN; leader: last pull 12000 ms ago at seq 7\\)`));
    assert.match(
      c.stderr,
      new RegExp(
        `not healthy: shard-0: replica ${closed} does not answer; its leader last heard a pull of it 12000 ms ago \\(at seq 7, 3 seqs behind\\)`,
      ),
    );
  });
});

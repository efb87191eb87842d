/**
 * `distkv cluster` at a shard whose leader's store did not open (a damaged history.json, a store
 * directory that does not match its commit log): the node answers and its /cluster carries
 * `leader.state: "failed"` and the error, but the table showed the leader's address with last seq 0
 * and blamed the replicas ("does not follow its leader"), exit 1 for them alone. It shows
 * `NO LEADER: L (STORE FAILED)`, a line with the store's error and what to do, a problem line
 * naming it on stderr, and exits 1. Twin: a one-shard node whose /cluster the test sets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startViewTwin } from '../helpers/twin-server.js';

const ERROR = 'CORRUPTION: /data/shard-0/history.json is not a history file';
let twin: HandlerTwin;

before(async () => {
  twin = await startViewTwin((view) => {
    Object.assign(view.shards[0]!.leader, { state: 'failed', error: ERROR, last_seq: 0 });
  });
});

after(async () => {
  await twin.stop();
});

describe('distkv cluster at a leader whose store did not open', () => {
  it('names the failed store and its error, and exits 1', async () => {
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`NO LEADER: ${twin.address} \\(STORE FAILED\\)`));
    assert.match(r.stdout, /STORE FAILED: shard-0: .*did not open.*history\.json is not a history file/);
    assert.match(
      r.stderr,
      /not healthy: shard-0: no leader: its leader's store on .* did not open: CORRUPTION/,
    );
  });

  it('carries the state and error in --json', async () => {
    const r = await runCli(['cluster', '--json', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as { shards: { leader: { state?: string; error?: string } }[] };
    assert.equal(doc.shards[0]!.leader.state, 'failed');
    assert.equal(doc.shards[0]!.leader.error, ERROR);
  });
});

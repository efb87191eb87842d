/**
 * `distkv cluster` at a shard whose leader's store is open but refuses every write: its directory
 * was removed while the node runs, and its /cluster says `leader.local_error: "STORE_DIR_LOST"`.
 * The table showed the leader as any other and the command exited 0. It shows
 * `NO WRITES: L (STORE_DIR_LOST)`, a line saying what is lost and what to do, a problem line on
 * stderr, and exits 1. Twin: a one-shard node whose /cluster the test sets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startViewTwin } from '../helpers/twin-server.js';

let twin: HandlerTwin;

before(async () => {
  twin = await startViewTwin((view) => {
    Object.assign(view.shards[0]!.leader, { local_error: 'STORE_DIR_LOST', last_seq: 7 });
  });
});

after(async () => {
  await twin.stop();
});

describe('distkv cluster at a leader whose store refuses every write', () => {
  it('names the shard and STORE_DIR_LOST, says what to do, and exits 1', async () => {
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`NO WRITES: ${twin.address} \\(STORE_DIR_LOST\\)`));
    assert.match(r.stdout, /NO WRITES: shard-0: .*refuses every write .*distkv backup.*--repair/);
    assert.match(
      r.stderr,
      /not healthy: shard-0: no leader serves writes: its leader's store on .* refuses every write \(STORE_DIR_LOST\)/,
    );
  });

  it('carries local_error and the problem in --json, and exits 1', async () => {
    const r = await runCli(['cluster', '--json', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout) as {
      shards: { leader: { local_error?: string } }[];
      problems: string[];
    };
    assert.equal(doc.shards[0]!.leader.local_error, 'STORE_DIR_LOST');
    assert.equal(doc.problems.length, 1, doc.problems.join('\n'));
    assert.match(doc.problems[0]!, /shard-0: .*STORE_DIR_LOST/);
  });
});

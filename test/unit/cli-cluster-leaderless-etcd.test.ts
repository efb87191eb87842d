/**
 * What `distkv cluster` says about a shard whose leader is down when the cluster runs
 * `[coordination]` (`leaderlessAdvice` with the `coordination` of `/cluster`): a replica takes the
 * shard over by itself within a lease and a few seconds, so the advice says to wait and look
 * again, and names the forced failover only as the way out if that does not happen. Before, it
 * told the operator to restart the leader or run `--force` at once, the automatic failover
 * mentioned only as an aside, as though the cluster might not run it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderlessAdvice } from '../../src/cli/cluster-commands.js';

const shard = {
  name: 'shard-0',
  leader: { address: '10.0.0.1:8080' },
  replicas: [
    { address: '10.0.0.2:8081', down: false },
    { address: '10.0.0.3:8081', down: false },
  ],
};

describe('distkv cluster advice for a leaderless shard with [coordination]', () => {
  it('says a replica takes over by itself, how soon, and the command if none does', () => {
    const text = leaderlessAdvice(shard, { lease_ttl_ms: 2000 });
    assert.match(
      text,
      /^shard-0 takes no writes: its leader 10\.0\.0\.1:8080 is down\. The cluster runs \[coordination\]/,
    );
    assert.match(text, /takes it over by itself within about 7 s \(the 2000 ms lease and a few seconds\)/);
    assert.match(
      text,
      /If none has by then, start the leader again or run distkv failover --shard shard-0 --force/,
    );
  });

  it('without [coordination] names the forced failover as the way out', () => {
    assert.match(
      leaderlessAdvice(shard),
      /Start it again, or promote the most advanced replica: distkv failover/,
    );
  });
});

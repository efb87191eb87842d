/**
 * What `distkv cluster` says under its table about a shard whose leader is down
 * (`leaderlessAdvice`): it used to print `NO LEADER: ADDR (DOWN)` and nothing about the way out.
 * The advice follows docs/failover.md, "Forced failover": `--force` picks the most advanced
 * replica only when every replica answers; with one silent, `--to` is the choice to lose what
 * only it holds; with none answering, or no replica at all, only a restart helps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderlessAdvice } from '../../src/cli/cluster-commands.js';

const leader = { address: '10.0.0.1:8080' };
const up = (address: string) => ({ address, down: false });
const down = (address: string) => ({ address, down: true });

describe('distkv cluster advice for a shard without its leader', () => {
  it('names the forced failover when every replica answers', () => {
    const text = leaderlessAdvice({
      name: 'shard-0',
      leader,
      replicas: [up('10.0.0.2:8081'), up('10.0.0.3:8081')],
    });
    assert.match(
      text,
      /^shard-0 takes no writes: its leader 10\.0\.0\.1:8080 is down\. Start it again, or promote/,
    );
    assert.match(text, /distkv failover --shard shard-0 --force \(/);
  });

  it('names the silent replica and --to when one does not answer', () => {
    const text = leaderlessAdvice({
      name: 'shard-1',
      leader,
      replicas: [down('10.0.0.2:8081'), up('10.0.0.3:8081')],
    });
    assert.match(text, /bring 10\.0\.0\.2:8081 back and run distkv failover --shard shard-1 --force;/);
    assert.match(
      text,
      /--force --to ADDR promotes a replica that answers, losing what only the silent one holds/,
    );
  });

  it('says only a restart helps when no replica answers or there is none', () => {
    assert.match(
      leaderlessAdvice({ name: 's', leader, replicas: [down('10.0.0.2:8081')] }),
      /No replica answers either: start the leader or a replica again\.$/,
    );
    assert.match(
      leaderlessAdvice({ name: 's', leader, replicas: [] }),
      /the shard has no replica to promote/,
    );
    assert.doesNotMatch(leaderlessAdvice({ name: 's', leader, replicas: [] }), /failover/);
  });
});

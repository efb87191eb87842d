/**
 * The note `distkv cluster` prints for a shard the live map leads elsewhere than its config says
 * (`configLeaderHint`) names the failover that moves it back. After a leader whose store directory
 * was removed is failed over, the config's leader is a `disk-failed` replica that such a failover
 * is refused for (docs/failover.md): the note then says to repair it first instead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configLeaderHint } from '../../src/cli/cluster-commands.js';

const base = {
  name: 'shard-0',
  epoch: 7,
  config_leader: '127.0.0.1:8080',
  leader: { address: '127.0.0.1:8081' },
};

describe("distkv cluster's note on a shard led elsewhere than its config says", () => {
  it('names the failover that moves it back to a replica that follows', () => {
    const text = configLeaderHint({
      ...base,
      replicas: [{ address: '127.0.0.1:8080', state: 'streaming' }],
    });
    assert.match(text, /\(to move it: distkv failover --shard shard-0 --to 127\.0\.0\.1:8080\)$/);
  });

  it('says to repair a disk-failed config leader instead of naming a failover that is refused', () => {
    const text = configLeaderHint({
      ...base,
      replicas: [{ address: '127.0.0.1:8080', state: 'disk-failed', local_error: 'STORE_DIR_LOST' }],
    });
    assert.doesNotMatch(text, /distkv failover --shard shard-0 --to/);
    assert.match(
      text,
      /\(127\.0\.0\.1:8080 is disk-failed \(STORE_DIR_LOST\): a failover to it is refused until its store is repaired, as its problem line says\)$/,
    );
  });
});

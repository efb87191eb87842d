/**
 * A config that removes a shard's leader past epoch 0 (src/server/removed-leaders.ts): the shards
 * it lists, the refusal's words, and MapKeeper's hold of them until a newer map (a peer's, etcd's)
 * moves the shard on. Before, such a node started the config's leader in epoch 0, which the other
 * members refused for good (test/e2e/etcd-config-removes-leader.test.ts).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import type { ShardInfo } from '../../src/routing/shard-map.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import { removedLeaderError, removedLeaders, unresolved } from '../../src/server/removed-leaders.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';
const C = '127.0.0.3:7001';

/** config is shard-0 led by B with replica A (C removed). */
const config: ShardInfo[] = [
  { name: 'shard-0', idx: 0, address: B, replicas: [A], slots: { first: 0, last: 16383 } },
];

/** saved is the map the old config (A, B, C) left after a failover to `leader` in `epoch`. */
function saved(leader: string, epoch: number, version = 3): LiveMap {
  const replicas = [A, B, C].filter((m) => m !== leader);
  return {
    version,
    shards: [
      {
        idx: 0,
        name: 'shard-0',
        leader,
        replicas,
        epoch,
        history: epoch === 0 ? [] : [{ epoch, firstSeq: 10 }],
      },
    ],
  };
}

describe('removed leaders', () => {
  it('lists a shard whose saved leader past epoch 0 is no longer a member', () => {
    assert.deepEqual(removedLeaders(saved(C, 66), config), [
      { idx: 0, shard: 'shard-0', leader: C, epoch: 66, version: 3, address: B },
    ]);
  });

  it('lists none in epoch 0, for a leader still a member, another shard name or no map', () => {
    assert.deepEqual(removedLeaders(saved(C, 0), config), []);
    assert.deepEqual(removedLeaders(saved(A, 64), config), []);
    assert.deepEqual(removedLeaders(saved(B, 65), config), []);
    const renamed = saved(C, 66);
    renamed.shards[0]!.name = 'other';
    assert.deepEqual(removedLeaders(renamed, config), []);
    assert.deepEqual(removedLeaders(null, config), []);
    assert.deepEqual(removedLeaders({ shards: 'x' }, config), []);
  });

  it('holds until the map routed with moves the shard past the removed leader epoch', () => {
    const removed = removedLeaders(saved(C, 66), config);
    const refit: LiveMap = { version: 1, shards: [{ ...saved(B, 0).shards[0]!, replicas: [A] }] };
    assert.equal(unresolved(removed, refit).length, 1);
    const moved: LiveMap = { version: 4, shards: [{ ...saved(B, 129).shards[0]!, replicas: [A] }] };
    assert.deepEqual(unresolved(removed, moved), []);
  });

  it('is refused naming the shard, its leader and the failover that moves it', () => {
    const err = removedLeaderError(removedLeaders(saved(C, 66), config));
    assert.ok(err instanceof DistkvError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, new RegExp(`shard-0 is led by ${C}`));
    assert.match(err.message, /epoch 66/);
    assert.ok(err.message.includes(`distkv failover --shard shard-0 --to ${B}`), err.message);
    assert.match(err.message, /previous sharding\.toml/);
  });

  it('MapKeeper refuses them at start unless a newer map moved the shard on', async () => {
    const dir = tempDir(after);
    writeFileSync(join(dir, 'live-map.json'), JSON.stringify(saved(C, 66)));
    const toml = `[server]\ndata_dir = "${dir}"\n[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${B}"\nreplicas = ["${A}"]\n`;
    const keeper = new MapKeeper(parseConfigText(toml, 't.toml', {}, {}), pino({ level: 'silent' }));
    assert.equal(keeper.current.shards[0]!.epoch, 0);
    assert.throws(
      () => {
        keeper.refuseRemovedLeaders();
      },
      (err: unknown) => err instanceof DistkvError && err.code === 'CONFIG_INVALID',
    );
    // A peer of this config that took part in the failover to B (epoch 129) answers its map.
    const peer: LiveMap = { version: 4, shards: [{ ...saved(B, 129).shards[0]!, replicas: [A] }] };
    assert.equal(await keeper.offer(peer, A), true);
    keeper.refuseRemovedLeaders();
    assert.deepEqual(keeper.removedLeaders(), []);
  });
});

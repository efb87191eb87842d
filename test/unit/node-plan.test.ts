import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';
import { planNode, selectNodes } from '../../src/server/node-plan.js';

const seed = loadConfig(fileURLToPath(new URL('../../../config/sharding.toml', import.meta.url)), {}, {});
const dflt = loadConfig(fileURLToPath(new URL('../../../config/default.toml', import.meta.url)), {}, {});

describe('node plan', () => {
  it("hosts all 10 of the seed's loopback nodes when no --node is given", () => {
    assert.equal(selectNodes(seed, []).length, 10);
  });

  it('rejects a --node that the config does not name', () => {
    assert.throws(() => selectNodes(seed, ['127.0.0.9:8080']), ConfigError);
  });

  it("never places a replica on its leader's worker when there are two or more workers", () => {
    for (const workers of [2, 3, 4]) {
      const plan = planNode(seed, selectNodes(seed, []), workers);
      for (const r of plan.stores.filter((s) => s.role === 'replica')) {
        const leader = plan.stores.find((s) => s.role === 'leader' && s.shard.idx === r.shard.idx)!;
        assert.notEqual(r.worker, leader.worker, `shard ${r.shard.idx} replica on ${r.node}`);
      }
    }
  });

  it('routes reads at a replica address to that replica and writes to the leader', () => {
    const plan = planNode(dflt, ['127.0.0.1:8080', '127.0.0.1:8081'], 2);
    const replicaListener = plan.listeners.find((l) => l.address === '127.0.0.1:8081')!;
    const read = replicaListener.reads[2]!;
    const write = replicaListener.writes[2]!;
    assert.ok(read.local && read.role === 'replica');
    assert.ok(write.local && write.role === 'leader');
  });

  it('redirects to the leader address for shards hosted elsewhere', () => {
    const plan = planNode(seed, ['127.0.0.3:8080'], 1);
    assert.equal(plan.stores.length, 1);
    const l = plan.listeners[0]!;
    assert.deepEqual(l.writes[0], { local: false, address: '127.0.0.2:8080' });
    assert.ok(l.writes[1]!.local);
  });

  it('uses no more workers than stores and puts each store under <data_dir>/<node>/<shard>', () => {
    const plan = planNode(seed, ['127.0.0.3:8080'], 8);
    assert.equal(plan.workers, 1);
    assert.match(plan.stores[0]!.dir, /127\.0\.0\.3_8080[/\\]shard-1$/);
  });
});

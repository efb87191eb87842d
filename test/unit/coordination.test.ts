import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CampaignGate } from '../../src/coordination/campaign-gate.js';
import { ranksFirst } from '../../src/coordination/candidate-rank.js';
import { driftMargin, LeaseDeadline } from '../../src/coordination/lease-deadline.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/errors.js';

const SHARD = '[[shards]]\nname = "s"\nidx = 0\naddress = "127.0.0.1:7000"\n';

describe('coordination', () => {
  it('a lease holder stops at its last keepalive send time + TTL - margin, before etcd can expire it', () => {
    const d = new LeaseDeadline();
    assert.equal(d.valid(0), false, 'no lease yet');
    d.renewed(1000, 1000);
    assert.equal(driftMargin(1000), 100);
    assert.equal(d.valid(1899), true);
    assert.equal(d.valid(1900), false, 'stops 100 ms before send time + TTL');
    d.renewed(1200, 0);
    assert.equal(d.valid(1899), true, 'an expired keepalive (TTL 0) does not extend it');
    d.renewed(500, 1000);
    assert.equal(d.msLeft(1000), 900, 'an older keepalive answered late never moves it back');
    d.lost();
    assert.equal(d.valid(1000), false);
  });

  it('only the most advanced published member ranks first; ties go to the lowest address', () => {
    const others = [
      { address: '127.0.0.2:1', seq: 10 },
      { address: '127.0.0.3:1', seq: 12 },
    ];
    assert.equal(ranksFirst('127.0.0.2:1', 10, others), false, 'a less advanced replica waits');
    assert.equal(ranksFirst('127.0.0.3:1', 12, others), true);
    assert.equal(ranksFirst('127.0.0.1:1', 12, others), true, 'equal seq, lower address');
    assert.equal(ranksFirst('127.0.0.4:1', 12, others), false, 'equal seq, higher address');
    assert.equal(ranksFirst('127.0.0.9:1', 0, []), true, 'alone');
  });

  it('a replica waits for the leader a new map names to take the key before it campaigns', () => {
    const ttl = 1000;
    const tick = 250;
    // What a gate sees in its first lease period (from its first look, at 0) counts for nothing
    // (campaign-gate.ts: a key seen then may be a dead leader's): the scenarios start after it.
    const T0 = 2000;
    const g = new CampaignGate(ttl, tick);
    g.mayCampaign(0, { epoch: 5, leader: 'A', holder: undefined }, 0);
    const old = { epoch: 5, leader: 'A' };
    // The leader of epoch 5 held its key, then lost it: campaign a tick later, once every live
    // member published its seq as it is without the leader (test/integration/campaign-fresh-seqs).
    assert.equal(g.mayCampaign(0, { ...old, holder: 'A' }, T0), false);
    assert.equal(g.mayCampaign(0, { ...old, holder: undefined }, T0 + 100), false);
    assert.equal(g.mayCampaign(0, { ...old, holder: undefined }, T0 + 100 + tick - 1), false);
    assert.equal(g.mayCampaign(0, { ...old, holder: undefined }, T0 + 100 + tick), true);
    // A planned failover: map epoch 6 names B; A still holds the key, then lets it go before B takes
    // it. That gap is not a dead leader: wait a whole TTL + tick for B.
    const p = new CampaignGate(ttl, tick);
    p.mayCampaign(0, { epoch: 5, leader: 'A', holder: undefined }, 0);
    p.mayCampaign(0, { ...old, holder: 'A' }, T0);
    const next = { epoch: 6, leader: 'B' };
    assert.equal(p.mayCampaign(0, { ...next, holder: 'A' }, T0 + 1000), false);
    assert.equal(p.mayCampaign(0, { ...next, holder: undefined }, T0 + 1100), false);
    assert.equal(p.mayCampaign(0, { ...next, holder: undefined }, T0 + 1100 + ttl), false);
    assert.equal(
      p.mayCampaign(0, { ...next, holder: undefined }, T0 + 1100 + ttl + tick),
      true,
      'B never came',
    );
    // Once B held it in epoch 6, its loss is campaigned for a tick later again.
    assert.equal(p.mayCampaign(0, { ...next, holder: 'B' }, T0 + 5000), false);
    assert.equal(p.mayCampaign(0, { ...next, holder: undefined }, T0 + 5100), false);
    assert.equal(p.mayCampaign(0, { ...next, holder: undefined }, T0 + 5100 + tick), true);
    // A key seen again resets the wait.
    assert.equal(p.mayCampaign(0, { ...next, holder: 'B' }, T0 + 6000), false);
    assert.equal(p.mayCampaign(0, { ...next, holder: undefined }, T0 + 6100), false);
    // Shards are independent.
    assert.equal(p.mayCampaign(1, { ...old, holder: undefined }, T0 + 5100), false);
  });

  it('[coordination] is optional and validated with clear errors', () => {
    const none = parseConfigText(SHARD, 't.toml', {}, {});
    assert.deepEqual(none.coordination, { etcd: [], lease_ttl_ms: 2000, cluster: '' });
    const ok = parseConfigText(
      `${SHARD}[coordination]\netcd = ["http://127.0.0.1:2379"]\nlease_ttl_ms = 1000\ncluster = "c1"\n`,
      't.toml',
      {},
      {},
    );
    assert.deepEqual(ok.coordination, { etcd: ['http://127.0.0.1:2379'], lease_ttl_ms: 1000, cluster: 'c1' });
    try {
      parseConfigText(
        `${SHARD}[coordination]\netcd = ["127.0.0.1:2379", 5]\nlease_ttl_ms = 1500\ncluster = "a/b"\nttl = 1\n`,
        't.toml',
        {},
        {},
      );
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      const text = err.problems.join('\n');
      assert.match(text, /coordination\.etcd\[0\]: "127\.0\.0\.1:2379" is not an etcd client URL/);
      assert.match(text, /coordination\.etcd\[1\]: expected a URL string/);
      assert.match(text, /coordination\.lease_ttl_ms: etcd leases count whole seconds/);
      assert.match(text, /coordination\.cluster: "a\/b"/);
      assert.match(text, /coordination\.ttl: unknown setting/);
    }
  });
});

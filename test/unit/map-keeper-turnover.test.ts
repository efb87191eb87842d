/**
 * MapKeeper (src/server/map-keeper.ts) turning the hosted stores over when it adopts a map, over a
 * fake worker pool that records each `set-role` it is sent:
 *  - a store that failed to open is skipped, and the stores after it still turn over (before, its
 *    worker's UNAVAILABLE aborted the adoption half way: the stores after it kept their old roles,
 *    a demoted leader following nobody);
 *  - a failover that beats the restart epoch the old leader made alone (`mergedMap`) is adopted,
 *    and the old leader's store forks at the lower of both starts (before, both maps had one
 *    version and both nodes led the shard in one epoch), also when a newer map of the failover's
 *    line arrives first, whose history starts where the restart's did;
 *  - with etcd, a newer map from etcd that settles maps made apart from it (map-sync.ts) is taken
 *    as it is, forking the stores of the line that lost (before, only a successor was taken);
 *  - a map adopted while the node starts (before `attach`: its `/cluster` and `POST /_admin/map`
 *    answer then) turns the stores over at `attach` (before, they kept the roles of the map the
 *    plan was made from: a demoted leader went on leading, a replica pulled from a former leader).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvError } from '../../src/errors.js';
import { EPOCH_STRIDE } from '../../src/routing/epoch-numbers.js';
import { initialLiveMap, type LiveMap, promotedMap } from '../../src/routing/live-map.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import { planNode } from '../../src/server/node-plan.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import type { Fork, ToWorker } from '../../src/worker/messages.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';
/** FAILOVER_EPOCH is the epoch a failover to B from epoch 0 picks (B is the second member). */
const FAILOVER_EPOCH = EPOCH_STRIDE + 1;

/** hostA is a keeper and plan for node A leading two shards replicated on B, over a fake pool. */
function hostA(failed: ReadonlySet<number> = new Set(), attached = true) {
  const dir = tempDir(after);
  const config = parseConfigText(
    `[server]\ndata_dir = "${dir}"\n` +
      `[[shards]]\nname = "shard-0"\nidx = 0\nslots = "0-8191"\naddress = "${A}"\nreplicas = ["${B}"]\n` +
      `[[shards]]\nname = "shard-1"\nidx = 1\nslots = "8192-16383"\naddress = "${A}"\nreplicas = ["${B}"]\n`,
    't.toml',
    {},
    {},
  );
  const keeper = new MapKeeper(config, pino({ level: 'silent' }));
  const plan = planNode(config, [A], 1, false, keeper.shards());
  const roles: { store: number; role: string; fork: Fork | null }[] = [];
  const pool = {
    storeFailure: (i: number) =>
      failed.has(i) ? { code: 'STORAGE_ERROR', message: 'the store failed to open' } : undefined,
    call: (_worker: number, msg: ToWorker) => {
      if (msg.type === 'set-role') {
        if (failed.has(msg.store))
          return Promise.reject(
            new DistkvError('UNAVAILABLE', `store ${msg.store} is not open on this worker`),
          );
        roles.push({ store: msg.store, role: msg.spec.role, fork: msg.fork });
      }
      return Promise.resolve({ type: 'set-role-result', id: 0, ok: true });
    },
  } as unknown as WorkerPool;
  if (attached) keeper.attach(plan, pool);
  return {
    keeper,
    config,
    plan,
    roles,
    base: initialLiveMap(config.shards),
    attach: () => {
      keeper.attach(plan, pool);
    },
  };
}

describe('MapKeeper turning stores over', () => {
  it('turns the other stores over when one of them failed to open', async () => {
    const { keeper, plan, roles, base } = hostA(new Set([0]));
    const bothToB = promotedMap(promotedMap(base, 0, B, 1, 5), 1, B, 1, 7);
    assert.equal(await keeper.offer({ ...bothToB, version: 2 }, 'test'), true);
    assert.deepEqual(
      plan.stores.map((st) => st.role),
      ['replica', 'replica'],
    );
    assert.deepEqual(
      roles.map((r) => [r.store, r.role]),
      [[1, 'replica']],
      'store 1 was demoted although store 0 could not be',
    );
    assert.equal(keeper.current.version, 2);
  });

  it('takes a failover made while its leader restarted alone, and forks the old leader at the lower start', async () => {
    const { keeper, roles, base } = hostA();
    // A restarted after an unclean stop with no peer answering: it raised shard-0's epoch at 10.
    const restarted: LiveMap = restartedMap(base, new Map([[0, 10]]));
    assert.equal(await keeper.offer(restarted, 'restart'), true);
    roles.length = 0;
    // Meanwhile B was promoted by a forced failover at 8: the same version.
    const failedOver = promotedMap(base, 0, B, FAILOVER_EPOCH, 8);
    assert.equal(failedOver.version, restarted.version);
    assert.equal(await keeper.offer(failedOver, B), true, 'the failover beats the restart');
    assert.deepEqual(keeper.current.shards, failedOver.shards);
    assert.equal(keeper.current.version, 3);
    assert.deepEqual(roles, [{ store: 0, role: 'replica', fork: { epoch: FAILOVER_EPOCH, seq: 8 } }]);
  });

  it('forks the old leader when a newer map of the failover line starts where its restart did', async () => {
    const { keeper, roles, base } = hostA();
    // A recovered 8 records and restarted alone: a new epoch from seq 9, as B's failover at 8.
    assert.equal(await keeper.offer(restartedMap(base, new Map([[0, 8]])), 'restart'), true);
    roles.length = 0;
    // B's line moved on (version 3) before A heard of it.
    const failedOver = { ...promotedMap(base, 0, B, FAILOVER_EPOCH, 8), version: 3 };
    assert.equal(await keeper.offer(failedOver, B), true);
    assert.deepEqual(keeper.current.shards, failedOver.shards);
    assert.equal(keeper.current.version, 4);
    // Before, with both epochs numbered 1, the failover's entry passed as A's own history: A
    // followed B keeping its records from seq 9.
    assert.deepEqual(roles, [{ store: 0, role: 'replica', fork: { epoch: FAILOVER_EPOCH, seq: 8 } }]);
  });

  it("with etcd, takes etcd's merge of maps made apart from it, and forks the line that lost", async () => {
    const { keeper, roles, base } = hostA();
    keeper.coordinate({ mayWrite: () => true, publish: (m) => Promise.resolve(m), handsOver: () => false });
    // A's restart epoch and B's failover, made apart from etcd (it lost its data), at one version;
    // a node wrote their merge to etcd (src/coordination/map-sync.ts), version 3.
    assert.equal(await keeper.offer(restartedMap(base, new Map([[0, 10]])), 'etcd'), true);
    roles.length = 0;
    const merged = { ...promotedMap(base, 0, B, FAILOVER_EPOCH, 8), version: 3 };
    // Before, a newer map from etcd had to be a successor: refused, A kept leading shard-0.
    assert.equal(await keeper.offer(merged, 'etcd'), true);
    assert.deepEqual(keeper.current, merged, "etcd's map is taken as it is");
    assert.deepEqual(roles, [{ store: 0, role: 'replica', fork: { epoch: FAILOVER_EPOCH, seq: 8 } }]);
    // A newer etcd map that is no successor and no such merge is still refused.
    const rewritten = {
      ...merged,
      version: 4,
      shards: merged.shards.map((s) => ({ ...s, history: s.history.map((h) => ({ ...h, firstSeq: 2 })) })),
    };
    await assert.rejects(keeper.offer(rewritten, 'etcd'), /keep the current one's entries/);
  });

  it('turns the stores over at attach to a map adopted while the node started', async () => {
    const { keeper, plan, roles, base, attach } = hostA(new Set(), false);
    const toB = { ...promotedMap(base, 0, B, FAILOVER_EPOCH, 5), version: 2 };
    assert.equal(await keeper.offer(toB, B), true, 'adopted before attach');
    assert.deepEqual(roles, [], 'no worker to tell yet');
    attach();
    assert.equal(keeper.writesFenced(0), true, 'writes to the moved shard wait for the turnover');
    await keeper.settled();
    assert.deepEqual(
      plan.stores.map((st) => st.role),
      ['replica', 'leader'],
    );
    assert.deepEqual(roles, [{ store: 0, role: 'replica', fork: { epoch: FAILOVER_EPOCH, seq: 5 } }]);
    assert.equal(keeper.writesFenced(0), false, 'released once turned over');
    assert.equal(keeper.writesFenced(1), false);
  });
});

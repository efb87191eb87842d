/**
 * The etcd cluster check (src/coordination/etcd-cluster-check.ts, etcd-cluster-guard.ts,
 * src/cli/cluster-etcd.ts): which nodes take part in coordination when peers name another etcd
 * cluster, what `/cluster` answers are read as, and what `distkv cluster` says. A seeded random
 * check: whatever each node knows of the others, two nodes that see a split on different etcd
 * clusters never both take part.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { differentEtcdProblem } from '../../src/cli/cluster-etcd.js';
import {
  clusterIdText,
  coordinationDoc,
  type EtcdIdentity,
  etcdOfDoc,
  etcdPendingOfDoc,
  etcdSplit,
} from '../../src/coordination/etcd-cluster-check.js';
import {
  EtcdClusterGuard,
  type PeerOfCoordinator,
  START_HOLD_TTLS,
} from '../../src/coordination/etcd-cluster-guard.js';

const X: EtcdIdentity = { id: 'aaaa', etcd: ['http://10.0.0.9:2379'] };
const Y: EtcdIdentity = { id: 'bbbb', etcd: ['http://127.0.0.1:2379'] };

describe('etcdSplit', () => {
  it('finds no split while no peer names another etcd cluster (unknown peers count for nobody)', () => {
    assert.deepEqual(
      etcdSplit(
        X,
        ['a'],
        [
          { address: 'b', etcd: X },
          { address: 'c', etcd: undefined },
        ],
      ),
      { kind: 'same' },
    );
  });

  it('lets the majority side go on and stands the odd member aside, naming both clusters', () => {
    const fromA = etcdSplit(
      X,
      ['a'],
      [
        { address: 'b', etcd: X },
        { address: 'c', etcd: Y },
      ],
    );
    assert.ok(fromA.kind === 'split');
    assert.equal(fromA.takesPart, true);
    const fromC = etcdSplit(
      Y,
      ['c'],
      [
        { address: 'a', etcd: X },
        { address: 'b', etcd: X },
      ],
    );
    assert.ok(fromC.kind === 'split');
    assert.equal(fromC.takesPart, false);
    assert.deepEqual(
      fromC.others.map((o) => o.address),
      ['a', 'b'],
    );
    for (const text of ['aaaa', 'bbbb', 'http://10.0.0.9:2379', 'http://127.0.0.1:2379', 'takes no part'])
      assert.ok(fromC.message.includes(text), `${text} in: ${fromC.message}`);
  });

  it('stands every node aside when no etcd cluster has a strict majority (each host its own etcd; a tie of two)', () => {
    const Z: EtcdIdentity = { id: 'cccc', etcd: ['http://127.0.0.1:2379'] };
    const each = etcdSplit(
      X,
      ['a'],
      [
        { address: 'b', etcd: Y },
        { address: 'c', etcd: Z },
      ],
    );
    assert.ok(each.kind === 'split' && !each.takesPart);
    const tie = etcdSplit(X, ['a'], [{ address: 'b', etcd: Y }]);
    assert.ok(tie.kind === 'split' && !tie.takesPart);
    // A member down (unknown) does not count for this side: 1 of 3 known here.
    const down = etcdSplit(
      X,
      ['a'],
      [
        { address: 'b', etcd: undefined },
        { address: 'c', etcd: Y },
      ],
    );
    assert.ok(down.kind === 'split' && !down.takesPart);
  });

  it('counts every node hosted in this process on its etcd cluster', () => {
    const s = etcdSplit(X, ['a1', 'a2'], [{ address: 'c', etcd: Y }]);
    assert.ok(s.kind === 'split' && s.takesPart);
  });

  it('never lets two nodes on different etcd clusters that see the split both take part (seeded random views)', () => {
    const seed = Number(process.env.SEED ?? 68);
    let state = seed;
    const rand = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    for (let round = 0; round < 2000; round++) {
      const n = 1 + rand(7);
      const clusters = 1 + rand(3);
      const truth = Array.from({ length: n }, () => ({ id: `e${rand(clusters)}`, etcd: [] }));
      // Each node knows each peer's true cluster, or nothing of it (down, starting, never answered).
      const verdicts = truth.map((mine, i) =>
        etcdSplit(
          mine,
          [`n${i}`],
          truth.flatMap((e, j) =>
            j === i ? [] : [{ address: `n${j}`, etcd: rand(3) === 0 ? undefined : e }],
          ),
        ),
      );
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          const [a, b] = [verdicts[i]!, verdicts[j]!];
          if (truth[i]!.id === truth[j]!.id || a.kind !== 'split' || b.kind !== 'split') continue;
          assert.ok(
            !(a.takesPart && b.takesPart),
            `seed ${seed} round ${round}: n${i} and n${j} both take part`,
          );
        }
    }
  });
});

describe('reading a /cluster answer', () => {
  it('reads a peer etcd cluster id and endpoints, bounded, and tells a starting peer from an older one', () => {
    assert.equal(clusterIdText('14841639068965178418'), 'cdf818194e3a8c32');
    assert.deepEqual(etcdOfDoc({ coordination: { etcd_cluster_id: 'ab', etcd: ['http://h:1', 7] } }), {
      id: 'ab',
      etcd: ['http://h:1'],
    });
    assert.equal(etcdOfDoc({ coordination: { lease_ttl_ms: 1000 } }), undefined);
    assert.equal(etcdOfDoc(null), undefined);
    assert.equal(etcdOfDoc({ coordination: { etcd_cluster_id: 5 } }), undefined);
    assert.equal(etcdOfDoc({ coordination: { etcd_cluster_id: 'x'.repeat(5000) } })?.id.length, 256);
    assert.equal(etcdPendingOfDoc({ coordination: { lease_ttl_ms: 1000, etcd: ['http://h:1'] } }), true);
    assert.equal(etcdPendingOfDoc({ coordination: { lease_ttl_ms: 1000 } }), false, 'an older node');
    assert.equal(etcdPendingOfDoc({ coordination: { etcd: [], etcd_cluster_id: 'ab' } }), false);
  });

  it('shows no password of an etcd endpoint in /cluster', () => {
    const doc = coordinationDoc(1000, ['http://user:secret@10.0.0.9:2379'], undefined);
    assert.deepEqual(doc, { lease_ttl_ms: 1000, etcd: ['http://10.0.0.9:2379'] });
  });
});

describe('EtcdClusterGuard', () => {
  it('asks the peers once its etcd cluster id is known, stands aside in the minority, logs each change once', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    let view: PeerOfCoordinator[] = [{ address: 'a', state: 'agrees', etcd_pending: true }];
    let asks = 0;
    const guard = new EtcdClusterGuard(
      ['http://127.0.0.1:2379'],
      ['c'],
      () => view,
      () => {
        asks++;
        return Promise.resolve();
      },
      log,
      60000,
    );
    assert.equal(await guard.standsAside(undefined), false);
    assert.equal(asks, 0, 'no id yet: nothing asked');
    assert.equal(await guard.standsAside('3054'), false);
    assert.equal(asks, 1);
    assert.deepEqual(guard.waitsFor(), ['a'], 'a starting peer holds campaigns back');
    view = [
      { address: 'a', state: 'agrees', etcd_cluster_id: 'aaaa', etcd: ['http://10.0.0.9:2379'] },
      { address: 'b', state: 'unreachable', etcd_cluster_id: 'aaaa', etcd: ['http://10.0.0.9:2379'] },
    ];
    assert.equal(await guard.standsAside('3054'), true);
    assert.equal(await guard.standsAside('3054'), true);
    assert.equal(asks, 1, 'asked once');
    assert.deepEqual(guard.waitsFor(), []);
    assert.match(guard.refusal() ?? '', /etcd cluster bee \(http:\/\/127\.0\.0\.1:2379\)/);
    const errors = lines.filter((l) => l.includes('MEMBERS USE DIFFERENT ETCD CLUSTERS'));
    assert.equal(errors.length, 1, 'logged once while it lasts');
    view = [{ address: 'a', state: 'agrees', etcd_cluster_id: 'bee', etcd: ['http://127.0.0.1:2379'] }];
    assert.equal(await guard.standsAside('3054'), false);
    assert.equal(guard.refusal(), undefined);
    assert.ok(lines.some((l) => l.includes('takes part in coordination again')));
  });
});

describe('EtcdClusterGuard after its start', () => {
  it('lets a peer that is still starting hold campaigns back only for START_HOLD_TTLS TTLs after its own first read', async () => {
    const log = pino({ level: 'silent' });
    const view: PeerOfCoordinator[] = [{ address: 'a', state: 'agrees', etcd_pending: true }];
    const ttlMs = 10;
    const guard = new EtcdClusterGuard(
      [],
      ['c'],
      () => view,
      () => Promise.resolve(),
      log,
      ttlMs,
    );
    await guard.standsAside('1');
    assert.deepEqual(guard.waitsFor(), ['a']);
    await new Promise((r) => setTimeout(r, START_HOLD_TTLS * ttlMs + 20));
    await guard.standsAside('1');
    assert.deepEqual(guard.waitsFor(), [], 'a peer replaying its log for long holds no failover back');
  });
});

describe('distkv cluster: members on different etcd clusters', () => {
  const doc = (
    node: string,
    id?: string,
    others: { node: string; etcd_cluster_id: string; etcd: string[] }[] = [],
  ) => ({
    node,
    hosted_nodes: [node],
    coordination: {
      lease_ttl_ms: 1000,
      etcd: ['http://e:2379'],
      ...(id === undefined ? {} : { etcd_cluster_id: id }),
      ...(others.length === 0
        ? {}
        : { different_etcd_clusters: { takes_part: true, message: '', nodes: others } }),
    },
  });

  it('says nothing while the nodes that answer name one etcd cluster', () => {
    assert.equal(differentEtcdProblem([doc('a', 'aaaa'), doc('b', 'aaaa'), doc('c')]), undefined);
  });

  it('names each etcd cluster and its nodes, the majority first, and a silent node by its peers word', () => {
    const line = differentEtcdProblem([
      doc('b', 'aaaa'),
      doc('a', 'aaaa', [{ node: 'c', etcd_cluster_id: 'bbbb', etcd: ['http://127.0.0.1:2379'] }]),
    ]);
    assert.ok(line !== undefined);
    assert.match(
      line,
      /^members use different etcd clusters: a, b on etcd cluster aaaa \(http:\/\/e:2379\); c on etcd cluster bbbb \(http:\/\/127\.0\.0\.1:2379\)/,
    );
  });
});

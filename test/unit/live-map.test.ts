import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load-config.js';
import { DistkvError } from '../../src/errors.js';
import {
  checkSuccessor,
  forkSeq,
  initialLiveMap,
  type LiveMap,
  liveShardInfos,
  parseLiveMap,
  promotedMap,
} from '../../src/routing/live-map.js';
import { LIVE_MAP_FILE, loadLiveMap, saveLiveMap } from '../../src/server/live-map-file.js';
import { applyLeaders, planNode, selectNodes } from '../../src/server/node-plan.js';

const seed = loadConfig(fileURLToPath(new URL('../../../config/sharding.toml', import.meta.url)), {}, {});
const dflt = loadConfig(fileURLToPath(new URL('../../../config/default.toml', import.meta.url)), {}, {});

/** moved returns `map` with shard `idx` led by `to` in the next epoch, starting at `firstSeq`. */
function moved(map: LiveMap, idx: number, to: string, firstSeq: number): LiveMap {
  const epoch = (map.shards.find((s) => s.idx === idx)?.epoch ?? 0) + 1;
  return promotedMap(map, idx, to, epoch, firstSeq - 1);
}

describe('live map', () => {
  it('starts as the config: version 1, epoch 0, the configured leaders', () => {
    const m = initialLiveMap(seed.shards);
    assert.equal(m.version, 1);
    assert.deepEqual(
      m.shards.map((s) => [s.leader, s.epoch]),
      seed.shards.map((s) => [s.address, 0]),
    );
    assert.deepEqual(liveShardInfos(seed.shards, m), seed.shards);
  });

  it('accepts a leader moved to one of its replicas and routes with it', () => {
    const m0 = initialLiveMap(seed.shards);
    const to = seed.shards[0]!.replicas[0]!;
    const m1 = parseLiveMap(JSON.parse(JSON.stringify(moved(m0, 0, to, 11))), seed.shards);
    checkSuccessor(m0, m1);
    const infos = liveShardInfos(seed.shards, m1);
    assert.equal(infos[0]!.address, to);
    assert.ok(infos[0]!.replicas.includes(seed.shards[0]!.address));
    assert.deepEqual(infos[0]!.slots, seed.shards[0]!.slots, 'slots never move');
  });

  it('reports every problem of a bad map at once', () => {
    const m = initialLiveMap(seed.shards) as unknown as { shards: Record<string, unknown>[] };
    m.shards[0]!.leader = '10.0.0.1:1';
    m.shards[1]!.epoch = -1;
    m.shards[2]!.name = 'other';
    m.shards[3]!.history = [{ epoch: 1 }];
    (m as { version?: unknown }).version = 0;
    const err = (() => {
      try {
        parseLiveMap(m, seed.shards);
      } catch (e) {
        return e as DistkvError;
      }
      return undefined;
    })();
    assert.ok(err instanceof DistkvError);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    for (const part of [
      'version',
      'shards[idx=0].leader',
      'shards[idx=1].epoch',
      'shards[idx=2].name',
      'shards[idx=3].history',
    ])
      assert.ok(err.message.includes(part), `${part} in: ${err.message}`);
  });

  it('refuses a map that adds a member, drops one, or lists the leader as a replica', () => {
    const m = initialLiveMap(seed.shards);
    const s0 = seed.shards[0]!;
    const bad = (replicas: string[]) => ({
      ...m,
      shards: m.shards.map((s) => (s.idx === 0 ? { ...s, replicas } : s)),
    });
    assert.throws(
      () => parseLiveMap(bad([...s0.replicas, '127.0.0.99:8080']), seed.shards),
      /configured members/,
    );
    assert.throws(() => parseLiveMap(bad(s0.replicas.slice(1)), seed.shards), /configured members/);
    assert.throws(
      () => parseLiveMap(bad([s0.address, ...s0.replicas.slice(1)]), seed.shards),
      /configured members/,
    );
  });

  it('refuses a successor that is not newer, lowers an epoch, or moves a leader within its epoch', () => {
    const m0 = initialLiveMap(seed.shards);
    const m1 = moved(m0, 0, seed.shards[0]!.replicas[0]!, 5);
    assert.throws(() => {
      checkSuccessor(m1, { ...m1 });
    }, /not above/);
    assert.throws(() => {
      checkSuccessor(m1, { ...m0, version: 9 });
    }, /below the current/);
    const sameEpoch = {
      ...m1,
      version: 3,
      shards: m1.shards.map((s) =>
        s.idx === 0 ? { ...s, leader: seed.shards[0]!.address, replicas: [...seed.shards[0]!.replicas] } : s,
      ),
    };
    assert.throws(() => {
      checkSuccessor(m1, sameEpoch);
    }, /epoch above/);
  });

  it("refuses a successor that rewrites a shard's history or raises its epoch without a start", () => {
    const m0 = initialLiveMap(seed.shards);
    const m1 = moved(m0, 0, seed.shards[0]!.replicas[0]!, 5);
    const withShard0 = (m: LiveMap, change: Partial<LiveMap['shards'][number]>): LiveMap => ({
      ...m,
      version: m.version + 1,
      shards: m.shards.map((s) => (s.idx === 0 ? { ...s, ...change } : s)),
    });
    // A new leader in a higher epoch that does not say where it starts: no replica would find a fork.
    assert.throws(() => {
      checkSuccessor(
        m1,
        withShard0(m1, {
          leader: seed.shards[0]!.address,
          replicas: [...seed.shards[0]!.replicas],
          epoch: 2,
        }),
      );
    }, /epoch 2 needs its start/);
    // The same epoch with its start moved, or an earlier epoch dropped.
    assert.throws(() => {
      checkSuccessor(m1, withShard0(m1, { history: [{ epoch: 1, firstSeq: 9 }] }));
    }, /keep the current one's entries/);
    const m2 = moved(m1, 0, seed.shards[0]!.address, 8);
    assert.throws(() => {
      checkSuccessor(m2, withShard0(m2, { epoch: 3, history: [{ epoch: 3, firstSeq: 12 }] }));
    }, /keep the current one's entries/);
    assert.throws(() => {
      checkSuccessor(m1, withShard0(m1, { history: [...m1.shards[0]!.history, { epoch: 1, firstSeq: 7 }] }));
    }, /may grow only with the epoch/);
    // A node that missed a map adopts the one after it: two epochs more, both started.
    checkSuccessor(m0, { ...m2, version: m2.version });
    checkSuccessor(m1, m2);
  });

  it('finds the fork point of a store from the first epoch after the one it knew', () => {
    const m0 = initialLiveMap(seed.shards);
    const m2 = moved(moved(m0, 0, seed.shards[0]!.replicas[0]!, 101), 0, seed.shards[0]!.address, 251);
    const s = m2.shards[0]!;
    assert.equal(forkSeq(s, 0), 100, 'a store of epoch 0 is cut above the first promotion');
    assert.equal(forkSeq(s, 1), 250);
    assert.equal(forkSeq(s, 2), undefined, 'a store of the current epoch has nothing to cut');
  });

  it('persists atomically and ignores a file that no longer fits the config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-live-map-'));
    try {
      assert.equal(loadLiveMap(dir, seed.shards).version, 1, 'no file: the config');
      const m1 = moved(initialLiveMap(seed.shards), 1, seed.shards[1]!.replicas[0]!, 7);
      saveLiveMap(dir, m1);
      assert.deepEqual(loadLiveMap(dir, seed.shards), m1);
      assert.equal(loadLiveMap(dir, dflt.shards).version, 1, 'another config: its own initial map');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Saves are atomic, so a damaged file comes from the disk or a hand edit. Before, it fell back to
  // the config's leaders like a file of another config: stale after a failover, so a node whose file
  // was damaged could lead a shard another node leads now.
  it("refuses a damaged live map file of this config instead of starting from the config's leaders", () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-live-map-'));
    const file = join(dir, LIVE_MAP_FILE);
    const refused = (what: RegExp) => (err: Error & { code?: string }) =>
      err.code === 'CORRUPTION' &&
      err.message.includes(file) &&
      what.test(err.message) &&
      /distkv map fetch --from PEER --config FILE .*FILE: this node's own sharding\.toml/.test(err.message);
    try {
      const m1 = moved(initialLiveMap(seed.shards), 1, seed.shards[1]!.replicas[0]!, 7);
      saveLiveMap(dir, m1);
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.slice(0, 20));
      assert.throws(() => loadLiveMap(dir, seed.shards), refused(/not valid JSON/), 'torn');
      writeFileSync(file, '');
      assert.throws(() => loadLiveMap(dir, seed.shards), refused(/not valid JSON/), 'empty');
      writeFileSync(file, JSON.stringify({ ...m1, version: 0 }));
      assert.throws(() => loadLiveMap(dir, seed.shards), refused(/version must be/), 'a bad field');
      const shuffled = {
        ...m1.shards[1]!,
        epoch: 2,
        history: [
          { epoch: 2, firstSeq: 9 },
          { epoch: 1, firstSeq: 7 },
        ],
      };
      writeFileSync(
        file,
        JSON.stringify({ ...m1, shards: m1.shards.map((s) => (s.idx === 1 ? shuffled : s)) }),
      );
      assert.throws(() => loadLiveMap(dir, seed.shards), refused(/rising order/), 'history out of order');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a map whose history is out of order or does not end with its epoch', () => {
    const m1 = moved(
      moved(initialLiveMap(seed.shards), 0, seed.shards[0]!.replicas[0]!, 5),
      0,
      seed.shards[0]!.address,
      9,
    );
    const withHistory = (epoch: number, history: unknown[]): unknown =>
      JSON.parse(
        JSON.stringify({ ...m1, shards: m1.shards.map((s) => (s.idx === 0 ? { ...s, epoch, history } : s)) }),
      );
    assert.equal(parseLiveMap(withHistory(2, m1.shards[0]!.history), seed.shards).shards[0]!.epoch, 2);
    const bad: [number, unknown[], RegExp][] = [
      [
        2,
        [
          { epoch: 2, firstSeq: 9 },
          { epoch: 1, firstSeq: 5 },
        ],
        /entry 1 has epoch 1 after 2/,
      ],
      [
        2,
        [
          { epoch: 1, firstSeq: 5 },
          { epoch: 1, firstSeq: 9 },
        ],
        /entry 1 has epoch 1 after 1/,
      ],
      [
        2,
        [
          { epoch: 0, firstSeq: 5 },
          { epoch: 2, firstSeq: 9 },
        ],
        /entry 0 has epoch 0 after 0/,
      ],
      [
        2,
        [
          { epoch: 1, firstSeq: 5 },
          { epoch: 3, firstSeq: 9 },
        ],
        /must end with the shard's epoch 2/,
      ],
      [
        3,
        [
          { epoch: 1, firstSeq: 5 },
          { epoch: 2, firstSeq: 9 },
        ],
        /must end with the shard's epoch 3/,
      ],
      // A non-zero epoch without its start: every key version's epoch would read as 0 and no
      // store would find its fork (no map this code made since histories came has one).
      [2, [], /is empty, but epoch 2 needs its start/],
    ];
    for (const [epoch, history, what] of bad)
      assert.throws(
        () => parseLiveMap(withHistory(epoch, history), seed.shards),
        (err: Error & { code?: string }) =>
          err.code === 'INVALID_ARGUMENT' &&
          /shards\[idx=0\]\.history/.test(err.message) &&
          what.test(err.message),
        JSON.stringify(history),
      );
  });

  it('refuses an epoch or floor above u32, which no log frame, WAL header or version can hold', () => {
    const m = moved(initialLiveMap(seed.shards), 0, seed.shards[0]!.replicas[0]!, 5);
    const doc = (patch: object): unknown =>
      JSON.parse(
        JSON.stringify({ ...m, shards: m.shards.map((s) => (s.idx === 0 ? { ...s, ...patch } : s)) }),
      );
    const big = 2 ** 32;
    for (const [patch, what] of [
      [{ epoch: big, history: [{ epoch: big, firstSeq: 5 }] }, /epoch must be an integer 0\.\.4294967295/],
      [{ floor: big }, /floor must be an integer 0\.\.4294967295/],
    ] as const)
      assert.throws(
        () => parseLiveMap(doc(patch), seed.shards),
        (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && what.test(err.message),
      );
    assert.equal(parseLiveMap(doc({ floor: 70 }), seed.shards).shards[0]!.floor, 70);
  });

  it("refuses a live map file it cannot read instead of starting from the config's leaders", () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-live-map-'));
    try {
      mkdirSync(join(dir, LIVE_MAP_FILE)); // read fails with EISDIR, as a file it may not read would
      assert.throws(
        () => loadLiveMap(dir, seed.shards),
        (err: Error & { code?: string }) =>
          err.code === 'CONFIG_INVALID' && err.message.includes(join(dir, LIVE_MAP_FILE)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns stores over in place: same index, worker and directory; routing follows', () => {
    const nodes = selectNodes(dflt, ['127.0.0.1:8080', '127.0.0.1:8081']);
    const plan = planNode(dflt, nodes, 2);
    const before = plan.stores.map((st) => ({
      index: st.index,
      worker: st.worker,
      dir: st.dir,
      role: st.role,
    }));
    const m1 = moved(initialLiveMap(dflt.shards), 2, '127.0.0.1:8081', 1);
    const changes = applyLeaders(plan, dflt, liveShardInfos(dflt.shards, m1));
    assert.deepEqual(changes.map((c) => [c.spec.node, c.from, c.spec.role]).sort(), [
      ['127.0.0.1:8080', 'leader', 'replica'],
      ['127.0.0.1:8081', 'replica', 'leader'],
    ]);
    assert.deepEqual(
      plan.stores.map((st) => ({ index: st.index, worker: st.worker, dir: st.dir })),
      before.map(({ index, worker, dir }) => ({ index, worker, dir })),
    );
    const demoted = plan.stores.find((st) => st.shard.idx === 2 && st.node === '127.0.0.1:8080')!;
    assert.equal(demoted.replication?.leaderAddress, '127.0.0.1:8081');
    assert.equal(demoted.rings, undefined, 'rings only run in the planned direction');
    for (const l of plan.listeners) {
      const w = l.writes[2]!;
      assert.ok(
        w.local && w.role === 'leader' && w.store !== demoted.index,
        `${l.address} writes shard 2 to the new leader`,
      );
    }
    assert.deepEqual(
      applyLeaders(plan, dflt, liveShardInfos(dflt.shards, m1)),
      [],
      'applying it again changes nothing',
    );
  });
});

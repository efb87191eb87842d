/**
 * A failover of one shard goes on over a map that another shard's failover published meanwhile
 * (docs/failover.md, "Who holds a shard"; src/cli/failover-rebase.ts, MapKeeper.propose): a post
 * answered with a newer map that changed only other shards is rebuilt on it and posted again
 * (bounded), one answered with a map that changed the shard itself is left for the command to
 * refuse; and a node refuses a proposed map only for the shards it moves, not for an entry older
 * than its own (another shard, moved here first by a failover that still claims it). Before, both
 * stopped the second of two failovers of different shards with MAP_CHANGED
 * (test/e2e/failover-other-shard.test.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { MAX_REBASES, othersOnly, postRebasing } from '../../src/cli/failover-rebase.js';
import { parseConfigText } from '../../src/config/load-config.js';
import { DistkvError } from '../../src/errors.js';
import { nextEpoch } from '../../src/routing/epoch-numbers.js';
import { type LiveMap, promotedMap } from '../../src/routing/live-map.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';

/** keeper is a node's MapKeeper (not attached) for two shards: shard-0 led by A, shard-1 by B, each the other's replica. */
function keeper(): MapKeeper {
  const shard = (i: number, leader: string, replica: string): string =>
    `[[shards]]\nname = "shard-${String(i)}"\nidx = ${String(i)}\naddress = "${leader}"\nreplicas = ["${replica}"]\n`;
  const config = parseConfigText(
    `[server]\ndata_dir = "${tempDir(after)}"\n${shard(0, A, B)}${shard(1, B, A)}`,
    't.toml',
    {},
    {},
  );
  return new MapKeeper(config, pino({ level: 'silent' }));
}

/** moved is `base` with shard `idx` led by `to` in its next epoch, history starting after `seq`. */
function moved(base: LiveMap, idx: number, to: string, seq = 10): LiveMap {
  const s = base.shards.find((x) => x.idx === idx)!;
  return promotedMap(base, idx, to, nextEpoch(s, to), seq);
}

const refused = (err: unknown): boolean => err instanceof DistkvError && err.code === 'MAP_CHANGED';
const never = (): void => {
  assert.fail('the hold did not run out');
};

describe("a failover's map over another shard's change", () => {
  it('is rebuilt on a newer map that changed only other shards, and posted again', async () => {
    const base = keeper().current;
    const theirs = moved(base, 1, A);
    const build = (b: LiveMap): LiveMap => moved(b, 0, B);
    const posted: LiveMap[] = [];
    const r = await postRebasing(
      (map) => {
        posted.push(map);
        // The member holds the other failover's map until given one built on it.
        return Promise.resolve(map.version > theirs.version ? map : theirs);
      },
      { next: build(base), base },
      0,
      build,
      (held, next) => held.version >= next.version && held.shards[0]!.leader === B,
    );
    assert.equal(posted.length, 2);
    assert.equal(r.next.version, theirs.version + 1);
    assert.deepEqual(r.next.shards[1], theirs.shards[1], "the other shard's change is kept");
    assert.equal(r.next.shards[0]!.leader, B);
    assert.deepEqual(r.held, r.next);
    assert.ok(othersOnly(r.base, base, 0));
  });

  it('is not rebuilt on a map that changed its own shard (the command refuses it)', async () => {
    const base = keeper().current;
    const theirs = moved(base, 0, B);
    const build = (b: LiveMap): LiveMap => moved(b, 0, B, 20);
    let posts = 0;
    const r = await postRebasing(
      () => {
        posts++;
        return Promise.resolve(theirs);
      },
      { next: build(base), base },
      0,
      build,
      () => false,
    );
    assert.equal(posts, 1);
    assert.equal(r.held, theirs);
    assert.ok(!othersOnly(theirs, base, 0));
  });

  it('is posted at most MAX_REBASES + 1 times', async () => {
    const base = keeper().current;
    let newest = base;
    let posts = 0;
    const build = (b: LiveMap): LiveMap => moved(b, 0, B);
    await postRebasing(
      () => {
        posts++;
        // Another shard changes again before each post lands.
        newest = { ...moved(newest, 1, newest.shards[1]!.leader === A ? B : A), version: newest.version + 2 };
        return Promise.resolve(newest);
      },
      { next: build(base), base },
      0,
      build,
      () => false,
    );
    assert.equal(posts, MAX_REBASES + 1);
  });
});

describe("a node offered a map while another shard's failover claims here", () => {
  it("adopts it when it holds that shard's entry older than the node's (moves nothing there)", async () => {
    const k = keeper();
    const base = k.current;
    // Failover y moved shard-1 here and still holds its writes here (its claim).
    k.fence(1, true, 60000, never, 'y');
    assert.ok(await k.propose(moved(base, 1, A), 'y', 'y'));
    // Failover x of shard-0 started from `base`: its map names shard-1 as it was.
    assert.ok(await k.propose(moved(base, 0, B), 'x', 'x'));
    assert.equal(k.current.shards[0]!.leader, B, "x's change");
    assert.equal(k.current.shards[1]!.leader, A, "y's change kept");
    k.fence(1, false, 60000, never);
  });

  it('still refuses a map that moves the claimed shard', async () => {
    const k = keeper();
    k.fence(1, true, 60000, never, 'y');
    await assert.rejects(k.propose(moved(k.current, 1, A), 'x', 'x'), refused);
    assert.equal(k.current.version, 1, 'nothing adopted');
    k.fence(1, false, 60000, never);
  });
});

/**
 * Review of MapKeeper.propose's new skip (src/server/map-keeper.ts: "an entry with a lower epoch
 * than the node's moves nothing"). Without a coordinator the adoption merges maps made apart
 * (map-merge.ts), and a change of leader beats restart epochs whatever their numbers: an entry with
 * a LOWER epoch than the node's does move the shard when the node's newer epochs are only restarts
 * of its leader (`changeBeatsRestart`). Such a map is no longer checked against the claim of the
 * failover that holds the shard here, so it moves the claimed shard, which propose promises never
 * to do ("that failover decides, this one changed nothing").
 *
 * Setting: shard-0's leader A crashed; a forced failover to B (epoch 65) was made while A was down;
 * A restarted alone twice after unclean stops (epochs 64, 128, restarts). An operator's failover
 * `c` of shard-0 now holds A's writes (its claim). A failover `p` of shard-1, whose base came from a
 * node that took the forced failover's map, posts its map to A.
 */
describe('a proposed map whose entry is older than the node’s but beats its restart epochs', () => {
  it('is refused while another failover claims that shard here', async () => {
    const k = keeper();
    const base = k.current;
    // A restarted alone twice after unclean stops: restart epochs 64 then 128.
    const once = restartedMap(base, new Map([[0, 10]]));
    assert.ok(await k.offer(once, 'restart'));
    const twice = restartedMap(k.current, new Map([[0, 12]]));
    assert.ok(await k.offer(twice, 'restart'));
    const mine = k.current.shards[0]!;
    // The forced failover to B made while A was down, from the base map.
    const forced = moved(base, 0, B, 10);
    assert.ok(forced.shards[0]!.epoch < mine.epoch, 'the forced entry has the lower epoch');
    // Failover c of shard-0 holds A's writes here.
    k.fence(0, true, 60000, never, 'c');
    // Failover p of shard-1, built on the forced failover's map.
    const p = moved(forced, 1, A, 20);
    let outcome: unknown;
    try {
      outcome = await k.propose(p, 'p', 'p');
    } catch (err) {
      outcome = err;
    }
    k.fence(0, false, 60000, never);
    const leader = k.current.shards[0]!.leader;
    assert.ok(
      outcome instanceof DistkvError && outcome.code === 'MAP_CHANGED',
      `p's map was not refused (${outcome instanceof Error ? outcome.message : String(outcome)}); shard-0, claimed by c here, is now led by ${leader} (it was ${A})`,
    );
    assert.equal(leader, A, 'shard-0 not moved under c’s claim');
  });
});

/**
 * A pull's claim alone holds no shard (src/server/behind-leaders.ts, `pulled`): a leader that
 * started behind and hears from a pull that a replica holds more fences its writes, asks the
 * replica's node (a fake here) and holds the shard only on its word, at the position it shows. Not
 * confirmed (no answer, less, a failed store here): the fence is released, the shard served, that
 * pull alone refused (LEADER_BEHIND, never REPLICA_AHEAD), and the shard's next claims go
 * unchecked for a doubling back-off; one check per shard is in flight. A replica hosted in this
 * process is read here; with a node token a pull is trusted as before. The e2e side, a forged pull
 * to a spawned node: test/e2e/behind-forged-pull.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import type { Confirmation } from '../../src/server/behind-confirm.js';
import { positionIn } from '../../src/server/behind-confirm.js';
import { BehindLeaders, CLAIM_BACKOFF_MS, type BehindOptions } from '../../src/server/behind-leaders.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { CallMessage } from '../../src/server/worker-pool.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';
const FROM = '203.0.113.9:40000';

/** Asks is a fake replica node: each ask waits for the test to answer it. */
class Asks {
  readonly pending: {
    address: string;
    idx: number;
    answer: (c: Confirmation) => void;
    fail: (e: Error) => void;
  }[] = [];

  ask = (address: string, idx: number): Promise<Confirmation> =>
    new Promise((answer, fail) => {
      this.pending.push({ address, idx, answer, fail });
    });

  /** fail fails the oldest ask with `e`. */
  fail(e: Error): void {
    const a = this.pending.shift();
    assert.ok(a !== undefined, 'an ask is pending');
    a.fail(e);
  }

  /** answer answers the oldest ask with `c`. */
  answer(c: Confirmation): void {
    const a = this.pending.shift();
    assert.ok(a !== undefined, 'an ask is pending');
    a.answer(c);
  }
}

/**
 * setup is a keeper where A leads shard-0 with replica B, A's store watched as one that started
 * empty, a fake pool (store 0: A's, store 1: B's when `hostB`) and the fake node asks.
 */
function setup(options: Omit<BehindOptions, 'ask' | 'now'> = {}, hostB = false) {
  const config = parseConfigText(
    `[server]\ndata_dir = "${tempDir(after)}"\n[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${A}"\nreplicas = ["${B}"]\n`,
    't.toml',
    {},
    {},
  );
  const log: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const logger = pino(
    { level: 'warn' },
    {
      write: (line: string) => {
        const o = JSON.parse(line) as Record<string, unknown>;
        log.push({ level: o['level'] === 40 ? 'warn' : String(o['level']), msg: String(o['msg']), obj: o });
      },
    },
  );
  const keeper = new MapKeeper(config, pino({ level: 'silent' }));
  const pool = {
    seqs: [0, 0],
    failed: new Set<number>(),
    fences: [] as boolean[],
    seqAtFence: undefined as number | undefined,
  };
  const fake = {
    call: (_worker: number, msg: CallMessage) => {
      assert.equal(msg.type, 'fence');
      const on = (msg as { on: boolean }).on;
      pool.fences.push(on);
      if (on && pool.seqAtFence !== undefined) pool.seqs[0] = pool.seqAtFence;
      return Promise.resolve({
        type: 'fence-result' as const,
        id: 0,
        ok: true as const,
        lastSeq: pool.seqs[0]!,
      });
    },
    lastSeq: (index: number) => pool.seqs[index]!,
    storeFailure: (index: number) =>
      pool.failed.has(index) ? { code: 'CORRUPTION' as const, message: 'disk' } : undefined,
  };
  const asks = new Asks();
  const clock = { now: 0 };
  const behind = new BehindLeaders(keeper, fake, logger, { ...options, ask: asks.ask, now: () => clock.now });
  const shard = config.shards[0]!;
  const stores = [
    { index: 0, worker: 0, node: A, role: 'leader', dir: '/a', shard },
    ...(hostB ? [{ index: 1, worker: 0, node: B, role: 'replica', dir: '/b', shard }] : []),
  ] as unknown as NodePlan['stores'];
  behind.watch(stores, new Set([0]), false);
  return { keeper, behind, pool, asks, clock, log };
}

/** flush lets the check's awaits run (the fence's answer, then the ask). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('a pull claiming a replica is ahead of a leader that started behind', () => {
  it('holds no shard unless the replica node confirms: the fence is released, that pull alone refused', async () => {
    const { keeper, behind, pool, asks, log } = setup();
    assert.equal(behind.pulled(0, B, 0, FROM), undefined, 'a pull at the leader seq is no claim');
    const check = behind.pulled(0, B, 999999, FROM);
    assert.ok(check !== undefined);
    await flush();
    assert.deepEqual(pool.fences, [true], 'writes are fenced while the claim is checked');
    assert.equal(keeper.writesFenced(0), false, 'the shard is not held meanwhile');
    assert.deepEqual(
      asks.pending.map((a) => [a.address, a.idx]),
      [[B, 0]],
      "the named replica's node is asked, at once",
    );
    asks.answer({ reason: 'its /cluster was not read within 1000 ms: connect ECONNREFUSED' });
    const refusal = await check;
    assert.equal(refusal?.code, 'LEADER_BEHIND', 'that pull is refused: it is not told REPLICA_AHEAD');
    assert.match(refusal.message, /did not confirm it \(its \/cluster was not read/);
    assert.match(refusal.message, /the shard is served/);
    assert.equal(keeper.behindOf(0), undefined, 'the shard is not held');
    assert.equal(keeper.behindError(0), undefined);
    assert.deepEqual(pool.fences, [true, false], 'and its writes are no longer fenced');
    const warn = log.find((l) => l.level === 'warn');
    assert.ok(warn !== undefined, 'a warning is logged');
    assert.match(warn.msg, /a pull from 203\.0\.113\.9:40000 claimed that replica 127\.0\.0\.2:7001/);
    assert.match(warn.msg, /through seq 999999.*not confirmed/);
    assert.equal(warn.obj['from'], FROM);
    assert.equal(warn.obj['claimed_seq'], 999999);
  });

  it('confirms nothing when asking fails, and releases the fence', async () => {
    const { keeper, behind, pool, asks } = setup();
    const check = behind.pulled(0, B, 999999, FROM)!;
    await flush();
    asks.fail(new Error('boom'));
    assert.match((await check)!.message, /asking its node failed: boom/);
    assert.equal(keeper.behindOf(0), undefined);
    assert.deepEqual(pool.fences, [true, false]);
  });

  it('holds the shard when the node confirms, at the position the node shows', async () => {
    const { keeper, behind, pool, asks } = setup();
    const check = behind.pulled(0, B, 999999, FROM)!;
    await flush();
    asks.answer({ seq: 42 });
    assert.equal(await check, undefined, 'the route refuses it as held');
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 42, leaderSeq: 0 });
    assert.equal(keeper.behindError(0)?.code, 'LEADER_BEHIND');
    assert.deepEqual(pool.fences, [true], 'the fence stays');
  });

  it('is not confirmed by a node showing the replica at or below the leader', async () => {
    const { keeper, behind, asks, log } = setup();
    const check = behind.pulled(0, B, 50, FROM)!;
    await flush();
    asks.answer({ seq: 0 });
    assert.equal((await check)?.code, 'LEADER_BEHIND');
    assert.equal(keeper.behindOf(0), undefined);
    assert.match(log[0]!.msg, /its node shows it at seq 0, not above the leader's 0/);
  });

  it('checks one claim per shard at a time and backs off after one not confirmed', async () => {
    const { keeper, behind, pool, asks, clock } = setup();
    const first = behind.pulled(0, B, 999999, FROM)!;
    await flush();
    const second = behind.pulled(0, B, 888888, FROM)!;
    await flush();
    assert.equal(asks.pending.length, 1, 'the second claim waits for the check in flight');
    asks.answer({ reason: 'down' });
    assert.equal((await first)?.code, 'LEADER_BEHIND');
    const r2 = await second;
    assert.equal(r2?.code, 'LEADER_BEHIND', 'the waiting claim is refused too, unchecked');
    const third = await behind.pulled(0, B, 777777, FROM);
    assert.match(third!.message, new RegExp(`not confirmed less than ${String(CLAIM_BACKOFF_MS)} ms ago`));
    assert.equal(asks.pending.length, 0, 'a claim within the back-off asks no node');
    assert.deepEqual(pool.fences, [true, false], 'nor fences the writes');
    clock.now += CLAIM_BACKOFF_MS;
    const fourth = behind.pulled(0, B, 777777, FROM)!;
    await flush();
    assert.equal(asks.pending.length, 1, 'after the back-off a claim is checked again');
    asks.answer({ reason: 'down' });
    await fourth;
    clock.now += CLAIM_BACKOFF_MS;
    const fifth = await behind.pulled(0, B, 1, FROM);
    assert.match(
      fifth!.message,
      new RegExp(`less than ${String(2 * CLAIM_BACKOFF_MS)} ms ago`),
      'it doubles',
    );
    assert.equal(keeper.behindOf(0), undefined);
  });

  it("still holds the shard on a peer's /cluster position (the node's own word)", async () => {
    const { keeper, behind, asks } = setup();
    const check = behind.pulled(0, B, 999999, FROM)!;
    await flush();
    asks.answer({ reason: 'down' });
    await check;
    await behind.fromPeer({ shards: [{ idx: 0, replicas: [{ address: B, local: true, acked_seq: 9 }] }] });
    assert.deepEqual(
      keeper.behindOf(0),
      { replica: B, seq: 9, leaderSeq: 0 },
      'the back-off is for claims only',
    );
  });

  it('lets the pull be served when a write landed before the fence (the leader leads with it)', async () => {
    const { keeper, behind, pool, asks } = setup();
    pool.seqAtFence = 1;
    const check = behind.pulled(0, B, 999999, FROM)!;
    assert.equal(await check, undefined, 'served: the write ended the watch');
    assert.equal(asks.pending.length, 0, 'no node is asked');
    assert.deepEqual(pool.fences, [true, false]);
    assert.equal(keeper.writesFenced(0), false);
    assert.equal(behind.pulled(0, B, 999999, FROM), undefined, 'watched no more');
  });

  it('reads a replica hosted in this process instead of asking', async () => {
    const held = setup({}, true);
    held.pool.seqs[1] = 30;
    assert.equal(await held.behind.pulled(0, B, 999999, FROM), undefined);
    assert.deepEqual(held.keeper.behindOf(0), { replica: B, seq: 30, leaderSeq: 0 });
    const level = setup({}, true);
    assert.equal((await level.behind.pulled(0, B, 999999, FROM))?.code, 'LEADER_BEHIND');
    assert.equal(level.keeper.behindOf(0), undefined, 'the hosted replica holds nothing more');
    const failed = setup({}, true);
    failed.pool.seqs[1] = 30;
    failed.pool.failed.add(1);
    assert.match(
      (await failed.behind.pulled(0, B, 999999, FROM))!.message,
      /its store in this process failed/,
    );
    assert.equal(held.asks.pending.length + level.asks.pending.length + failed.asks.pending.length, 0);
  });

  it('trusts a pull as before when pulls are authenticated (a node token)', async () => {
    const { keeper, behind, asks } = setup({ trustPulls: true });
    assert.equal(await behind.pulled(0, B, 42, FROM), undefined);
    assert.equal(asks.pending.length, 0);
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 42, leaderSeq: 0 });
  });

  it("reads the replica's own position in its node's /cluster", () => {
    const doc = {
      shards: [
        {
          idx: 0,
          replicas: [
            { address: A, local: true, acked_seq: 3 },
            { address: B, local: false },
          ],
        },
        { idx: 1, replicas: [{ address: B, local: true, acked_seq: 8 }] },
      ],
    };
    assert.equal(positionIn(doc, B, 0), undefined, 'not hosted there');
    assert.equal(positionIn(doc, B, 1), 8);
    assert.equal(positionIn(doc, A, 0), 3);
    assert.equal(positionIn(null, A, 0), undefined);
  });
});

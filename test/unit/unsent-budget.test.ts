/**
 * UnsentBudget (src/server/unsent-budget.ts): the process's total of unsent answer bytes stays the
 * sum of its open accounts through any sequence of reports and closes (randomized, seeded, against
 * a Map), eviction closes the largest holders first until the total is within the budget, and a
 * DirectWriter on a real socket reports what a non-reading peer leaves unsent, then 0 once the
 * peer reads, and leaves the budget when the socket closes.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DirectWriter } from '../../src/server/direct-write.js';
import { type Evictable, type UnsentAccount, UnsentBudget } from '../../src/server/unsent-budget.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** FakeSocket is a connection the budget can close: it records that it was. */
class FakeSocket implements Evictable {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort: number;
  destroyed = false;
  constructor(port: number) {
    this.remotePort = port;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** LIMIT is the largest report in the model runs: a max-size value's window (64 MiB). */
const LIMIT = 64 * 1024 * 1024;

/** sizeOf draws a report spanning 0..LIMIT, with the boundaries (0, 1, LIMIT) often. */
function sizeOf(rnd: () => number): number {
  const r = rnd();
  if (r < 0.15) return 0;
  if (r < 0.2) return 1;
  if (r < 0.25) return LIMIT;
  if (r < 0.6) return Math.floor(rnd() * 65536);
  return Math.floor(rnd() * (LIMIT + 1));
}

function sum(model: Map<UnsentAccount, number>): number {
  let total = 0;
  for (const v of model.values()) total += v;
  return total;
}

describe('UnsentBudget', () => {
  it('keeps the total equal to the open accounts’ bytes through random reports and closes', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const budget = new UnsentBudget(0);
    const model = new Map<UnsentAccount, number>();
    const open: UnsentAccount[] = [];
    try {
      for (let step = 0; step < 20000; step++) {
        const r = rnd();
        if (open.length === 0 || r < 0.1) {
          const a = budget.open(new FakeSocket(step));
          open.push(a);
          model.set(a, 0);
        } else if (r < 0.2) {
          const i = Math.floor(rnd() * open.length);
          const a = open[i]!;
          open.splice(i, 1);
          a.close();
          model.delete(a);
          // A report after the close (a late write completion) changes nothing.
          a.update(sizeOf(rnd));
        } else {
          const a = open[Math.floor(rnd() * open.length)]!;
          const bytes = sizeOf(rnd);
          a.update(bytes);
          model.set(a, bytes);
        }
        assert.equal(budget.total, sum(model), `step ${step}`);
      }
      for (const a of open) a.close();
      assert.equal(budget.total, 0);
      assert.equal(budget.evicted, 0, 'no limit, no eviction');
    } catch (err) {
      console.error(`unsent-budget model: seed ${seed} (DISTKV_SEED=${seed} replays it)`);
      throw err;
    }
  });

  it('closes the largest holders first, and only until the total is within the budget', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const evictions: number[] = [];
    const max = 32 * 1024 * 1024;
    const budget = new UnsentBudget(max, (_peer, bytes) => evictions.push(bytes));
    try {
      for (let round = 0; round < 200; round++) {
        const accounts: [UnsentAccount, FakeSocket][] = [];
        for (let i = 0; i < 1 + Math.floor(rnd() * 12); i++) {
          const s = new FakeSocket(i);
          accounts.push([budget.open(s), s]);
        }
        for (const [a] of accounts) a.update(sizeOf(rnd) >> 1);
        const before = accounts.map(([a]) => a.bytes);
        const evictedBefore = budget.evicted;
        evictions.length = 0;
        await Promise.resolve(); // the check is a microtask
        // The model: drop the largest until the sum is within the budget.
        const sorted = [...before].sort((x, y) => y - x);
        let total = before.reduce((x, y) => x + y, 0);
        const expected: number[] = [];
        while (total > max) {
          const top = sorted.shift()!;
          expected.push(top);
          total -= top;
        }
        assert.deepEqual(evictions, expected, `round ${round}: ${before.join(' ')}`);
        assert.equal(budget.evicted - evictedBefore, expected.length);
        assert.equal(budget.total, total);
        assert.ok(budget.total <= max);
        for (const [a, s] of accounts) assert.equal(s.destroyed, a.closed, 'closed = destroyed');
        for (const [a] of accounts) a.close();
        assert.equal(budget.total, 0);
      }
    } catch (err) {
      console.error(`unsent-budget eviction: seed ${seed} (DISTKV_SEED=${seed} replays it)`);
      throw err;
    }
  });

  it('never closes a small holder while a larger one is over the budget', async () => {
    const budget = new UnsentBudget(1000);
    const reader = new FakeSocket(1);
    const stalled = new FakeSocket(2);
    const r = budget.open(reader);
    const s = budget.open(stalled);
    r.update(900);
    s.update(950);
    await Promise.resolve();
    assert.equal(stalled.destroyed, true);
    assert.equal(reader.destroyed, false);
    assert.equal(budget.total, 900);
  });

  it('counts what a DirectWriter leaves unsent to a peer that does not read, and 0 once it reads', async (t) => {
    const budget = new UnsentBudget(0);
    let accepted: Socket | undefined;
    const server = createServer({ noDelay: true }, (s) => (accepted = s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    t.after(() => {
      client.destroy();
      server.close();
    });
    client.pause();
    for (let i = 0; i < 500 && accepted === undefined; i++) await sleep(10);
    const socket = accepted!;
    const w = new DirectWriter(socket, () => undefined, budget.open(socket));
    const chunk = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < 32; i++) w.write(chunk);
    assert.ok(budget.total > 0, 'bytes wait unsent');
    assert.equal(budget.total, w.unsent);
    let got = 0;
    client.on('data', (d: Buffer) => (got += d.length));
    client.resume();
    for (let i = 0; i < 500 && got < 32 * chunk.length; i++) await sleep(10);
    assert.equal(got, 32 * chunk.length);
    assert.equal(budget.total, 0, 'everything sent: nothing counted');
    w.write(chunk);
    socket.destroy();
    await new Promise((resolve) => socket.once('close', resolve));
    assert.equal(budget.total, 0, 'closed: out of the budget');
  });
});

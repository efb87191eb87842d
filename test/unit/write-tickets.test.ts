/**
 * Plain writes answered through a WriteSink (write-tickets.ts, StoreWrites as the sink): each
 * write's reply carries its own op id, seq and status whichever ticket it was given (tickets are
 * reused), a refused write is answered with its error, a fence waits for the plain writes in
 * flight of its store (and only of its store), and a read behind a write in flight hears that
 * write's outcome.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { WriteSink } from '../../src/storage/store.js';
import { ST_DONE, ST_ERROR, ST_MISSING } from '../../src/worker/op-format.js';
import type { StoreWrites } from '../../src/worker/store-writes.js';
import { tempDir } from '../helpers/temp-dir.js';
import { storeWritesOver } from '../helpers/worker-host.js';

/** HeldStore takes writes through writeTo and answers them only when the test says so. */
class HeldStore extends MemoryStore {
  readonly held: { sink: WriteSink; token: number }[] = [];
  /** refusing, when set, is the error writeTo refuses with before it returns (an isolated store). */
  refusing: Error | undefined;

  writeTo(_key: Uint8Array, _value: Uint8Array | null, _exp: number, sink: WriteSink, token: number): void {
    if (this.refusing !== undefined) sink.refused(token, this.refusing);
    else this.held.push({ sink, token });
  }

  /** answer tells the oldest held write's sink: written as `seq`, or refused with `err`. */
  answer(outcome: number | Error): void {
    const h = this.held.shift();
    assert.ok(h, 'a write is held');
    if (typeof outcome === 'number') h.sink.written(h.token, outcome);
    else h.sink.refused(h.token, outcome);
  }
}

interface Reply {
  status: number;
  seq: number;
}

function fixture(): { writes: StoreWrites; stores: HeldStore[]; replies: Map<number, Reply> } {
  const stores = [new HeldStore(), new HeldStore()];
  const replies = new Map<number, Reply>();
  const writes = storeWritesOver(tempDir(after), stores, replies);
  after(() => {
    writes.close();
  });
  return { writes, stores, replies };
}

const b = (s: string): Buffer => Buffer.from(s);
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** outcomeWithin is what `p` settled with within a few turns: its seq, its error's message, or 'pending'. */
async function outcomeWithin(p: Promise<{ seq: number }>): Promise<number | string> {
  let out: number | string = 'pending';
  p.then(
    ({ seq }) => (out = seq),
    (err: unknown) => (out = (err as Error).message),
  );
  for (let i = 0; i < 3; i++) await turn();
  return out;
}

/** olderInFlightNewerRefused writes key k twice: the first stays in flight, the second is refused at once (an isolated store). */
function olderInFlightNewerRefused(): { writes: StoreWrites; s: HeldStore } {
  const { writes, stores } = fixture();
  const s = stores[0]!;
  writes.write(1, 0, s, b('k'), b('1'), 0, 0, undefined);
  s.refusing = new DistkvError('UNAVAILABLE', 'store isolated');
  writes.write(2, 0, s, b('k'), b('2'), 0, 0, undefined);
  s.refusing = undefined;
  return { writes, s };
}

describe('plain writes answered through their tickets', () => {
  it('answers each write with its own op id, seq and status, tickets reused or not', async () => {
    const { writes, stores, replies } = fixture();
    const s = stores[0]!;
    writes.write(10, 0, s, b('a'), b('1'), 0, 0, undefined);
    writes.write(11, 0, s, b('b'), null, 0, 0, undefined, ST_MISSING);
    s.answer(1);
    s.answer(new DistkvError('DISK_FULL', 'no room'));
    // Both tickets are free again: these reuse them.
    writes.write(12, 0, s, b('c'), b('3'), 0, 0, undefined);
    writes.write(13, 0, s, b('d'), null, 0, 0, undefined, ST_MISSING);
    s.answer(2);
    s.answer(3);
    await turn();
    assert.deepEqual(replies.get(10), { status: ST_DONE, seq: 1 });
    assert.equal(replies.get(11)?.status, ST_ERROR);
    assert.deepEqual(replies.get(12), { status: ST_DONE, seq: 2 });
    assert.deepEqual(replies.get(13), { status: ST_MISSING, seq: 3 });
    assert.equal(writes.pending.size, 0, 'nothing is left in flight');
  });

  it('a fence waits for the plain writes in flight of its store, and only of its store', async () => {
    const { writes, stores } = fixture();
    writes.write(1, 0, stores[0]!, b('a'), b('1'), 0, 0, undefined);
    writes.write(2, 0, stores[0]!, b('b'), b('2'), 0, 0, undefined);
    writes.write(3, 1, stores[1]!, b('c'), b('3'), 0, 0, undefined);
    let fenced = false;
    void writes.fence(0, true).then(() => {
      fenced = true;
    });
    stores[1]!.answer(1);
    stores[0]!.answer(1);
    await turn();
    assert.equal(fenced, false, 'one write of store 0 is still in flight');
    stores[0]!.answer(2);
    await turn();
    assert.equal(fenced, true);
  });

  it('a read behind a write in flight hears its outcome: the seq, or the refusal', async () => {
    const { writes, stores } = fixture();
    const s = stores[0]!;
    writes.write(1, 0, s, b('k'), b('1'), 0, 0, undefined);
    const first = writes.pending.settledOf(0, b('k'));
    assert.ok(first);
    s.answer(7);
    assert.deepEqual(await first, { seq: 7 });
    writes.write(2, 0, s, b('k'), b('2'), 0, 0, undefined);
    const second = writes.pending.settledOf(0, b('k'));
    assert.ok(second);
    s.answer(new DistkvError('DISK_FULL', 'no room'));
    await assert.rejects(second, /no room/);
    assert.equal(writes.pending.settledOf(0, b('k')), undefined);
  });

  it('a store without writeTo is written through put and delete as before', async () => {
    const { writes, replies } = fixture();
    const plain = new MemoryStore();
    writes.write(5, 0, plain, b('k'), b('v'), 0, 0, undefined);
    while (!replies.has(5)) await turn();
    assert.equal(replies.get(5)?.status, ST_DONE);
    assert.equal(plain.get(b('k'))?.toString(), 'v');
  });

  it('a read behind an older write in flight, whose newer write on the key was refused at once, hears the refusal, not another write', async () => {
    const { writes, s } = olderInFlightNewerRefused();
    // The refused write's ticket is free: a write of another key takes it.
    writes.write(3, 0, s, b('other'), b('3'), 0, 0, undefined);
    const read = writes.pending.settledOf(0, b('k'));
    assert.ok(read, 'the older write is still in flight');
    s.answer(5);
    s.answer(9);
    assert.equal(await outcomeWithin(read), 'store isolated');
    assert.equal(writes.pending.size, 0);
  });

  it('a read behind an older promised write hears the newer plain write answered before it, not the next user of its ticket', async () => {
    const { writes, stores } = fixture();
    const s = stores[0]!;
    // The older write goes through put (a read-modify-write's `issue`), whose promise a real store
    // resolves in the same hand-over as the newer write's sink, but is heard a microtask later.
    let resolveOlder!: (r: { seq: number }) => void;
    s.put = () => new Promise((r) => (resolveOlder = r));
    void writes.issue(0, s, b('k'), b('1'), 0);
    writes.write(2, 0, s, b('k'), b('2'), 0, 0, undefined);
    s.answer(6);
    const read = writes.pending.settledOf(0, b('k'));
    assert.ok(read, 'the older write is still in flight');
    writes.write(3, 0, s, b('other'), b('3'), 0, 0, undefined);
    resolveOlder({ seq: 5 });
    s.answer(7);
    assert.equal(await outcomeWithin(read), 6);
  });

  it('a w=1 write durable once the worker has no replication (it is closing) is answered with the error, and a read behind it hears its seq', async () => {
    const { writes, stores, replies } = fixture();
    const s = stores[0]!;
    writes.write(1, 0, s, b('k'), b('1'), 1, 100, undefined);
    const read = writes.pending.settledOf(0, b('k'));
    assert.ok(read);
    // A throw here would reach the store's log, which rethrows it out of a microtask: the worker dies.
    s.answer(4);
    assert.equal(await outcomeWithin(read), 4);
    while (!replies.has(1)) await turn();
    assert.equal(replies.get(1)?.status, ST_ERROR);
  });

  it('a fence waits for each write of a transaction, not only until the first one fails', async () => {
    const { writes, stores } = fixture();
    const s = stores[0]!;
    const outcomes: ((err?: Error) => void)[] = [];
    s.put = () =>
      new Promise((resolve, reject) => {
        outcomes.push((err) => {
          if (err === undefined) resolve({ seq: outcomes.length });
          else reject(err);
        });
      });
    const issued = [writes.issue(0, s, b('a'), b('1'), 0), writes.issue(0, s, b('b'), b('2'), 0)];
    writes.track(
      9,
      0,
      Promise.all(issued).then(() => ({ seq: 2 })),
      0,
      0,
      undefined,
    );
    outcomes[0]!(new DistkvError('DISK_FULL', 'no room'));
    await turn();
    let fenced = false;
    void writes.fence(0, true).then(() => {
      fenced = true;
    });
    await turn();
    assert.equal(fenced, false, "the transaction's second write is still in flight");
    outcomes[1]!();
    await turn();
    assert.equal(fenced, true);
  });

  it('a retry behind a key whose newest write was refused at once while an older one is in flight neither spins nor stalls', async () => {
    const { writes, s } = olderInFlightNewerRefused();
    // As a conditional write, a transaction or the reaper: wait for the key's writes, then look again.
    let retries = 0;
    let clear = false;
    const retry = (): void => {
      const settled = writes.pending.settledOf(0, b('k'));
      if (settled === undefined) clear = true;
      else if (++retries < 1000) settled.then(retry, retry);
    };
    retry();
    await turn();
    assert.ok(retries < 3, `retried ${retries} times while the older write was in flight`);
    assert.equal(clear, false);
    s.answer(5);
    await turn();
    assert.equal(clear, true, 'the retry runs once the older write settled');
  });
});

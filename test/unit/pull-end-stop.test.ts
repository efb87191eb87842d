/**
 * A leader's worker told that its process stops (`end-pulls`, src/util/stop-wakes.ts) answers
 * the replicas' parked pulls at once instead of after their wait, and later pulls without waiting,
 * each saying `stopping` (the HTTP route closes the connection after it; one a record woke
 * first goes out as any). Writes the worker
 * accepted before the message settle first: a pull woken by the stop carries them even when they
 * were not yet in the log as the message came (issued in the same turn). Woken at once instead, it
 * was answered with nothing, its connection closed, and the replica did not hold writes its leader
 * acknowledged before the stop. A pull a record woke leaves nothing behind in the stop's list of
 * parked pulls (StopWakes), however many there were.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { StopWakes } from '../../src/util/stop-wakes.js';
import { decodeRecord } from '../../src/storage/wal-format.js';
import type { FromWorker } from '../../src/worker/messages.js';
import { OP_PUT, ST_DONE } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  type ControlHost,
  openSpecHost,
  runOps,
  testStoreSpec,
  untilReplies,
} from '../helpers/worker-host.js';

/** WAIT_MS is the pulls' long poll: far beyond what an answer at the stop may take. */
const WAIT_MS = 10_000;

type PullResult = Extract<FromWorker, { type: 'repl-pull-result' }>;

/** pull sends store 0's leader a pull from replica "r" after `afterSeq`, waiting up to WAIT_MS. */
function pull(h: ControlHost, id: number, afterSeq: number): void {
  h.host.handle({
    type: 'repl-pull',
    id,
    store: 0,
    after: afterSeq,
    maxBytes: 1 << 20,
    waitMs: WAIT_MS,
    replica: 'r',
    epoch: 0,
  });
}

/** answer waits (bounded) for the control reply `id` and returns it with the ms it took. */
async function answer(h: ControlHost, id: number, t0: number): Promise<{ reply: FromWorker; ms: number }> {
  const deadline = performance.now() + WAIT_MS * 2;
  while (!h.control.has(id)) {
    if (performance.now() > deadline) assert.fail(`no answer to message ${id}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return { reply: h.control.get(id)!, ms: performance.now() - t0 };
}

/** seqsOf lists the seqs of the records a pull result carries. */
function seqsOf(r: PullResult): number[] {
  if (r.buffer === null) return [];
  const b = Buffer.from(r.buffer, 0, r.length);
  const seqs: number[] = [];
  for (let at = 0; at < b.length;) {
    const rec = decodeRecord(b, at);
    if (typeof rec === 'string') assert.fail(`record at ${at}: ${rec}`);
    seqs.push(rec.seq);
    at += rec.size;
  }
  return seqs;
}

describe('a leader worker told that its process stops (end-pulls)', () => {
  it('answers a parked pull at once, with the writes it accepted before', async () => {
    const h = await openSpecHost(testStoreSpec(tempDir(after)));
    after(() => h.host.close());
    pull(h, 100, 0);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.control.has(100), false, 'the pull waits for a record');
    const t0 = performance.now();
    // Writes and the stop in one turn: as the message comes, the writes are not in the log yet.
    runOps(h.host, (w) => {
      for (let i = 1; i <= 5; i++) w.add(i, OP_PUT, 0, `k${i}`, `v${i}`);
    });
    h.host.handle({ type: 'end-pulls', id: 101 });
    const woken = await answer(h, 100, t0);
    assert.equal((await answer(h, 101, t0)).reply.type, 'end-pulls-result');
    await untilReplies(h.replies, [1, 2, 3, 4, 5]);
    for (let i = 1; i <= 5; i++) assert.equal(h.replies.get(i)!.status, ST_DONE, `write ${i}`);
    const r = woken.reply as PullResult;
    assert.equal(r.type, 'repl-pull-result', JSON.stringify(r));
    assert.deepEqual(
      seqsOf(r),
      [1, 2, 3, 4, 5],
      'the woken pull carries every write accepted before the stop',
    );
    assert.equal(r.leaderSeq, 5);
    assert.ok(woken.ms < WAIT_MS / 4, `answered after ${Math.round(woken.ms)} ms, not at once`);

    // A pull after the stop has begun does not wait for a record.
    const t1 = performance.now();
    pull(h, 102, 5);
    const later = await answer(h, 102, t1);
    const l = later.reply as PullResult;
    assert.equal(l.type, 'repl-pull-result', JSON.stringify(l));
    assert.deepEqual(seqsOf(l), []);
    assert.equal(l.stopping, true);
    assert.ok(later.ms < WAIT_MS / 4, `answered after ${Math.round(later.ms)} ms, not at once`);
  });

  it('answers a parked pull with nothing new at once', async () => {
    const h = await openSpecHost(testStoreSpec(tempDir(after)));
    after(() => h.host.close());
    runOps(h.host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'v');
    });
    await untilReplies(h.replies, [1]);
    // The replica's first pull is from a seq the leader held at its start (else: its restart fork).
    pull(h, 99, 0);
    assert.deepEqual(seqsOf((await answer(h, 99, performance.now())).reply as PullResult), [1]);
    pull(h, 100, 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(h.control.has(100), false, 'the pull waits for a record');
    const t0 = performance.now();
    h.host.handle({ type: 'end-pulls', id: 101 });
    const woken = await answer(h, 100, t0);
    const r = woken.reply as PullResult;
    assert.equal(r.type, 'repl-pull-result', JSON.stringify(r));
    assert.deepEqual(seqsOf(r), []);
    assert.equal(r.leaderSeq, 1);
    assert.equal(r.stopping, true);
    assert.ok(woken.ms < WAIT_MS / 4, `answered after ${Math.round(woken.ms)} ms, not at once`);
  });

  it('lets a pull wait as before until the stop', async () => {
    const h = await openSpecHost(testStoreSpec(tempDir(after)));
    after(() => h.host.close());
    pull(h, 100, 0);
    runOps(h.host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'v');
    });
    const r = (await answer(h, 100, performance.now())).reply as PullResult;
    assert.deepEqual(seqsOf(r), [1]);
    assert.equal(r.stopping, false, 'a pull answered while the process serves keeps its connection');
  });
});

describe("StopWakes, the stop of one worker's long polls", () => {
  it('forgets each parked pull once its log wait ends, and wakes those parked at the stop', async () => {
    const end = new StopWakes();
    const woken = await Promise.all(Array.from({ length: 1000 }, () => end.parked(Promise.resolve())));
    assert.equal(woken.length, 1000);
    assert.equal(end.size, 0, 'pulls answered by a record are not kept until the stop');
    let answered = 0;
    const never = new Promise<void>(() => undefined);
    const parked = Array.from({ length: 3 }, () => end.parked(never).then(() => answered++));
    assert.equal(end.size, 3);
    await new Promise((r) => setImmediate(r));
    assert.equal(answered, 0, 'a parked pull waits until the stop');
    end.end();
    await Promise.all(parked);
    assert.equal(answered, 3);
    assert.equal(end.size, 0);
    assert.equal(end.ended, true);
    await end.parked(never); // after the stop, at once
  });
});

/**
 * A shard worker thread holds its large replies back while the main thread has not taken
 * HOLD_BYTES of them (src/worker/reply-batch.ts, "Flow"), whatever else arrives: new op batches
 * and control messages (src/worker/op-runner.ts, "Flow" and "Control messages").
 *
 * The test is the main thread itself, on a real worker thread (workers/shard-worker.js): it counts
 * the bytes of the large reply batches the worker sent and acknowledges (`replies-taken`) only what
 * it chooses to have taken. Before, each new op batch ran a whole part (4 MiB) while holding, so a
 * main thread that sends a batch of large GETs per turn and takes 2 MiB per turn fell further behind
 * every turn; and every control message (a replica's pull, a watch poll, a stats call) ran the whole
 * backlog at once, so a window of 64 MiB of replies reached a main thread that had taken nothing.
 */
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { Positions } from '../../src/replication/positions.js';
import { HOLD_BYTES, TURN_BYTES } from '../../src/server/reply-intake.js';
import {
  ACKED_REPLY_BYTES,
  type FromWorker,
  MESSAGE_VERSION,
  type ToWorker,
  type WorkerInit,
} from '../../src/worker/messages.js';
import { ReplyReader, RequestWriter } from '../../src/worker/op-codec.js';
import { OP_GET, OP_PUT, ST_DONE, ST_VALUE } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const ENTRY = new URL('../../workers/shard-worker.js', import.meta.url);
const MIB = 1024 * 1024;
const KEYS = 4;
/** QUIET_MS: the worker has sent all it will once nothing came for this long. */
const QUIET_MS = 150;
/** WAIT_MS bounds every wait of the test. */
const WAIT_MS = 20000;

/** Event is what reached the test's main thread, in order: an op's reply or a control result. */
type Event = { op: number; status: number; bytes: number } | { call: number; type: string };

/** MainThread is a worker thread and what the test, its main thread, received and took of it. */
class MainThread {
  readonly worker: Worker;
  readonly events: Event[] = [];
  /** sent is the bytes of acknowledged-size reply batches received; taken, those acknowledged. */
  sent = 0;
  taken = 0;
  /** worst is the most bytes ever sent and not taken. */
  worst = 0;
  /** takeAll acknowledges every large batch as it arrives (a main thread that keeps up). */
  takeAll = false;
  lastMessageAt = performance.now();
  private readyWait: Promise<void>;

  constructor(dir: string) {
    const init: WorkerInit = {
      version: MESSAGE_VERSION,
      workerIndex: 0,
      stores: [testStoreSpec(dir, 0, 'memory')],
      positions: new SharedArrayBuffer(Positions.bytesFor(1)),
      logLevel: 'silent',
    };
    this.worker = new Worker(ENTRY, { workerData: init });
    this.post({ type: 'reply-flow', holdBytes: HOLD_BYTES });
    this.readyWait = new Promise((resolve, reject) => {
      this.worker.on('error', reject);
      this.worker.on('message', (msg: FromWorker) => {
        this.lastMessageAt = performance.now();
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'failed') reject(new Error(msg.error.message));
        else if (msg.type === 'replies') this.replies(msg.buffer, msg.length);
        else if ('id' in msg) this.events.push({ call: msg.id, type: msg.type });
      });
    });
  }

  ready(): Promise<void> {
    return this.readyWait;
  }

  post(msg: ToWorker, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(msg, transfer);
  }

  /** ops posts one op batch. */
  ops(fill: (w: RequestWriter) => void): void {
    const w = new RequestWriter();
    fill(w);
    const { buffer, length } = w.take();
    this.post({ type: 'ops', buffer, length }, [buffer]);
  }

  /** take acknowledges up to `bytes` of what was sent and not taken (one turn of the main thread). */
  take(bytes: number): void {
    const n = Math.min(bytes, this.sent - this.taken);
    if (n <= 0) return;
    this.taken += n;
    this.post({ type: 'replies-taken', bytes: n });
  }

  /** quiet resolves once nothing came from the worker for QUIET_MS (from now). */
  async quiet(): Promise<void> {
    const start = performance.now();
    const deadline = start + WAIT_MS;
    while (performance.now() - Math.max(start, this.lastMessageAt) < QUIET_MS) {
      if (performance.now() > deadline) throw new Error('the worker never went quiet');
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS / 3));
    }
  }

  /** until resolves once `done` holds, checking each 5 ms; fails naming `what` after WAIT_MS. */
  async until(what: string, done: () => boolean): Promise<void> {
    const deadline = performance.now() + WAIT_MS;
    while (!done()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  indexOf(pred: (e: Event) => boolean): number {
    return this.events.findIndex(pred);
  }

  private replies(buffer: ArrayBuffer, length: number): void {
    const r = new ReplyReader(buffer, length);
    while (r.next()) this.events.push({ op: r.id, status: r.status, bytes: r.value.length });
    if (length < ACKED_REPLY_BYTES) return;
    this.sent += length;
    this.worst = Math.max(this.worst, this.sent - this.taken);
    if (this.takeAll) this.take(length);
  }
}

/** open starts a worker with `keys` values of 1 MiB (`big-0`...) and a small one. */
async function open(keys = KEYS): Promise<MainThread> {
  const m = new MainThread(tempDir(after));
  after(() => m.worker.terminate());
  await m.ready();
  m.ops((w) => {
    for (let k = 0; k < keys; k++) w.add(k + 1, OP_PUT, 0, `big-${k}`, Buffer.alloc(MIB, 97 + (k % 26)));
    w.add(keys + 1, OP_PUT, 0, 'small', 'small');
  });
  await m.until(
    'the PUTs',
    () => m.events.filter((e) => 'op' in e && e.status === ST_DONE).length === keys + 1,
  );
  m.events.length = 0;
  return m;
}

/** gets adds `n` GETs of the large values `big-<from>`... (`keys` of them), ids from `first`. */
function gets(w: RequestWriter, first: number, n: number, from = 0, keys = KEYS): void {
  for (let i = 0; i < n; i++) w.add(first + i, OP_GET, 0, `big-${from + (i % keys)}`, undefined);
}

const mib = (b: number): string => `${(b / MIB).toFixed(1)} MiB`;

describe('the large replies a shard worker thread has sent and the main thread not taken', () => {
  it('stay bounded when every turn of the main thread sends a batch of large GETs and takes TURN_BYTES', async (t) => {
    // Each round: one batch of 16 GETs of 1 MiB (another connection's MGET, of keys of its own: a
    // key with GETs in the backlog holds later ones back anyway), then one turn's take.
    const ROUNDS = 12;
    const PER_ROUND = 2;
    const m = await open(ROUNDS * PER_ROUND);
    for (let round = 0; round < ROUNDS; round++) {
      m.ops((w) => {
        gets(w, 1000 + round * 16, 16, round * PER_ROUND, PER_ROUND);
      });
      await m.quiet();
      m.take(TURN_BYTES);
    }
    t.diagnostic(`most untaken: ${mib(m.worst)} (hold ${mib(HOLD_BYTES)})`);
    // The hold, the part that passed it (up to two flushes of 1 MiB) and a batch's held part.
    const bound = HOLD_BYTES + 4 * MIB;
    assert.ok(m.worst <= bound, `${mib(m.worst)} were sent and not taken: at most ${mib(bound)} expected`);
    m.takeAll = true;
    m.take(Infinity);
    await m.until(
      'every GET',
      () => m.events.filter((e) => 'op' in e && e.status === ST_VALUE).length === ROUNDS * 16,
    );
  });

  it('stay bounded while control messages that need no ops before them keep coming, which answer at once', async (t) => {
    const m = await open();
    const GETS = 64;
    m.ops((w) => {
      gets(w, 1000, GETS);
    });
    // A watcher's poll or a stats call every few milliseconds, as a replica's pulls come.
    const CALLS = 20;
    for (let i = 0; i < CALLS; i++) {
      if (i % 2 === 0)
        m.post({
          type: 'watch-polls',
          id: i + 1,
          reads: [{ store: 0, after: 0, maxBytes: 4096 }],
          waitMs: 0,
        });
      else m.post({ type: 'stats', id: i + 1 });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await m.quiet();
    t.diagnostic(
      `untaken with ${CALLS} polls and stats calls: ${mib(m.sent - m.taken)} (hold ${mib(HOLD_BYTES)})`,
    );
    const bound = HOLD_BYTES + 2 * MIB;
    assert.ok(m.worst <= bound, `${mib(m.worst)} were sent and not taken: at most ${mib(bound)} expected`);
    const answered = m.events.filter((e) => 'call' in e).length;
    assert.equal(answered, CALLS, 'every poll and stats call is answered while the replies are held');
    m.takeAll = true;
    m.take(Infinity);
    await m.until(
      'every GET',
      () => m.events.filter((e) => 'op' in e && e.status === ST_VALUE).length === GETS,
    );
  });

  it('run a scan after the ops sent before it and before those sent after it, once the main thread takes them', async () => {
    const m = await open();
    const GETS = 32;
    m.ops((w) => {
      gets(w, 1000, GETS);
    });
    m.post({
      type: 'scan',
      id: 1,
      store: 0,
      prefix: Buffer.from('small'),
      after: null,
      limit: 10,
      maxBytes: MIB,
    });
    m.ops((w) => {
      w.add(2000, OP_GET, 0, 'small', undefined);
    });
    await m.quiet();
    assert.equal(
      m.indexOf((e) => 'call' in e),
      -1,
      'the scan waits behind the held GETs',
    );
    m.takeAll = true;
    m.take(Infinity);
    await m.until('the small GET', () => m.indexOf((e) => 'op' in e && e.op === 2000) >= 0);
    const scanAt = m.indexOf((e) => 'call' in e && e.call === 1);
    const lastLarge = Math.max(
      ...Array.from({ length: GETS }, (_, i) => m.indexOf((e) => 'op' in e && e.op === 1000 + i)),
    );
    const smallAt = m.indexOf((e) => 'op' in e && e.op === 2000);
    assert.ok(
      lastLarge >= 0 && lastLarge < scanAt,
      `the scan (event ${scanAt}) came before a GET sent before it (${lastLarge})`,
    );
    assert.ok(scanAt < smallAt, `the GET sent after the scan (event ${smallAt}) came before it (${scanAt})`);
  });

  it('do not hold a close: the worker stops with nothing taken', async () => {
    const m = await open();
    m.ops((w) => {
      gets(w, 1000, 64);
    });
    m.post({ type: 'fence', id: 1, store: 0, on: true });
    m.post({ type: 'close', id: 2 });
    await m.until('the fence and the close', () =>
      [1, 2].every((id) => m.indexOf((e) => 'call' in e && e.call === id) >= 0),
    );
    assert.equal(
      m.events.filter((e) => 'op' in e).length,
      64,
      'every GET sent before the close was answered',
    );
  });
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { WorkerPool } from '../../src/server/worker-pool.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import {
  OP_DELETE,
  OP_GET,
  OP_PUT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const ENTRY = new URL('../../workers/shard-worker.js', import.meta.url);
const CRASHING_ENTRY = new URL('../helpers/crashing-worker.js', import.meta.url);
const silent = pino({ level: 'silent' });

/** specs places the stores at `dir`/node/s<i>, so the workers' commit logs are `dir`/log/w<N> (workerLogDir), in the test's own directory. */
function specs(dir: string, n: number, engine: StoreSpec['engine']): StoreSpec[] {
  return Array.from({ length: n }, (_, i) => testStoreSpec(`${dir}/node/s${i}`, i, engine));
}

interface Reply {
  status: number;
  seq: number;
  value: string;
}

function op(
  pool: WorkerPool,
  worker: number,
  code: 1 | 2 | 3,
  store: number,
  key: string,
  value?: string,
): Promise<Reply> {
  return new Promise((resolve) => {
    pool.submit(worker, code, store, key, value, {
      onReply: (status, seq, v) => {
        resolve({ status, seq, value: v.toString('utf8') });
      },
    });
  });
}

/** untilServed repeats `request` (for up to 10 s) while it fails: a crashed worker is restarting. */
async function untilServed(request: () => Promise<Reply>): Promise<Reply> {
  let reply = await request();
  const deadline = Date.now() + 10000;
  while (reply.status === ST_ERROR && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 100));
    reply = await request();
  }
  return reply;
}

describe('worker pool with real worker threads', () => {
  it('executes gets, puts and deletes on the owning worker and matches each reply to its request', async () => {
    const all = specs(tempDir(after), 4, 'lsm');
    const pool = new WorkerPool(
      [
        [all[0]!, all[2]!],
        [all[1]!, all[3]!],
      ],
      ENTRY,
      silent,
      'silent',
    );
    await pool.start();
    try {
      const puts = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          op(pool, i % 2, OP_PUT, (i % 2) + 2 * ((i >> 1) % 2), `k${i}`, `v${i}`),
        ),
      );
      assert.ok(puts.every((r) => r.status === ST_DONE && r.seq > 0));
      const got = await op(pool, 1, OP_GET, 3, 'k3');
      assert.deepEqual(
        got,
        { status: ST_VALUE, seq: puts[3]!.seq, value: 'v3' },
        'a read reports the version seq',
      );
      assert.equal((await op(pool, 0, OP_GET, 0, 'absent')).status, ST_MISSING);
      assert.equal((await op(pool, 1, OP_DELETE, 3, 'k3')).status, ST_DONE);
      assert.equal((await op(pool, 1, OP_GET, 3, 'k3')).status, ST_MISSING);
      assert.ok(pool.lastSeq(3) >= 1, 'positions are published to the main thread');
      const stats = await pool.callAll({ type: 'stats' });
      assert.equal(stats.length, 2);
    } finally {
      await pool.stop();
    }
  });

  it('matches every reply to its own request while ids are reused across waves of requests in flight', async () => {
    const all = specs(tempDir(after), 2, 'memory');
    const pool = new WorkerPool([all], ENTRY, silent, 'silent');
    await pool.start();
    try {
      // Waves of different sizes, each submitted while the previous one's ids are being freed: a
      // reply given to the wrong request would show up as another key's value.
      for (const [wave, size] of [300, 17, 1000, 1, 450].entries()) {
        const writes = Array.from({ length: size }, (_, i) =>
          op(pool, 0, OP_PUT, i % 2, `w${wave}-${i}`, `value of w${wave}-${i}`),
        );
        const reads = Array.from({ length: size }, (_, i) => op(pool, 0, OP_GET, i % 2, `w${wave}-${i}`));
        assert.ok((await Promise.all(writes)).every((r) => r.status === ST_DONE));
        const got = await Promise.all(reads);
        got.forEach((r, i) => {
          assert.equal(r.status, ST_VALUE, `read ${i} of wave ${wave}`);
          assert.equal(r.value, `value of w${wave}-${i}`);
        });
      }
      assert.equal(pool.inFlight, 0, 'nothing is left waiting');
    } finally {
      await pool.stop();
    }
  });

  it('answers ops for a store the worker does not own with UNAVAILABLE instead of hanging', async () => {
    const all = specs(tempDir(after), 1, 'memory');
    const pool = new WorkerPool([all], ENTRY, silent, 'silent');
    await pool.start();
    try {
      const r = await op(pool, 0, OP_GET, 7, 'k');
      assert.equal(r.status, ST_ERROR);
      assert.match(r.value, /UNAVAILABLE/);
    } finally {
      await pool.stop();
    }
  });

  it('fails in-flight requests with UNAVAILABLE when a worker crashes, then restarts it', async () => {
    const all = specs(tempDir(after), 1, 'memory');
    const pool = new WorkerPool([all], CRASHING_ENTRY, silent, 'silent');
    await pool.start();
    try {
      const doomed = op(pool, 0, OP_PUT, 0, 'crash-now', 'x');
      const r = await doomed;
      assert.equal(r.status, ST_ERROR);
      assert.match(r.value, /UNAVAILABLE/);
      const after = await untilServed(() => op(pool, 0, OP_PUT, 0, 'k', 'v'));
      assert.equal(after.status, ST_DONE, 'the worker came back and serves again');
    } finally {
      await pool.stop();
    }
  });
});

describe('worker pool stopped while a crashed worker waits to restart', () => {
  it('does not start the worker again once the pool is stopped (it would open the stores after the data directory lock is released)', async () => {
    const all = specs(tempDir(after), 1, 'memory');
    const pool = new WorkerPool([all], CRASHING_ENTRY, silent, 'silent');
    await pool.start();
    const r = await op(pool, 0, OP_PUT, 0, 'crash-now', 'x');
    assert.equal(r.status, ST_ERROR, 'the crash fails the request in flight');
    // The worker has exited and waits out its restart backoff: stop the pool now.
    await pool.stop();
    await new Promise((res) => setTimeout(res, 1500));
    const late = await op(pool, 0, OP_PUT, 0, 'k', 'v');
    try {
      assert.equal(late.status, ST_ERROR, 'a stopped pool has no running worker');
      assert.match(late.value, /UNAVAILABLE/);
    } finally {
      await pool.stop();
    }
  });
});

describe('worker pool: requests queued in the turn a worker dies', () => {
  it('never sends them to the restarted worker: a write answered UNAVAILABLE is not applied later', async () => {
    const all = specs(tempDir(after), 1, 'memory');
    const pool = new WorkerPool([all], CRASHING_ENTRY, silent, 'silent');
    await pool.start();
    try {
      const doomed = op(pool, 0, OP_PUT, 0, 'crash-now', 'x');
      await new Promise((res) => setImmediate(res)); // the crashing batch has been posted
      // Hold the main thread while the worker dies, then queue a write before its exit is seen:
      // it waits in the batch of this turn when the exit arrives.
      const until = Date.now() + 500;
      while (Date.now() < until);
      const ghost = op(pool, 0, OP_PUT, 0, 'ghost', 'g');
      assert.equal((await doomed).status, ST_ERROR);
      const g = await ghost;
      assert.equal(g.status, ST_ERROR, 'the queued write is answered UNAVAILABLE');
      assert.match(g.value, /UNAVAILABLE/);
      const read = await untilServed(() => op(pool, 0, OP_GET, 0, 'ghost'));
      assert.equal(read.status, ST_MISSING, 'the write answered UNAVAILABLE was never applied');
      const own = await Promise.all(
        Array.from({ length: 5 }, (_, i) => op(pool, 0, OP_PUT, 0, `k${i}`, `v${i}`)),
      );
      assert.ok(own.every((r) => r.status === ST_DONE));
      const got = await Promise.all(Array.from({ length: 5 }, (_, i) => op(pool, 0, OP_GET, 0, `k${i}`)));
      assert.deepEqual(
        got.map((r) => r.value),
        ['v0', 'v1', 'v2', 'v3', 'v4'],
        "each reply is its own request's",
      );
    } finally {
      await pool.stop();
    }
  });
});

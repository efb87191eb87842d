/**
 * The watch bench's CPU per thread (bench/lib/thread-stats.ts), read from /proc: a busy main
 * thread is counted as main, a busy worker thread as a worker (the busiest non-main thread), and
 * the process listening on a port is found. Skipped off Linux (no /proc).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { pidListeningOn, ThreadStats, threadTimes } from '../../bench/lib/thread-stats.js';

const linux = existsSync('/proc/self/task');

/** spinMain keeps the main thread busy for `s` seconds of its own CPU time (at most 10 s of wall time). */
function spinMain(s: number): void {
  const start = threadTimes(process.pid).get(process.pid)!;
  const deadline = performance.now() + 10000;
  let i = 0;
  while (performance.now() < deadline)
    if (++i % 100000 === 0 && threadTimes(process.pid).get(process.pid)! - start >= s) return;
}

// A worker that, for each message `ms`, stays busy for that much of the process's CPU time (the
// main thread waits meanwhile), at most 10 s of wall time.
const BUSY_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (ms) => {
  const start = process.cpuUsage();
  const deadline = performance.now() + 10000;
  for (let i = 0; performance.now() < deadline; i++) {
    if (i % 100000 !== 0) continue;
    const u = process.cpuUsage(start);
    if (u.user + u.system >= ms * 1000) break;
  }
  parentPort.postMessage('done');
});`;

describe('thread stats', { skip: linux ? false : 'no /proc here' }, () => {
  it('counts a busy main thread as main', () => {
    assert.ok(threadTimes(process.pid).has(process.pid), 'the main thread is listed under the process id');
    const stats = new ThreadStats(process.pid, 1);
    stats.begin();
    spinMain(0.3);
    const split = stats.end();
    assert.ok(split.main >= 0.29, JSON.stringify(split));
    assert.ok(
      Math.abs(split.total - (split.main + split.workers + split.other)) < 1e-9,
      JSON.stringify(split),
    );
  });

  it("keeps the first interval's busiest threads as the workers", async () => {
    const stats = new ThreadStats(process.pid, 1);
    const worker = new Worker(BUSY_WORKER, { eval: true });
    const busy = (ms: number): Promise<unknown> =>
      new Promise((resolve) => {
        worker.once('message', resolve);
        worker.postMessage(ms);
      });
    try {
      stats.begin();
      await busy(400);
      const first = stats.end();
      assert.ok(first.workers >= 0.3, `worker ${first.workers} s in ${JSON.stringify(first)}`);
      stats.begin();
      spinMain(0.3);
      const second = stats.end();
      assert.ok(second.main >= 0.29, JSON.stringify(second));
      assert.ok(second.workers < 0.1, `the idle worker: ${JSON.stringify(second)}`);
    } finally {
      await worker.terminate();
    }
  });

  it('finds the process listening on a port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      assert.equal(pidListeningOn(port), process.pid);
    } finally {
      server.close();
    }
  });
});

/**
 * What a starting node says of its commit log replay (src/storage/replay-progress.ts,
 * src/server/start-progress.ts): each worker reports its bytes read of its total at once, every
 * REPLAY_REPORT_MS and at the end; a time left only from a rate measured over ETA_AFTER_MS, and
 * the node's only when every worker has one (the longest), none once all are done: a client
 * (ioredis) waits as long as the node says, and asks again at once on a 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replayProgressOf } from '../../src/server/start-progress.js';
import {
  ETA_AFTER_MS,
  etaSeconds,
  REPLAY_REPORT_MS,
  type ReplayReport,
  ReplayProgress,
} from '../../src/storage/replay-progress.js';

const MIB = 1 << 20;

describe('ReplayProgress reports', () => {
  it('reports the first frame at once, then every REPLAY_REPORT_MS, then the end at the total', () => {
    const reports: ReplayReport[] = [];
    let t = 0;
    const p = new ReplayProgress(
      undefined,
      'log/w0',
      2000,
      () => t,
      (r) => reports.push(r),
    );
    p.frame(0, 100 * MIB);
    t = REPLAY_REPORT_MS - 1;
    p.frame(1 * MIB, 100 * MIB);
    assert.equal(reports.length, 1, 'one report within REPLAY_REPORT_MS');
    assert.deepEqual(reports[0], { bytes: 0, totalBytes: 100 * MIB, elapsedMs: 0, done: false });
    t = REPLAY_REPORT_MS;
    p.frame(2 * MIB, 100 * MIB);
    assert.equal(reports.length, 2);
    assert.equal(reports[1]!.etaSeconds, undefined, `no time left before ${ETA_AFTER_MS} ms of replay`);
    t = 2000;
    p.frame(25 * MIB, 100 * MIB);
    // 25 MiB in 2 s: 75 MiB left at that rate is 6 s.
    assert.deepEqual(reports.at(-1), {
      bytes: 25 * MIB,
      totalBytes: 100 * MIB,
      elapsedMs: 2000,
      etaSeconds: 6,
      done: false,
    });
    t = 8000;
    p.frame(99 * MIB, 100 * MIB);
    p.done();
    assert.deepEqual(reports.at(-1), {
      bytes: 100 * MIB,
      totalBytes: 100 * MIB,
      elapsedMs: 8000,
      done: true,
    });
  });

  it('gives a time left only from a measured rate, rounded up, and none when nothing is left', () => {
    assert.equal(etaSeconds(10, 100, ETA_AFTER_MS - 1), undefined);
    assert.equal(etaSeconds(0, 100, 5000), undefined);
    assert.equal(etaSeconds(100, 100, 5000), undefined);
    assert.equal(etaSeconds(50, 100, 1000), 1);
    assert.equal(etaSeconds(99, 100, 1000), 1, 'a little left is 1 s, never 0');
    assert.equal(etaSeconds(10, 100, 1000), 9);
  });
});

describe('a node of several workers', () => {
  const r = (bytes: number, totalBytes: number, etaSeconds?: number, done = false): ReplayReport => ({
    bytes,
    totalBytes,
    elapsedMs: 2000,
    ...(etaSeconds === undefined ? {} : { etaSeconds }),
    done,
  });

  it('sums the bytes and takes the longest time left of workers replaying side by side', () => {
    const p = replayProgressOf([r(10, 100, 4), r(50, 300, 9), r(20, 20, undefined, true)]);
    assert.deepEqual(p, {
      totalBytes: 420,
      loadedBytes: 80,
      percent: (100 * 80) / 420,
      elapsedMs: 2000,
      etaSeconds: 9,
      workers: 3,
      reported: 3,
      done: 1,
    });
  });

  it('has no time left while a worker has not reported or has no rate yet, nor once all are done', () => {
    assert.equal(replayProgressOf([r(10, 100, 4), undefined]).etaSeconds, undefined);
    assert.equal(replayProgressOf([r(10, 100, 4), r(1, 100)]).etaSeconds, undefined);
    const done = replayProgressOf([r(100, 100, undefined, true), r(0, 0, undefined, true)]);
    assert.equal(done.etaSeconds, undefined);
    assert.equal(done.percent, 100);
    assert.equal(replayProgressOf([undefined]).percent, 0);
  });
});

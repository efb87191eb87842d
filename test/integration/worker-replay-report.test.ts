/**
 * The workers' replay reports as the main thread keeps them (src/server/worker-pool.ts
 * `replayProgress`, src/server/start-progress.ts): once the workers are ready every one has
 * reported its replay done, with the bytes of its commit log read to the total; a worker without
 * a commit log (memory stores) reports 0 of 0, done, so the node's start reads 100%, not 0% for ever.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { WorkerPool } from '../../src/server/worker-pool.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const ENTRY = new URL('../../workers/shard-worker.js', import.meta.url);
const silent = pino({ level: 'silent' });

function specs(dir: string, n: number, engine: StoreSpec['engine']): StoreSpec[] {
  return Array.from({ length: n }, (_, i) => testStoreSpec(`${dir}/node/s${i}`, i, engine));
}

describe('WorkerPool replay progress', () => {
  for (const engine of ['lsm', 'memory'] as const)
    it(`has every worker's replay done once its ${engine} stores are open`, async () => {
      const dir = tempDir(after);
      const all = specs(dir, 2, engine);
      const pool = new WorkerPool([[all[0]!], [all[1]!]], ENTRY, silent, 'silent');
      assert.equal(pool.replayProgress().reported, 0, 'nothing before the workers start');
      await pool.start();
      try {
        const p = pool.replayProgress();
        assert.equal(p.workers, 2);
        assert.equal(p.reported, 2);
        assert.equal(p.done, 2);
        assert.equal(p.percent, 100);
        assert.equal(p.loadedBytes, p.totalBytes);
        assert.equal(p.etaSeconds, undefined);
        if (engine === 'memory') assert.equal(p.totalBytes, 0);
      } finally {
        await pool.stop();
      }
    });
});

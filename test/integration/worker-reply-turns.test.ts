/**
 * A shard worker's large replies reach the main thread a bounded amount per turn of its event loop
 * (src/server/reply-intake.ts, src/worker/reply-batch.ts "Flow"), with a real worker thread.
 *
 * Node hands the main thread every message queued on a worker's port in one turn. A main thread
 * that answers large replies more slowly than the worker reads them (a loaded machine, a stall)
 * found them all queued, and took them all in one turn: a pipelined window of MGETs of 1 MiB
 * values held every other connection for 600-700 ms. Now a turn takes about TURN_BYTES of them and
 * the worker holds the rest until the main thread acknowledges what it took.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { WorkerPool } from '../../src/server/worker-pool.js';
import { OP_GET, OP_PUT, ST_DONE, ST_VALUE } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const ENTRY = new URL('../../workers/shard-worker.js', import.meta.url);
const MIB = 1024 * 1024;
/** KEYS values of VALUE_BYTES, GETS reads of them in one batch (a window of MGETs of 1 MiB values). */
const KEYS = 4;
const VALUE_BYTES = MIB;
const GETS = 64;
/** STALL_MS: the main thread is busy this long right after sending the reads (the worker reads on). */
const STALL_MS = 1500;
/** SLOW_MS: each large reply costs the main thread this long (it answers slower than the worker reads). */
const SLOW_MS = 2;
/**
 * TURN_AT_MOST bounds the large reply bytes one turn takes: the intake's budget (TURN_BYTES, 2 MiB),
 * the batch that passes it, and another budget taken by the intake's own turn in the same check
 * phase as the probe's. Taking every queued message in one turn, a turn took most of the window
 * (up to 64 MiB).
 */
const TURN_AT_MOST = 6 * MIB;

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function put(pool: WorkerPool, key: string, value: Buffer): Promise<number> {
  return new Promise((resolve) => {
    pool.submit(0, OP_PUT, 0, key, value, {
      onReply: (status) => {
        resolve(status);
      },
    });
  });
}

describe('large replies of a worker thread', () => {
  it('are taken a few MiB per turn of the main thread, even when all were read before it took any', async (t) => {
    const pool = new WorkerPool(
      [[testStoreSpec(tempDir(after), 0, 'memory')]],
      ENTRY,
      pino({ level: 'silent' }),
      'silent',
    );
    await pool.start();
    try {
      for (let k = 0; k < KEYS; k++)
        assert.equal(await put(pool, `big-${k}`, Buffer.alloc(VALUE_BYTES, 97 + k)), ST_DONE);
      // The large reply bytes taken in each turn: a probe in the check phase ends a turn.
      let turn = 0;
      let worstTurn = 0;
      let worstTurnMs = 0;
      let turnStart = performance.now();
      let done = false;
      const probe = (): void => {
        worstTurn = Math.max(worstTurn, turn);
        worstTurnMs = Math.max(worstTurnMs, performance.now() - turnStart);
        turn = 0;
        turnStart = performance.now();
        if (!done) setImmediate(probe);
      };
      let answered = 0;
      const all = new Promise<void>((resolve, reject) => {
        for (let i = 0; i < GETS; i++) {
          pool.submit(0, OP_GET, 0, `big-${i % KEYS}`, undefined, {
            onReply: (status, _seq, value) => {
              if (status !== ST_VALUE || value.length !== VALUE_BYTES || value[0] !== 97 + (i % KEYS))
                reject(new Error(`GET ${i}: status ${status}, ${value.length} bytes`));
              turn += value.length;
              busy(SLOW_MS);
              if (++answered === GETS) resolve();
            },
          });
        }
      });
      // The reads leave at the end of this turn; the next one stalls while the worker reads them.
      await new Promise((resolve) => setImmediate(resolve));
      busy(STALL_MS);
      turnStart = performance.now();
      probe();
      await all;
      done = true;
      // The probe ends the turn that took the last reply in the check phase after it.
      await new Promise((resolve) => setImmediate(resolve));
      t.diagnostic(
        `largest turn: ${(worstTurn / MIB).toFixed(1)} MiB of replies, ${worstTurnMs.toFixed(0)} ms (at most ${TURN_AT_MOST / MIB} MiB expected)`,
      );
      assert.ok(
        worstTurn <= TURN_AT_MOST,
        `one turn of the main thread took ${(worstTurn / MIB).toFixed(1)} MiB of large replies ` +
          `(${worstTurnMs.toFixed(0)} ms): at most ${TURN_AT_MOST / MIB} MiB expected`,
      );
    } finally {
      await pool.stop();
    }
  });
});

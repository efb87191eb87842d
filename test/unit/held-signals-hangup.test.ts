/**
 * holdSignals holds SIGHUP with SIGINT and SIGTERM (a terminal closing while `distkv serve`
 * loads its modules): sent to this very process, a SIGHUP not held would end the test run.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { holdSignals } from '../../src/cli/held-signals.js';

describe('held signals', () => {
  it('holds a SIGHUP that comes while serve loads, and gives it to serve', async () => {
    const held = holdSignals();
    try {
      process.kill(process.pid, 'SIGHUP');
      // A signal is delivered on a later turn of the event loop.
      await sleep(200);
    } finally {
      assert.deepEqual(held.release(), ['SIGHUP']);
    }
  });
});

/**
 * Ctrl-C or SIGTERM while `distkv serve` opens its stores (a long WAL replay, a resync, or only
 * the first second) stops it as it does once it serves: the stores close, it exits 0, and the next
 * start finds a clean stop. It used to exit at once (130 or 143, the signal's default), before the
 * handlers were installed, and the next start said the last run "did not stop cleanly".
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { serveUntil } from '../helpers/serve-run.js';
import { writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv serve stopped while its stores open', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    it(`closes the stores and exits 0 on ${signal}, and the next start finds a clean stop`, async () => {
      const dir = tempDir(after);
      const [a, b] = await freePorts(2);
      const config = writeConfig(dir, [
        { address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] },
        { address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] },
      ]);
      const args = [
        '--config',
        config,
        '--data-dir',
        join(dir, 'data'),
        '--workers',
        '1',
        '--log-level',
        'info',
      ];
      // "starting distkv" is logged before the stores open (and before any port is bound).
      const first = await serveUntil(args, /"msg":"starting distkv"/, signal);
      assert.equal(first.signal, null, `killed by ${String(first.signal)}:\n${first.output}`);
      assert.equal(first.code, 0, first.output);
      assert.match(first.output, /stores closed; stopped/);
      const second = await serveUntil(args, /"msg":"serving on /, 'SIGTERM');
      assert.equal(second.code, 0, second.output);
      assert.doesNotMatch(second.output, /did not stop cleanly/);
    });
});

/**
 * SIGHUP (the terminal that ran `distkv serve` closed, an ssh session dropped, a `kill -HUP`)
 * stops a node as SIGTERM does: it drains, closes its stores and exits 0, and the next start
 * finds a clean stop. Node's default for SIGHUP, which serve left in place, ended the process at
 * once: no drain, no flush (writes acknowledged in a lossy durability mode lost) and "did not stop
 * cleanly" at the next start.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { serveUntil } from '../helpers/serve-run.js';
import { writeConfig } from '../helpers/server-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv serve on SIGHUP', () => {
  it('drains and closes its stores, exit 0, and the next start finds a clean stop', async () => {
    const dir = tempDir(after);
    const [a, b] = await freePorts(2);
    const config = writeConfig(dir, [{ address: `127.0.0.1:${a!}`, replicas: [`127.0.0.1:${b!}`] }]);
    const args = [
      '--config',
      config,
      '--data-dir',
      join(dir, 'data'),
      '--workers',
      '1',
      '--durability',
      'interval',
    ];
    const first = await serveUntil(args, /"msg":"serving on /, 'SIGHUP');
    assert.equal(first.signal, null, `killed by ${String(first.signal)}:\n${first.output}`);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /"signal":"SIGHUP","msg":"shutting down"/);
    assert.match(first.output, /stores closed; stopped/);
    const second = await serveUntil(args, /"msg":"serving on /, 'SIGTERM');
    assert.equal(second.code, 0, second.output);
    assert.doesNotMatch(second.output, /did not stop cleanly/);
  });
});

/**
 * `distkv bench --duration 0` said "give --duration S or --requests N", as if no duration had been
 * given. It now says the duration must be positive (exit 2, before any load); --duration 0 with
 * --requests N still runs by count (0 caps nothing). The target is a port nothing listens on: a
 * refusal sends nothing; each run is cut after 60 s.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT } from '../helpers/server-process.js';

describe('distkv bench --duration 0', () => {
  it('says the duration must be positive, not to give one', async () => {
    const [port] = await freePorts(1);
    for (const duration of ['0', '0.0']) {
      const r = spawnSync(
        process.execPath,
        [BIN, 'bench', '--url', `127.0.0.1:${port!}`, '--no-preload', '--duration', duration],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '' },
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.equal(
        r.stderr.split('\n')[0],
        `distkv bench: --duration must be positive (the seconds to measure), got "${duration}"; or give --requests N to measure N requests`,
      );
    }
  });
});

/**
 * `distkv load` as a command: it holds the data directory's LOCK while it loads, so it refuses a
 * directory a live process holds, it marks the directory's FORMAT as serve does, and it opens FILE
 * before touching any store.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { load } from '../../src/cli/load.js';
import { DataDirLockedError, DistkvError } from '../../src/errors.js';
import { DataDirLock, LOCK_FILE } from '../../src/server/data-dir-lock.js';
import { checkDataFormat } from '../../src/server/data-format.js';
import { RUNNING_FILE } from '../../src/server/run-marker.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

/** setup writes a one-shard config on a free loopback port and an input file; returns the paths. */
async function setup(): Promise<{ config: string; data: string; input: string; store: string }> {
  const dir = tempDir(after);
  const port = await freePort();
  const config = join(dir, 'c.toml');
  writeFileSync(config, `[[shards]]\nname = "s0"\nidx = 0\naddress = "127.0.0.1:${port}"\n`);
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, '{"key":"a","value":"1"}\n');
  const data = join(dir, 'data');
  return { config, data, input, store: join(data, `127.0.0.1_${port}`, 's0') };
}

describe('distkv load', () => {
  it('refuses a data directory whose LOCK a live process holds, touching no store', async () => {
    const { config, data, input, store } = await setup();
    const held = DataDirLock.acquire(data);
    try {
      await assert.rejects(load([input, '--config', config, '--data-dir', data]), DataDirLockedError);
    } finally {
      held.release();
    }
    assert.equal(existsSync(store), false);
  });

  it('refuses a data directory whose last serve stopped uncleanly in a lossy mode, touching no store', async () => {
    const { config, data, input, store } = await setup();
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, RUNNING_FILE), '{"pid":1,"durability":"interval"}\n');
    await assert.rejects(load([input, '--config', config, '--data-dir', data]), {
      code: 'BULK_LOAD_REFUSED',
    });
    assert.equal(existsSync(store), false);
    // After fsync, nothing a replica holds can be missing from the logs: the load goes ahead.
    writeFileSync(join(data, RUNNING_FILE), '{"pid":1,"durability":"fsync"}\n');
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
  });

  it('loads, then gives the LOCK back', async () => {
    const { config, data, input } = await setup();
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
    assert.equal(existsSync(join(data, LOCK_FILE)), false);
  });

  it('marks the data directory FORMAT, so serve takes the loaded stores for CRC16-placed ones', async () => {
    const { config, data, input, store } = await setup();
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
    assert.doesNotThrow(() => {
      checkDataFormat(data, [store]);
    });
  });

  it('refuses stores that hold data saying how to add keys to them from the command line', async () => {
    const { config, data, input } = await setup();
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
    // The refusal used to end "use PUT or POST /kv/_batch": HTTP only, to a user of the CLI.
    await assert.rejects(load([input, '--config', config, '--data-dir', data]), (err: unknown) => {
      assert.ok(err instanceof DistkvError && err.code === 'BULK_LOAD_REFUSED', String(err));
      assert.match(err.message, /nothing was loaded: the stores are as they were\. To add keys/);
      assert.match(err.message, /start distkv serve and write them through it: distkv set/);
      assert.match(err.message, /distkv restore --force/);
      assert.match(err.message, /to start over, load into an empty --data-dir$/);
      return true;
    });
  });

  it('reports a missing FILE as a usage mistake before touching any store', async () => {
    const { config, data, store } = await setup();
    const missing = join(data, 'missing.jsonl');
    await assert.rejects(
      load([missing, '--config', config, '--data-dir', data]),
      (err: unknown) =>
        err instanceof UsageError && err.message === `cannot read ${missing}: no such file or directory`,
    );
    assert.equal(existsSync(store), false);
  });
});

/**
 * `distkv load DIR`: a directory given as FILE (a tab-completed path one level short). open()
 * succeeds on a directory, so the load went on: it took the LOCK, opened every store and wrote
 * its LOADING marker, then the first read failed with a bare "EISDIR: illegal operation on a
 * directory, read" (exit 1, not 2 for a file mistake as everywhere else). The markers stayed, so
 * `distkv serve` then refused every store of the fresh data directory ("holds a bulk load that did
 * not finish: run the same distkv load again"), which fails the same way.
 *
 * Expected: a usage mistake naming the file (exit 2), as a missing FILE is, before any store is
 * touched (test/unit/load-command.test.ts "reports a missing FILE ...").
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { load } from '../../src/cli/load.js';
import { LOADING_MARKER } from '../../src/storage/bulk-load-marker.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

async function setup(): Promise<{ config: string; data: string; inputDir: string; store: string }> {
  const dir = tempDir(after);
  const port = await freePort();
  const config = join(dir, 'c.toml');
  writeFileSync(config, `[[shards]]\nname = "s0"\nidx = 0\naddress = "127.0.0.1:${port}"\n`);
  const inputDir = join(dir, 'exports');
  mkdirSync(inputDir);
  writeFileSync(join(inputDir, 'keys.jsonl'), '{"key":"a","value":"1"}\n');
  const data = join(dir, 'data');
  return { config, data, inputDir, store: join(data, `127.0.0.1_${port}`, 's0') };
}

describe('distkv load given a directory as FILE', () => {
  it('is a usage mistake naming it (exit 2)', async () => {
    const { config, data, inputDir } = await setup();
    await assert.rejects(load([inputDir, '--config', config, '--data-dir', data]), (err: unknown) => {
      assert.ok(err instanceof UsageError, `${String(err)} (not a UsageError: exit 1)`);
      assert.match(err.message, /directory/);
      return true;
    });
  });

  it('leaves no store marked as an unfinished load, so serve still starts on the data directory', async () => {
    const { config, data, inputDir, store } = await setup();
    await load([inputDir, '--config', config, '--data-dir', data]).catch(() => 0);
    assert.equal(
      existsSync(join(store, LOADING_MARKER)),
      false,
      `${store} holds a LOADING marker: serve refuses it (BULK_LOAD_REFUSED) though nothing was ever loaded`,
    );
  });
});
